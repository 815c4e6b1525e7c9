"""An enrollment billed by a gateway subscription: linking it, recording what the gateway says.

Both moves keep the enrollment's status
(:data:`~enrollpay.domain.transitions.table.ENROLLMENT`'s
``link_subscription`` and ``record_subscription``). A recorded state then
counts in the derived status (a ``past_due`` subscription makes the
enrollment ``past_due``, an ``unpaid`` one ``suspended``); an ended
subscription is cancelled by the service, which also closes the items.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import attrs

from enrollpay.domain.events import EventDraft
from enrollpay.domain.machine import Change
from enrollpay.domain.records import Enrollment, ScheduleItem
from enrollpay.domain.statuses import AccessPolicy, EnrollmentStatus
from enrollpay.domain.subscriptions import SubscriptionState
from enrollpay.domain.transitions.enrollments import sync_enrollment
from enrollpay.domain.transitions.table import ENROLLMENT
from enrollpay.errors import IllegalTransitionError

__all__ = ["link_subscription", "record_subscription"]


def _when(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def subscription_data(state: SubscriptionState) -> dict[str, Any]:
    """The JSON-ready fields of a state, as ``subscription.updated`` carries them."""
    return {
        "status": state.status,
        "current_period_start": _when(state.current_period_start),
        "current_period_end": _when(state.current_period_end),
        "cancel_at_period_end": state.cancel_at_period_end,
        "trial_end": _when(state.trial_end),
        "as_of": state.as_of.isoformat(),
    }


def link_subscription(
    enrollment: Enrollment, *, subscription_id: str, at: datetime
) -> Change[Enrollment]:
    """A gateway subscription bills the enrollment from now (``subscription.created``).

    Linking the same subscription again changes nothing; a second,
    different one is refused (one enrollment, one subscription), as is a
    cancelled enrollment.
    """
    if enrollment.gateway_subscription_id == subscription_id:
        return Change(enrollment)
    ENROLLMENT.target_for(enrollment.id, "link_subscription", enrollment.status)
    if enrollment.gateway_subscription_id is not None:
        raise IllegalTransitionError(
            "enrollment",
            state=str(enrollment.status),
            transition="link_subscription",
            record_id=enrollment.id,
        )
    record = attrs.evolve(enrollment, gateway_subscription_id=subscription_id, updated_at=at)
    event = EventDraft(
        "subscription.created", enrollment.id, at, {"subscription_id": subscription_id}
    )
    return Change(record, (event,))


def record_subscription(
    enrollment: Enrollment,
    items: Iterable[ScheduleItem],
    state: SubscriptionState,
    *,
    today: date,
    at: datetime,
    past_due_access: bool = True,
    access: AccessPolicy | None = None,
) -> Change[Enrollment]:
    """Keep ``state`` if it is newer than what is known; the status follows.

    A report that does not supersede the stored one (older, or the same
    again) changes nothing and emits nothing, so webhooks applied in any
    order, any number of times, end in the state of the newest report.
    Otherwise ``subscription.updated`` is emitted and the enrollment moves
    to the status its items and the subscription imply (see
    :func:`~enrollpay.domain.transitions.sync_enrollment`); a completed
    enrollment keeps its status.
    """
    if not state.supersedes(enrollment.subscription):
        return Change(enrollment)
    ENROLLMENT.target_for(enrollment.id, "record_subscription", enrollment.status)
    record = attrs.evolve(enrollment, subscription=state, updated_at=at)
    data = {"subscription_id": enrollment.gateway_subscription_id, **subscription_data(state)}
    updated = EventDraft("subscription.updated", enrollment.id, at, data)
    if record.status == EnrollmentStatus.COMPLETED:
        return Change(record, (updated,))  # every item is settled: nothing more to derive
    synced = sync_enrollment(
        record,
        items,
        today=today,
        at=at,
        past_due_access=past_due_access,
        access=access,
        told={"subscription_status": state.status},
    )
    return Change(synced.record, (updated, *synced.events))
