"""Locked lookups the admin use cases share: a missing record is a typed error."""

from __future__ import annotations

from enrollpay.domain.records import Enrollment, ScheduleItem
from enrollpay.errors import EnrollmentNotFoundError, ScheduleItemNotFoundError
from enrollpay.ports import StoreTransaction
from enrollpay.service.context import Context

__all__ = ["locked_enrollment", "locked_item"]


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
