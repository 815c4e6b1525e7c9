"""Recording cash, checks and bank transfers against a schedule item."""

from __future__ import annotations

import contextlib
import logging

from enrollpay.domain import transitions
from enrollpay.domain.lifecycle import TERMINAL_ITEM_STATUSES, EnrollmentStatus
from enrollpay.domain.money import Money
from enrollpay.domain.records import ManualMethod, Payment
from enrollpay.errors import InvalidInputError, ItemNotPayableError, OverpaymentError
from enrollpay.service.attempts import in_flight
from enrollpay.service.base import MAX_TEXT, check_money, check_text
from enrollpay.service.checkout import cancel_open_checkout, open_checkout
from enrollpay.service.context import Context
from enrollpay.service.lookups import locked_enrollment, locked_item

__all__ = ["MANUAL_METHODS", "record_manual_payment"]

logger = logging.getLogger(__name__)

MANUAL_METHODS: frozenset[str] = frozenset({"cash", "check", "bank_transfer", "other"})


class _DryRunDone(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised at the end of a dry run so its transaction rolls back."""


def record_manual_payment(
    ctx: Context,
    item_id: str,
    *,
    method: ManualMethod,
    actor: str,
    reference: str | None = None,
    notes: str | None = None,
    amount: Money | None = None,
) -> Payment:
    """Record cash, a check or a bank transfer against a schedule item."""
    args = (item_id, method, actor, reference, notes, amount)
    if open_checkout(ctx, item_id) is not None:
        with contextlib.suppress(_DryRunDone):
            _record_manual(ctx, *args, dry_run=True)  # refusals raise, nothing is kept
        cancel_open_checkout(ctx, item_id, actor=actor)
    return _record_manual(ctx, *args, dry_run=False)


def _record_manual(  # noqa: PLR0917 - private twin of the keyword-only public method
    ctx: Context,
    item_id: str,
    method: ManualMethod,
    actor: str,
    reference: str | None,
    notes: str | None,
    amount: Money | None,
    *,
    dry_run: bool,
) -> Payment:
    ctx.authorize(actor, "record_manual_payment", item_id)
    if method not in MANUAL_METHODS:
        raise InvalidInputError(f"method must be one of {sorted(MANUAL_METHODS)}, got {method!r}")
    check_text(reference, "reference", limit=MAX_TEXT, required=False)
    check_text(notes, "notes", limit=MAX_TEXT * 4, required=False)
    now = ctx.now()
    with ctx.unit() as tx:
        item = locked_item(ctx, tx, item_id)
        enrollment = locked_enrollment(ctx, tx, item.enrollment_id)
        if enrollment.status == EnrollmentStatus.CANCELLED:
            raise ItemNotPayableError(item_id, "cancelled")
        if item.status in TERMINAL_ITEM_STATUSES:
            raise ItemNotPayableError(item_id, item.status)
        if in_flight(ctx, tx, item):
            raise ItemNotPayableError(item_id, "being charged")
        paying = (
            item.outstanding
            if amount is None
            else check_money(amount, "amount", currency=item.amount.currency)
        )
        if paying > item.outstanding:
            raise OverpaymentError(paying, item.outstanding)
        payment = Payment(
            id=ctx.new_id("pay"),
            enrollment_id=enrollment.id,
            item_id=item_id,
            amount=paying,
            method=method,
            received_at=now,
            reference=reference,
            notes=notes,
            actor=actor,
        )
        ctx.record_payment(tx, payment)
        ctx.save_item(tx, transitions.receive_on_item(item, amount=paying, at=now))
        ctx.audit(
            tx,
            actor=actor,
            action="payment.manual_recorded",
            entity_type="schedule_item",
            entity_id=item_id,
            data={
                "payment_id": payment.id,
                "method": method,
                "amount": paying,
                "reference": reference,
            },
        )
        ctx.refresh_enrollment(tx, enrollment.id, actor=actor)
        if dry_run:
            raise _DryRunDone  # every check passed; roll the writes back
    logger.info(
        "manual payment %s (%s, %s) recorded by %s for item %s",
        payment.id,
        method,
        paying,
        actor,
        item_id,
    )
    return payment
