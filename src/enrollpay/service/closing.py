"""Ending an enrollment: the one rule for every way it ends.

An administrator's cancellation (:mod:`.cancel`), the gateway ending its
subscription (:mod:`.webhooks`) and the last retry failing under the
``cancel`` final-failure policy (:mod:`.settlement`) all close it here.
"""

from __future__ import annotations

from datetime import datetime

from enrollpay.domain import transitions
from enrollpay.domain.records import Enrollment
from enrollpay.domain.statuses import TERMINAL_ITEM_STATUSES
from enrollpay.ports import StoreTransaction
from enrollpay.service.attempts import in_flight
from enrollpay.service.context import Context

__all__ = ["close_enrollment"]


def close_enrollment(
    ctx: Context, tx: StoreTransaction, enrollment: Enrollment, *, reason: str | None, at: datetime
) -> tuple[Enrollment, int]:
    """Cancel an enrollment and every open item not being charged; return it and the count.

    An item whose charge is in flight is left open: the charge's outcome
    cancels it when it fails (see ``settlement``), or keeps the money on the
    books when it succeeds. The one rule for every way an enrollment ends
    (an administrator's cancellation, the gateway ending a subscription).
    """
    cancelled = 0
    for item in tx.items_of(enrollment.id):
        if item.status in TERMINAL_ITEM_STATUSES or in_flight(ctx, tx, item):
            continue
        ctx.save_item(tx, transitions.cancel_item(item, at=at))
        cancelled += 1
    change = transitions.cancel_enrollment(
        enrollment,
        reason=reason,
        at=at,
        on=ctx.today(at),
        past_due_access=ctx.config.past_due_access,
    )
    return ctx.save_enrollment(tx, change), cancelled
