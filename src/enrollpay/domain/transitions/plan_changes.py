"""The transitions of a plan change: items superseded, the enrollment on its new plan.

A :class:`~enrollpay.domain.plan_change.PlanChange` decides what moves;
these apply it through the machines: each open item it removes takes the
item transition ``supersede`` (to ``superseded``, no event of its own), and
the enrollment takes ``change_plan`` (its status kept; the derived status
follows with ``sync_enrollment``), which emits ``schedule.changed`` with the
change's summary. The new items are made in their initial state
(``scheduled``) in the new schedule version.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import attrs

from enrollpay.domain.events import EventDraft
from enrollpay.domain.machine import Change
from enrollpay.domain.plan_change import PlanChange
from enrollpay.domain.records import Enrollment, ScheduleItem
from enrollpay.domain.transitions.items import new_item
from enrollpay.domain.transitions.table import ENROLLMENT, ITEM
from enrollpay.errors import InvalidInputError

__all__ = ["apply_plan_change", "supersede_item"]


def supersede_item(item: ScheduleItem, *, at: datetime) -> Change[ScheduleItem]:
    """A plan change replaced the item: what it owed moved to the next schedule version."""
    status = ITEM.target_for(item.id, "supersede", item.status)
    record = attrs.evolve(
        item, status=status, updated_at=at, next_attempt_at=None, lease_until=None
    )
    return Change(record)


def apply_plan_change(
    enrollment: Enrollment,
    change: PlanChange,
    *,
    new_id: Callable[[], str],
    at: datetime,
) -> tuple[Change[Enrollment], tuple[ScheduleItem, ...], tuple[ScheduleItem, ...]]:
    """The enrollment on its new plan, the superseded items, and the new ones.

    ``new_id`` names each new item. The enrollment's change carries
    ``schedule.changed`` (data: :meth:`PlanChange.summary`).
    """
    if change.enrollment_id != enrollment.id:
        raise InvalidInputError(
            f"the plan change is for {change.enrollment_id!r}, not {enrollment.id!r}"
        )
    status = ENROLLMENT.target_for(enrollment.id, "change_plan", enrollment.status)
    record = attrs.evolve(enrollment, status=status, plan=change.plan_after, updated_at=at)
    event = EventDraft("schedule.changed", enrollment.id, at, change.summary())
    superseded = tuple(supersede_item(item, at=at).record for item in change.removed)
    added = tuple(
        new_item(
            item_id=new_id(),
            enrollment_id=enrollment.id,
            line=line,
            at=at,
            version=change.new_version,
        )
        for line in change.added
    )
    return Change(record, (event,)), superseded, added
