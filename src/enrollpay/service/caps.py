"""Card-network retry caps in collection: a reattempt past its card's cap is not sent.

:func:`~enrollpay.service.charge.collect_item` asks :func:`hold_capped_retry`
before it writes an off-session attempt that retries a decline on the same
payment method (:func:`~enrollpay.domain.retry_caps.is_reattempt`). The
caps are the retry policy's, keyed by the brand the gateway reported with
the item's earlier decline; the reattempts counted are those on the payer's
payment method across all their enrollments, read under a hold on the
method so that two workers cannot both take the last place. Whoever asked (collection or the
payer's ``retry_now``), nothing goes to the gateway until the card is within
its caps again.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from enrollpay.domain import transitions
from enrollpay.domain.lifecycle import ItemStatus
from enrollpay.domain.records import PaymentAttempt, ScheduleItem
from enrollpay.domain.retry_caps import capped_retry_at, card_brand_of
from enrollpay.ports import StoreTransaction
from enrollpay.service.context import Context
from enrollpay.service.results import ItemOutcome

__all__ = ["hold_capped_retry"]


def hold_capped_retry(
    ctx: Context,
    tx: StoreTransaction,
    item: ScheduleItem,
    attempts: Sequence[PaymentAttempt],
    *,
    user_id: str,
    payment_method_id: str,
    automatic: bool,
) -> ItemOutcome | None:
    """``None``: the reattempt keeps within its card's caps, charge it. Else it is held back.

    ``item`` is leased by the caller and its enrollment locked; ``attempts``
    are its attempts so far, ``payment_method_id`` the card of ``user_id``
    it would be charged on. An item in its retry cycle (``failed``) has its
    retry moved to the first moment the card is within every cap again
    (``payment.retry_capped``, an audit entry). Any other item (a payer's
    request for a defaulted one, a rescheduled one) keeps its status; a
    payer's request gives its lease back, collection's lease runs out, so
    the next run after it asks again.
    """
    brand = card_brand_of(attempts, payment_method_id)
    caps = ctx.config.retry_policy.caps_for(brand)
    if brand is None or not caps:
        return None
    now = ctx.now()
    since = now - max(c.window for c in caps)
    retried = tx.reattempts_on(user_id, payment_method_id, since=since)
    retry_at = capped_retry_at(caps, retried, now)
    if retry_at == now:
        return None
    if item.status == ItemStatus.FAILED:
        change = transitions.defer_retry(item, retry_at=retry_at, card_brand=brand, at=now)
        ctx.save_item(tx, change)
        ctx.audit(
            tx,
            actor="system",
            action="payment.retry_capped",
            entity_type="schedule_item",
            entity_id=item.id,
            data={"card_brand": brand, "reattempts": len(retried), "retry_at": retry_at},
        )
    elif not automatic:
        tx.update_item(attrs.evolve(item, lease_until=None))
    return ItemOutcome(item.id, "capped", retry_at=retry_at)
