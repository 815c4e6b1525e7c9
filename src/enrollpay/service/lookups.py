"""Lookups the use cases share.

Locked ones (a missing record is a typed error), and whether an event
about a payment came before the payment itself.
"""

from __future__ import annotations

from enrollpay.domain.records import Enrollment, ScheduleItem
from enrollpay.errors import EnrollmentNotFoundError, ScheduleItemNotFoundError
from enrollpay.ports import StoreTransaction
from enrollpay.service.context import Context

__all__ = ["locked_enrollment", "locked_item", "payment_not_yet_recorded"]


def locked_enrollment(ctx: Context, tx: StoreTransaction, enrollment_id: str) -> Enrollment:
    """The enrollment, locked for writing (``EnrollmentNotFoundError`` if there is none)."""
    locked = tx.lock_enrollment(enrollment_id)
    if locked is None:
        raise EnrollmentNotFoundError(enrollment_id)
    return locked.enrollment


def locked_item(ctx: Context, tx: StoreTransaction, item_id: str) -> ScheduleItem:
    """The item, its enrollment locked (``ScheduleItemNotFoundError`` if none)."""
    item = ctx.lock_item(tx, item_id)
    if item is None:
        raise ScheduleItemNotFoundError(item_id)
    return item


def payment_not_yet_recorded(tx: StoreTransaction, gateway_payment_id: str | None) -> bool:
    """Whether a gateway payment is one of our attempts whose success is not recorded yet.

    An event about such a payment (a refund or a dispute of it) can only
    exist once the payment succeeded at the gateway, so its own success
    event is still on the way: delivered out of order, or by another
    process that has not committed. The caller defers the event (the
    gateway redelivers it) instead of dropping it.
    """
    if gateway_payment_id is None:
        return False
    return tx.find_attempt_by_gateway_id(gateway_payment_id) is not None
