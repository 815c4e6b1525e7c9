"""``replace_open_items`` for every store, in terms of the write port's own item verbs.

Memory and SQL share it: it checks the replacement as a whole before it
writes anything, then stores the superseded items and inserts the new ones
through the store's ``update_item`` and ``add_items``, so each store keeps
its own locking and duplicate rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from enrollpay.domain.records import ScheduleItem
from enrollpay.domain.statuses import ItemStatus
from enrollpay.errors import DuplicateError, InvalidInputError

__all__ = ["replace_open_items"]


class _ItemWrites(Protocol):
    def items_of(self, enrollment_id: str) -> list[ScheduleItem]: ...
    def update_item(self, item: ScheduleItem) -> None: ...
    def add_items(self, items: Sequence[ScheduleItem]) -> None: ...


def replace_open_items(
    tx: _ItemWrites,
    enrollment_id: str,
    superseded: Sequence[ScheduleItem],
    added: Sequence[ScheduleItem],
) -> None:
    """See :meth:`~enrollpay.ports.schedules.ScheduleRevisions.replace_open_items`."""
    stored = {item.id: item for item in tx.items_of(enrollment_id)}
    if not stored:
        raise InvalidInputError(f"enrollment {enrollment_id!r} has no schedule to replace")
    newest = max(item.schedule_version for item in stored.values())
    taken = {item.seq for item in stored.values()}
    for item in superseded:
        if item.enrollment_id != enrollment_id or item.id not in stored:
            raise InvalidInputError(f"item {item.id!r} is not one of {enrollment_id!r}")
        if item.status != ItemStatus.SUPERSEDED:
            raise InvalidInputError(f"item {item.id!r} is {item.status}, not superseded")
    for item in added:
        if item.enrollment_id != enrollment_id:
            raise InvalidInputError(f"item {item.id!r} is not one of {enrollment_id!r}")
        if item.status != ItemStatus.SCHEDULED or item.schedule_version != newest + 1:
            raise InvalidInputError(
                f"item {item.id!r} must be scheduled in version {newest + 1}, "
                f"not {item.status} in version {item.schedule_version}"
            )
        if item.id in stored:
            raise DuplicateError("schedule item id", item.id)
        if item.seq in taken:
            raise DuplicateError("schedule item", (enrollment_id, item.seq))
        taken.add(item.seq)
    for item in superseded:
        tx.update_item(item)
    tx.add_items(added)
