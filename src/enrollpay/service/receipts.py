"""Issuing receipts and credit notes, inside the unit of work that moves the money.

:meth:`Context.record_payment <enrollpay.service.context.Context.record_payment>`
stores every payment (gateway or manual) with its receipt, and
:meth:`Context.emit <enrollpay.service.context.Context.emit>` issues a
credit note whenever a refund is done (its ``refund.issued`` event): those
two are the only calls into this module, so whatever path records a
payment or completes a refund (a charge's answer, a webhook, reconcile,
drift re-sync, an administrator) gets its receipt the same way.

The number is taken from the store's counter in the caller's transaction
(after it locked the enrollment), so it commits or rolls back with the
payment: the series has no gaps. A receipt's id is its payment's (or, for a
credit note, its refund's) with ``rcp_`` in front: one receipt per payment
and per refund, and no id taken from the system's id factory, so issuing
receipts leaves the ids of everything else as they were.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from enrollpay.domain.receipts import Receipt, credit_note, issued_event, payment_receipt
from enrollpay.domain.records import Enrollment, Payment, Product, ScheduleItem
from enrollpay.ports import StoreTransaction
from enrollpay.service.taxes import payment_tax, refund_tax

if TYPE_CHECKING:
    from enrollpay.service.context import Context

__all__ = ["issue_credit_note", "issue_receipt"]


def _enrollment_and_product(tx: StoreTransaction, enrollment_id: str) -> tuple[Enrollment, Product]:
    enrollment = tx.get_enrollment(enrollment_id)
    assert enrollment is not None  # noqa: S101 - payments belong to enrollments
    product = tx.get_product(enrollment.product_id)
    assert product is not None  # noqa: S101 - enrollments belong to products
    return enrollment, product


def _payer(tx: StoreTransaction, item: ScheduleItem | None) -> tuple[str, str] | None:
    """The payer who owes ``item`` (id, name); None when the student does."""
    if item is None or item.payer_id is None:
        return None
    payer = tx.get_payer(item.payer_id)
    return None if payer is None else (payer.id, payer.name)


def _keep(ctx: Context, tx: StoreTransaction, receipt: Receipt) -> Receipt:
    tx.add_receipt(receipt)
    if ctx.config.receipts.announce:
        tx.add_events([issued_event(receipt).stamp(ctx.new_id("evt"))])
    return receipt


def issue_receipt(ctx: Context, tx: StoreTransaction, payment: Payment) -> Receipt:
    """Number and store the receipt of ``payment``, recorded in this same transaction."""
    settings = ctx.config.receipts
    item = tx.get_item(payment.item_id)
    assert item is not None  # noqa: S101 - payments are for items
    enrollment, product = _enrollment_and_product(tx, payment.enrollment_id)
    receipt = payment_receipt(
        receipt_id=f"rcp_{payment.id}",
        settings=settings,
        sequence=tx.next_receipt_sequence(settings.issuer, "receipt"),
        payment=payment,
        item=item,
        user_id=enrollment.user_id,
        product_id=product.id,
        product_name=product.name,
        at=ctx.now(),
        tax=payment_tax(tx, payment, item),
        payer=_payer(tx, item),
    )
    return _keep(ctx, tx, receipt)


def issue_credit_note(ctx: Context, tx: StoreTransaction, refund_id: str) -> Receipt:
    """Number and store the credit note of a refund that was just done, in its transaction."""
    settings = ctx.config.receipts
    refund = tx.get_refund(refund_id)
    assert refund is not None  # noqa: S101 - the refund was stored before its event
    payment = tx.get_payment(refund.payment_id)
    assert payment is not None  # noqa: S101 - refunds are of recorded payments
    enrollment, product = _enrollment_and_product(tx, payment.enrollment_id)
    note = credit_note(
        receipt_id=f"rcp_{refund.id}",
        settings=settings,
        sequence=tx.next_receipt_sequence(settings.issuer, "credit_note"),
        refund=refund,
        payment=payment,
        original=tx.receipt_for_payment(payment.id),
        user_id=enrollment.user_id,
        product_id=product.id,
        product_name=product.name,
        at=ctx.now(),
        tax=refund_tax(tx, refund, payment),
        payer=_payer(tx, tx.get_item(payment.item_id)),
    )
    return _keep(ctx, tx, note)
