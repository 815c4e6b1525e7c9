"""Transitions of an enrollment (:data:`~enrollpay.domain.transitions.table.ENROLLMENT`).

An enrollment's status follows from its items
(:func:`~enrollpay.domain.lifecycle.derive_enrollment_status`) except for
the explicit ``paused`` and ``cancelled``, and a dispute that withholds
access keeps it ``suspended`` (``dispute_hold``). Every change emits
``enrollment.<status>`` and, when the student's access changes, one of
``access.granted`` (the first time), ``access.restored``,
``access.suspended`` or ``access.revoked`` (cancellation).

A trial that collects a card opens ``awaiting_payment_method``: it stays
``pending_payment`` until the card is saved (:func:`save_payment_method`),
then the status its items imply (``active`` during the trial) follows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import attrs

from enrollpay.domain.events import EventDraft
from enrollpay.domain.machine import Change
from enrollpay.domain.money import Money
from enrollpay.domain.plans import PaymentPlan, Subscription
from enrollpay.domain.records import Enrollment, ScheduleItem
from enrollpay.domain.statuses import (
    AccessPolicy,
    EnrollmentStatus,
    ItemState,
    derive_enrollment_status,
    has_access,
)
from enrollpay.domain.transitions.table import ENROLLMENT
from enrollpay.errors import IllegalTransitionError

__all__ = [
    "cancel_enrollment",
    "default_enrollment",
    "hold_for_dispute",
    "open_enrollment",
    "pause_enrollment",
    "resume_enrollment",
    "save_payment_method",
    "sync_enrollment",
]

_E = EnrollmentStatus

#: The event each status is announced with.
_ANNOUNCED: Mapping[EnrollmentStatus, str] = {
    _E.ACTIVE: "enrollment.activated",
    _E.PENDING_PAYMENT: "enrollment.pending_payment",
    _E.PAST_DUE: "enrollment.past_due",
    _E.SUSPENDED: "enrollment.suspended",
    _E.PAUSED: "enrollment.paused",
    _E.COMPLETED: "enrollment.completed",
    _E.CANCELLED: "enrollment.cancelled",
    _E.DEFAULTED: "enrollment.defaulted",
}
#: The transition that leads to a derived status (``active``: see ``_to_active``).
_SYNC_MOVES: Mapping[EnrollmentStatus, str] = {
    _E.PENDING_PAYMENT: "await_payment",
    _E.PAST_DUE: "fall_past_due",
    _E.SUSPENDED: "suspend",
    _E.COMPLETED: "complete",
}


def _derived(
    plan: PaymentPlan,
    items: Iterable[ScheduleItem],
    *,
    today: date,
    access: AccessPolicy | None,
    awaiting: bool = False,
    of: Enrollment | None = None,
    debit_hold: bool = False,
) -> EnrollmentStatus:
    billed = None if of is None else of.subscription
    return derive_enrollment_status(
        (ItemState(i.status, i.due) for i in items),
        today=today,
        open_ended=isinstance(plan, Subscription) and plan.cycles is None,
        access=access,
        awaiting_payment_method=awaiting,
        held=(of is not None and of.dispute_hold) or debit_hold,
        billing=None if billed is None else billed.status,
    )


def _access_events(
    enrollment_id: str,
    before: EnrollmentStatus | None,
    after: EnrollmentStatus,
    *,
    granted_before: bool,
    at: datetime,
    past_due_access: bool,
) -> tuple[EventDraft, ...]:
    """``access.*`` when access flips: granted the first time, restored after that."""
    had = before is not None and has_access(before, past_due_access=past_due_access)
    has = has_access(after, past_due_access=past_due_access)
    if had == has:
        return ()
    if has:
        kind = "access.restored" if granted_before else "access.granted"
    else:
        kind = "access.revoked" if after == _E.CANCELLED else "access.suspended"
    return (EventDraft(kind, enrollment_id, at, {"status": str(after)}),)


def _first_access(record: Enrollment, *, at: datetime, past_due_access: bool) -> Enrollment:
    """Note when access was first given (once)."""
    if record.access_granted_at is None and has_access(
        record.status, past_due_access=past_due_access
    ):
        return attrs.evolve(record, access_granted_at=at)
    return record


def _move(
    enrollment: Enrollment,
    name: str,
    *,
    at: datetime,
    past_due_access: bool,
    wanted: EnrollmentStatus | None = None,
    told: Mapping[str, Any] | None = None,
    **changes: Any,
) -> Change[Enrollment]:
    before = enrollment.status
    after = ENROLLMENT.target_for(enrollment.id, name, before, wanted)
    # The first access noted in the same evolve (one copy of the record, not two).
    granted = changes.get("access_granted_at", enrollment.access_granted_at)
    if granted is None and has_access(after, past_due_access=past_due_access):
        changes["access_granted_at"] = at
    record = attrs.evolve(enrollment, status=after, updated_at=at, **changes)
    kind = "enrollment.resumed" if name == "resume" else _ANNOUNCED[after]
    announced = EventDraft(
        kind, enrollment.id, at, {"from": str(before), "to": str(after), **(told or {})}
    )
    access = _access_events(
        enrollment.id,
        before,
        after,
        granted_before=enrollment.access_granted_at is not None,
        at=at,
        past_due_access=past_due_access,
    )
    return Change(record, (announced, *access))


def open_enrollment(
    *,
    enrollment_id: str,
    user_id: str,
    product_id: str,
    plan: PaymentPlan,
    price: Money,
    start_date: date,
    items: Iterable[ScheduleItem],
    today: date,
    at: datetime,
    metadata: Mapping[str, Any] | None = None,
    past_due_access: bool = True,
    access: AccessPolicy | None = None,
    awaiting_payment_method: bool = False,
) -> Change[Enrollment]:
    """A new enrollment in the status its items imply (``enrollment.created``).

    Nothing due yet (a trial, a later start) makes it active at once, with
    ``enrollment.activated`` and ``access.granted``, unless it is
    ``awaiting_payment_method`` (a trial that starts once a card is saved):
    then it is ``pending_payment`` until :func:`save_payment_method`.
    """
    status = _derived(plan, items, today=today, access=access, awaiting=awaiting_payment_method)
    if status not in ENROLLMENT.initial:
        raise IllegalTransitionError(
            "enrollment", state=str(status), transition="open", record_id=enrollment_id
        )
    record = Enrollment(
        id=enrollment_id,
        user_id=user_id,
        product_id=product_id,
        status=status,
        plan=plan,
        price=price,
        start_date=start_date,
        created_at=at,
        updated_at=at,
        metadata=metadata,
        awaiting_payment_method=awaiting_payment_method,
    )
    record = _first_access(record, at=at, past_due_access=past_due_access)
    created = EventDraft(
        "enrollment.created",
        enrollment_id,
        at,
        {"user_id": user_id, "product_id": product_id, "status": str(status)},
    )
    events: tuple[EventDraft, ...] = (created,)
    if status == _E.ACTIVE:
        events += (EventDraft("enrollment.activated", enrollment_id, at, {"to": "active"}),)
    events += _access_events(
        enrollment_id,
        None,
        status,
        granted_before=False,
        at=at,
        past_due_access=past_due_access,
    )
    return Change(record, events)


def sync_enrollment(
    enrollment: Enrollment,
    items: Iterable[ScheduleItem],
    *,
    today: date,
    at: datetime,
    past_due_access: bool = True,
    access: AccessPolicy | None = None,
    told: Mapping[str, Any] | None = None,
    debit_hold: bool = False,
) -> Change[Enrollment]:
    """Move the enrollment to the status its items imply, by the named transition.

    No change (and no event) when it is there already, or when it is paused or cancelled
    (explicit states the items do not override). A defaulted enrollment stays defaulted
    until its items say it is paid up (``active`` or ``completed``). ``told``: more data
    for the ``enrollment.*`` event; ``debit_hold``: a processing debit withholds access.
    """
    if enrollment.status in (_E.PAUSED, _E.CANCELLED):
        return Change(enrollment)
    target = _derived(
        enrollment.plan,
        items,
        today=today,
        access=access,
        awaiting=enrollment.awaiting_payment_method,
        of=enrollment,
        debit_hold=debit_hold,
    )
    if target == enrollment.status or (
        enrollment.status == _E.DEFAULTED and target not in (_E.ACTIVE, _E.COMPLETED)
    ):
        return Change(enrollment)
    if target == _E.ACTIVE:
        name = "activate" if enrollment.status == _E.PENDING_PAYMENT else "restore"
    else:
        name = _SYNC_MOVES[target]
    return _move(enrollment, name, at=at, past_due_access=past_due_access, told=told)


def hold_for_dispute(
    enrollment: Enrollment,
    items: Iterable[ScheduleItem],
    *,
    held: bool,
    today: date,
    at: datetime,
    past_due_access: bool = True,
    access: AccessPolicy | None = None,
) -> Change[Enrollment]:
    """A dispute starts (``held``) or stops withholding access; the status follows.

    The enrollment keeps ``dispute_hold`` and moves to the status its items
    imply with it (``suspended`` while held; ``enrollment.<status>`` and
    ``access.suspended`` / ``access.restored``, with ``dispute_hold`` in
    the data). A paused or cancelled enrollment only keeps the flag; a
    resume applies it. No change when the flag is already ``held``.
    """
    if enrollment.dispute_hold == held:
        return Change(enrollment)
    record = attrs.evolve(enrollment, dispute_hold=held, updated_at=at)
    return sync_enrollment(
        record,
        items,
        today=today,
        at=at,
        past_due_access=past_due_access,
        access=access,
        told={"dispute_hold": held},
    )


def save_payment_method(
    enrollment: Enrollment,
    items: Iterable[ScheduleItem],
    *,
    today: date,
    at: datetime,
    past_due_access: bool = True,
    access: AccessPolicy | None = None,
) -> Change[Enrollment]:
    """The payment method a trial waits for is saved: it stops waiting.

    ``save_payment_method`` keeps the status; the enrollment then moves to
    the status its items imply (:func:`sync_enrollment`): during the trial
    ``active``, with ``enrollment.activated`` and ``access.granted``; after
    the trial ended unpaid it stays ``pending_payment`` until the first
    charge clears. A paused enrollment stays paused (its resume derives the
    status). No change for an enrollment that waits for nothing, so a card
    saved twice (a webhook and the payer's own call) moves it once.
    """
    if not enrollment.awaiting_payment_method:
        return Change(enrollment)
    ENROLLMENT.target_for(enrollment.id, "save_payment_method", enrollment.status)
    waited = attrs.evolve(enrollment, awaiting_payment_method=False, updated_at=at)
    return sync_enrollment(
        waited, items, today=today, at=at, past_due_access=past_due_access, access=access
    )


def default_enrollment(
    enrollment: Enrollment, *, reason: str, at: datetime, past_due_access: bool = True
) -> Change[Enrollment]:
    """Put the enrollment in default (``enrollment.defaulted``, access withheld).

    What ``after_final_failure="default"`` does when an item's last retry
    fails. The enrollment keeps its items and what they owe; nothing is
    charged automatically, and it is restored once the arrears are paid.
    """
    return _move(
        enrollment, "default", at=at, past_due_access=past_due_access, told={"reason": reason}
    )


def pause_enrollment(
    enrollment: Enrollment, *, on: date, at: datetime, past_due_access: bool = True
) -> Change[Enrollment]:
    """Pause the enrollment from ``on`` (its items are paused separately)."""
    return _move(enrollment, "pause", at=at, past_due_access=past_due_access, paused_on=on)


def resume_enrollment(
    enrollment: Enrollment,
    items: Iterable[ScheduleItem],
    *,
    today: date,
    at: datetime,
    past_due_access: bool = True,
    access: AccessPolicy | None = None,
) -> Change[Enrollment]:
    """Resume a paused enrollment into the status its (resumed) items imply.

    The days of service this pause took are added to ``paused_days`` (they
    are not used days, and the service ends that much later);
    ``enrollment.resumed`` carries them as ``days`` and the new total as
    ``paused_days``.
    """
    target = _derived(
        enrollment.plan,
        items,
        today=today,
        access=access,
        awaiting=enrollment.awaiting_payment_method,
        of=enrollment,
    )
    total = enrollment.days_paused(today)
    return _move(
        enrollment,
        "resume",
        at=at,
        past_due_access=past_due_access,
        wanted=target,
        told={"days": total - enrollment.paused_days, "paused_days": total},
        paused_on=None,
        paused_days=total,
    )


def cancel_enrollment(
    enrollment: Enrollment,
    *,
    reason: str | None,
    at: datetime,
    on: date | None = None,
    past_due_access: bool = True,
) -> Change[Enrollment]:
    """End the enrollment (``enrollment.cancelled``; ``access.revoked`` if it had access).

    A pause in progress ends with it: its days up to ``on`` (the business
    date of the cancellation) join ``paused_days``, as a resume would add them.
    """
    pause: dict[str, Any] = {}
    if on is not None and enrollment.paused_on is not None:
        pause = {"paused_on": None, "paused_days": enrollment.days_paused(on)}
    return _move(
        enrollment,
        "cancel",
        at=at,
        past_due_access=past_due_access,
        cancelled_at=at,
        cancel_reason=reason,
        **pause,
    )
