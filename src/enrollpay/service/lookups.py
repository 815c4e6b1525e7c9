"""Locked lookups the admin use cases share: a missing record is a typed error."""

from __future__ import annotations

from enrollpay.domain.records import Enrollment, ScheduleItem
from enrollpay.errors import EnrollmentNotFoundError, ScheduleItemNotFoundError
from enrollpay.ports import StoreTransaction
from enrollpay.service.context import Context

__all__ = ["locked_enrollment", "locked_item"]


def locked_enrollment(ctx: Context, tx: StoreTransaction, enrollment_id: str) -> Enrollment:
    """The enrollment, locked for writing (``EnrollmentNotFoundError`` if there is none)."""
    enrollment = tx.get_enrollment(enrollment_id, for_update=True)
    if enrollment is None:
        raise EnrollmentNotFoundError(enrollment_id)
    return enrollment


def locked_item(ctx: Context, tx: StoreTransaction, item_id: str) -> ScheduleItem:
    """The item, locked in the one lock order (``ScheduleItemNotFoundError`` if none)."""
    item = ctx.lock_item(tx, item_id)
    if item is None:
        raise ScheduleItemNotFoundError(item_id)
    return item
