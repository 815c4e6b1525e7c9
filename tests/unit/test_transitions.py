"""Every transition function: the legal move (status, fields, exact events) and a refused one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from enrollpay.domain import transitions as t
from enrollpay.domain.calendar import Interval
from enrollpay.domain.events import EventDraft
from enrollpay.domain.machine import Change, Machine, Transition
from enrollpay.domain.plans import FullPayment, Subscription
from enrollpay.domain.records import Enrollment, ScheduleItem
from enrollpay.domain.retry import DeclineClass
from enrollpay.domain.schedule import ScheduleLine
from enrollpay.domain.statuses import AttemptStatus, EnrollmentStatus, ItemStatus, RefundStatus
from enrollpay.domain.transitions import payments
from enrollpay.errors import IllegalTransitionError, InvalidTransitionError

from .transition_records import (
    AT,
    ENROLLMENT_ID,
    LATER,
    TODAY,
    TOMORROW,
    YESTERDAY,
    a_refund,
    an_attempt,
    an_enrollment,
    an_item,
    usd,
)

ENR, ITM, ATT, REF = EnrollmentStatus, ItemStatus, AttemptStatus, RefundStatus
TOMORROW_AT = AT + timedelta(days=1)

Seen = tuple[str, str | None, datetime, dict[str, Any]]


def seen(events: tuple[EventDraft, ...]) -> list[Seen]:
    """Each event as (kind, enrollment id, at, data), for one exact comparison."""
    return [(e.kind, e.enrollment_id, e.at, dict(e.data)) for e in events]


def refused(
    call: Callable[[], object], *, record: str, record_id: str | None, state: str, transition: str
) -> None:
    """Assert ``call`` raises IllegalTransitionError naming exactly these."""
    with pytest.raises(IllegalTransitionError) as info:
        call()
    err = info.value
    assert (err.record, err.record_id, err.state, err.transition) == (
        record,
        record_id,
        state,
        transition,
    )
    assert isinstance(err, InvalidTransitionError)
    assert isinstance(err, ValueError)
    assert f"is {state} and cannot {transition}" in str(err)


def money(minor: int) -> dict[str, Any]:
    """The JSON form of ``minor`` USD cents in event data."""
    return {"minor": minor, "currency": "USD"}


def moved(before: str, after: str) -> dict[str, str]:
    """The data of an ``enrollment.*`` event."""
    return {"from": before, "to": after}


# -- enrollments: opening -----------------------------------------------------------------


def open_with(*items: ScheduleItem, **overrides: Any) -> Change[Enrollment]:
    """open_enrollment for enr_1 on a full-payment plan with ``items``."""
    args: dict[str, Any] = {
        "enrollment_id": ENROLLMENT_ID,
        "user_id": "user_1",
        "product_id": "prod_1",
        "plan": FullPayment(),
        "price": usd(10000),
        "start_date": TODAY,
        "items": items,
        "today": TODAY,
        "at": AT,
        **overrides,
    }
    return t.open_enrollment(**args)


def test_open_with_nothing_due_is_active_and_grants_access() -> None:
    """Nothing due yet: active at once, with created, activated and access.granted."""
    change = open_with(an_item(due=TOMORROW), metadata={"cohort": "spring"})
    record = change.record
    assert record.status == ENR.ACTIVE
    assert (record.id, record.user_id, record.product_id) == (ENROLLMENT_ID, "user_1", "prod_1")
    assert (record.created_at, record.updated_at, record.start_date) == (AT, AT, TODAY)
    assert record.metadata == {"cohort": "spring"}
    created = {"user_id": "user_1", "product_id": "prod_1", "status": "active"}
    assert seen(change.events) == [
        ("enrollment.created", ENROLLMENT_ID, AT, created),
        ("enrollment.activated", ENROLLMENT_ID, AT, {"to": "active"}),
        ("access.granted", ENROLLMENT_ID, AT, {"status": "active"}),
    ]


def test_open_with_an_item_due_today_waits_for_payment() -> None:
    """An item due today: pending_payment, and only enrollment.created."""
    change = open_with(an_item(due=TODAY), an_item(item_id="itm_2", seq=2, due=TOMORROW))
    assert change.record.status == ENR.PENDING_PAYMENT
    created = {"user_id": "user_1", "product_id": "prod_1", "status": "pending_payment"}
    assert seen(change.events) == [("enrollment.created", ENROLLMENT_ID, AT, created)]


def test_open_of_an_open_ended_subscription_without_items_is_active() -> None:
    """An open-ended subscription with no item yet is active, never completed."""
    plan = Subscription(Interval.months(1), cycles=None, trial_days=14)
    change = open_with(plan=plan)
    assert change.record.status == ENR.ACTIVE
    assert [e.kind for e in change.events] == [
        "enrollment.created",
        "enrollment.activated",
        "access.granted",
    ]


def test_open_in_a_status_no_enrollment_starts_in_is_refused() -> None:
    """Items that imply a non-initial status (all settled: completed) cannot open."""
    refused(
        lambda: open_with(an_item(ITM.PAID)),
        record="enrollment",
        record_id=ENROLLMENT_ID,
        state="completed",
        transition="open",
    )


def test_open_refusal_names_the_enrollment_id() -> None:
    """A refused open names the enrollment it was asked to open."""
    with pytest.raises(IllegalTransitionError) as info:
        open_with(an_item(ITM.PAID))
    assert info.value.record_id == ENROLLMENT_ID


# -- enrollments: following the items -------------------------------------------------------


def test_sync_activates_a_pending_enrollment_and_grants_access() -> None:
    """First payment cleared: activate, enrollment.activated and access.granted."""
    enrollment = an_enrollment(ENR.PENDING_PAYMENT)
    items = [an_item(ITM.PAID), an_item(item_id="itm_2", seq=2, due=TOMORROW)]
    change = t.sync_enrollment(enrollment, items, today=TODAY, at=LATER)
    assert change.record.status == ENR.ACTIVE
    assert change.record.updated_at == LATER
    assert seen(change.events) == [
        ("enrollment.activated", ENROLLMENT_ID, LATER, moved("pending_payment", "active")),
        ("access.granted", ENROLLMENT_ID, LATER, {"status": "active"}),
    ]


def test_sync_restores_a_suspended_enrollment() -> None:
    """Arrears paid after suspension: restore, with access.restored."""
    enrollment = an_enrollment(ENR.SUSPENDED)
    items = [an_item(ITM.PAID), an_item(ITM.PAID, item_id="itm_2", seq=2)]
    items.append(an_item(item_id="itm_3", seq=3, due=TOMORROW))
    change = t.sync_enrollment(enrollment, items, today=TODAY, at=LATER)
    assert change.record.status == ENR.ACTIVE
    assert seen(change.events) == [
        ("enrollment.activated", ENROLLMENT_ID, LATER, moved("suspended", "active")),
        ("access.restored", ENROLLMENT_ID, LATER, {"status": "active"}),
    ]


@pytest.mark.parametrize(
    ("past_due_access", "access_kinds"), [(True, []), (False, ["access.restored"])]
)
def test_sync_restores_a_past_due_enrollment(
    past_due_access: bool,
    access_kinds: list[str],
) -> None:
    """past_due -> active gives access back only when past_due had withheld it."""
    enrollment = an_enrollment(ENR.PAST_DUE)
    items = [an_item(ITM.PAID), an_item(item_id="itm_2", seq=2, due=TOMORROW)]
    change = t.sync_enrollment(
        enrollment, items, today=TODAY, at=LATER, past_due_access=past_due_access
    )
    assert change.record.status == ENR.ACTIVE
    assert [e.kind for e in change.events] == ["enrollment.activated", *access_kinds]


@pytest.mark.parametrize(
    ("past_due_access", "access_kinds"), [(True, []), (False, ["access.suspended"])]
)
def test_sync_falls_past_due(
    past_due_access: bool,
    access_kinds: list[str],
) -> None:
    """A failed item makes an active enrollment past_due; access goes only if configured."""
    enrollment = an_enrollment(ENR.ACTIVE)
    items = [an_item(ITM.PAID), an_item(ITM.FAILED, item_id="itm_2", seq=2)]
    change = t.sync_enrollment(
        enrollment, items, today=TODAY, at=LATER, past_due_access=past_due_access
    )
    assert change.record.status == ENR.PAST_DUE
    assert seen(change.events) == [
        ("enrollment.past_due", ENROLLMENT_ID, LATER, moved("active", "past_due")),
        *[(kind, ENROLLMENT_ID, LATER, {"status": "past_due"}) for kind in access_kinds],
    ]


def test_sync_of_a_pending_enrollment_past_due_grants_access() -> None:
    """pending_payment -> past_due (nothing due yet, a failed item) is the first access."""
    enrollment = an_enrollment(ENR.PENDING_PAYMENT)
    change = t.sync_enrollment(enrollment, [an_item(ITM.FAILED, due=TOMORROW)], today=TODAY, at=AT)
    assert change.record.status == ENR.PAST_DUE
    assert [e.kind for e in change.events] == ["enrollment.past_due", "access.granted"]


def test_sync_suspends_and_withholds_access() -> None:
    """A defaulted item suspends the enrollment: enrollment.suspended, access.suspended."""
    enrollment = an_enrollment(ENR.PAST_DUE)
    items = [an_item(ITM.PAID), an_item(ITM.DEFAULTED, item_id="itm_2", seq=2)]
    change = t.sync_enrollment(enrollment, items, today=TODAY, at=LATER)
    assert change.record.status == ENR.SUSPENDED
    assert seen(change.events) == [
        ("enrollment.suspended", ENROLLMENT_ID, LATER, moved("past_due", "suspended")),
        ("access.suspended", ENROLLMENT_ID, LATER, {"status": "suspended"}),
    ]


def test_sync_awaits_payment_when_nothing_is_paid_and_an_item_is_due() -> None:
    """Active -> pending_payment (nothing paid, an item due) withholds access."""
    enrollment = an_enrollment(ENR.ACTIVE)
    change = t.sync_enrollment(enrollment, [an_item(due=YESTERDAY)], today=TODAY, at=LATER)
    assert change.record.status == ENR.PENDING_PAYMENT
    assert seen(change.events) == [
        ("enrollment.pending_payment", ENROLLMENT_ID, LATER, moved("active", "pending_payment")),
        ("access.suspended", ENROLLMENT_ID, LATER, {"status": "pending_payment"}),
    ]


def test_sync_completes_a_settled_finite_plan() -> None:
    """Every item settled: completed, and no access event (access is kept)."""
    enrollment = an_enrollment(ENR.ACTIVE)
    items = [an_item(ITM.PAID), an_item(ITM.WAIVED, item_id="itm_2", seq=2)]
    change = t.sync_enrollment(enrollment, items, today=TODAY, at=LATER)
    assert change.record.status == ENR.COMPLETED
    assert seen(change.events) == [
        ("enrollment.completed", ENROLLMENT_ID, LATER, moved("active", "completed")),
    ]


@pytest.mark.parametrize("status", [ENR.PAUSED, ENR.CANCELLED])
def test_sync_leaves_explicit_states_alone(status: EnrollmentStatus) -> None:
    """Paused and cancelled are not overridden by the items: no change, no event."""
    enrollment = an_enrollment(status)
    change = t.sync_enrollment(enrollment, [an_item(ITM.DEFAULTED)], today=TODAY, at=LATER)
    assert change.record is enrollment
    assert change.events == ()


@pytest.mark.parametrize("status", [ENR.PAST_DUE, ENR.SUSPENDED, ENR.ACTIVE, ENR.PENDING_PAYMENT])
def test_default_puts_a_live_enrollment_in_default(status: EnrollmentStatus) -> None:
    """after_final_failure="default": enrollment.defaulted with the reason; access withheld."""
    enrollment = an_enrollment(status)
    change = t.default_enrollment(enrollment, reason="payment retries exhausted", at=LATER)
    assert change.record.status == ENR.DEFAULTED
    assert change.record.updated_at == LATER
    had_access = status in (ENR.PAST_DUE, ENR.ACTIVE)
    assert seen(change.events) == [
        (
            "enrollment.defaulted",
            ENROLLMENT_ID,
            LATER,
            {**moved(str(status), "defaulted"), "reason": "payment retries exhausted"},
        ),
        *(
            [("access.suspended", ENROLLMENT_ID, LATER, {"status": "defaulted"})]
            if had_access
            else []
        ),
    ]


@pytest.mark.parametrize("status", [ENR.PAUSED, ENR.CANCELLED, ENR.COMPLETED, ENR.DEFAULTED])
def test_default_is_refused_outside_the_live_states(status: EnrollmentStatus) -> None:
    """A paused, ended or already defaulted enrollment cannot be put in default."""
    refused(
        lambda: t.default_enrollment(an_enrollment(status), reason="x", at=LATER),
        record="enrollment",
        record_id=ENROLLMENT_ID,
        state=str(status),
        transition="default",
    )


@pytest.mark.parametrize("second", [ITM.DEFAULTED, ITM.FAILED, ITM.REQUIRES_PAYMENT_METHOD])
def test_sync_keeps_a_defaulted_enrollment_in_default_while_it_owes(second: ItemStatus) -> None:
    """Items that imply suspended or past_due do not move a defaulted enrollment."""
    enrollment = an_enrollment(ENR.DEFAULTED)
    items = [an_item(ITM.PAID), an_item(second, item_id="itm_2", seq=2, due=YESTERDAY)]
    change = t.sync_enrollment(enrollment, items, today=TODAY, at=LATER)
    assert change.record is enrollment
    assert change.events == ()


def test_sync_restores_a_defaulted_enrollment_once_the_arrears_are_paid() -> None:
    """Paid up: defaulted -> active (restore), with access.restored."""
    enrollment = an_enrollment(ENR.DEFAULTED)
    items = [an_item(ITM.PAID), an_item(ITM.PAID, item_id="itm_2", seq=2)]
    items.append(an_item(item_id="itm_3", seq=3, due=TOMORROW))
    change = t.sync_enrollment(enrollment, items, today=TODAY, at=LATER)
    assert change.record.status == ENR.ACTIVE
    assert seen(change.events) == [
        ("enrollment.activated", ENROLLMENT_ID, LATER, moved("defaulted", "active")),
        ("access.restored", ENROLLMENT_ID, LATER, {"status": "active"}),
    ]


def test_sync_completes_a_defaulted_enrollment_paid_in_full() -> None:
    """Every item settled after the default: completed."""
    enrollment = an_enrollment(ENR.DEFAULTED)
    items = [an_item(ITM.PAID), an_item(ITM.PAID, item_id="itm_2", seq=2)]
    change = t.sync_enrollment(enrollment, items, today=TODAY, at=LATER)
    assert change.record.status == ENR.COMPLETED
    assert [e.kind for e in change.events] == ["enrollment.completed", "access.restored"]


def test_sync_in_the_implied_status_already_changes_nothing() -> None:
    """An enrollment already where its items put it: the same record, no event."""
    enrollment = an_enrollment(ENR.PAST_DUE)
    items = [an_item(ITM.PAID), an_item(ITM.FAILED, item_id="itm_2", seq=2)]
    change = t.sync_enrollment(enrollment, items, today=TODAY, at=LATER)
    assert change.record is enrollment
    assert change.events == ()


def test_sync_refuses_to_reopen_a_completed_enrollment() -> None:
    """Completed -> active is no transition: restore is refused, naming the enrollment."""
    enrollment = an_enrollment(ENR.COMPLETED)
    refused(
        lambda: t.sync_enrollment(enrollment, [an_item(due=TOMORROW)], today=TODAY, at=LATER),
        record="enrollment",
        record_id=ENROLLMENT_ID,
        state="completed",
        transition="restore",
    )


# -- enrollments: pause, resume, cancel -----------------------------------------------------


def test_pause_records_the_day_and_withholds_access() -> None:
    """pause: paused from ``on``, enrollment.paused and access.suspended."""
    change = t.pause_enrollment(an_enrollment(ENR.ACTIVE), on=TODAY, at=LATER)
    assert (change.record.status, change.record.paused_on) == (ENR.PAUSED, TODAY)
    assert change.record.updated_at == LATER
    assert seen(change.events) == [
        ("enrollment.paused", ENROLLMENT_ID, LATER, moved("active", "paused")),
        ("access.suspended", ENROLLMENT_ID, LATER, {"status": "paused"}),
    ]


def test_pause_without_access_before_emits_no_access_event() -> None:
    """Pausing a past_due enrollment that had no access (past_due_access off): one event."""
    change = t.pause_enrollment(
        an_enrollment(ENR.PAST_DUE), on=TODAY, at=LATER, past_due_access=False
    )
    assert [e.kind for e in change.events] == ["enrollment.paused"]


def test_pause_of_a_completed_enrollment_is_refused() -> None:
    """A completed enrollment cannot be paused."""
    refused(
        lambda: t.pause_enrollment(an_enrollment(ENR.COMPLETED), on=TODAY, at=LATER),
        record="enrollment",
        record_id=ENROLLMENT_ID,
        state="completed",
        transition="pause",
    )


def test_resume_into_active_restores_access() -> None:
    """resume: the status the items imply, paused_on cleared, resumed and access.restored."""
    enrollment = an_enrollment(ENR.PAUSED, paused_on=YESTERDAY)
    items = [an_item(ITM.PAID), an_item(item_id="itm_2", seq=2, due=TOMORROW)]
    change = t.resume_enrollment(enrollment, items, today=TODAY, at=LATER)
    assert (change.record.status, change.record.paused_on) == (ENR.ACTIVE, None)
    # Paused the day before the service started: no day of service was paused.
    resumed = {**moved("paused", "active"), "days": 0, "paused_days": 0}
    assert change.record.paused_days == 0
    assert seen(change.events) == [
        ("enrollment.resumed", ENROLLMENT_ID, LATER, resumed),
        ("access.restored", ENROLLMENT_ID, LATER, {"status": "active"}),
    ]


def test_resume_adds_the_days_of_service_paused_to_the_total() -> None:
    """20 days paused after 4 paused before: paused_days 24, told in enrollment.resumed."""
    enrollment = an_enrollment(
        ENR.PAUSED,
        start_date=TODAY - timedelta(days=60),
        paused_on=TODAY - timedelta(days=20),
        paused_days=4,
    )
    items = [an_item(ITM.PAID), an_item(item_id="itm_2", seq=2, due=TOMORROW)]
    change = t.resume_enrollment(enrollment, items, today=TODAY, at=LATER)
    assert (change.record.paused_on, change.record.paused_days) == (None, 24)
    assert seen(change.events)[0] == (
        "enrollment.resumed",
        ENROLLMENT_ID,
        LATER,
        {**moved("paused", "active"), "days": 20, "paused_days": 24},
    )


def test_resume_into_pending_payment_grants_nothing() -> None:
    """Resumed with nothing paid and an item due: pending_payment, only enrollment.resumed."""
    enrollment = an_enrollment(ENR.PAUSED, paused_on=YESTERDAY)
    change = t.resume_enrollment(enrollment, [an_item()], today=TODAY, at=LATER)
    assert change.record.status == ENR.PENDING_PAYMENT
    assert seen(change.events) == [
        (
            "enrollment.resumed",
            ENROLLMENT_ID,
            LATER,
            {**moved("paused", "pending_payment"), "days": 0, "paused_days": 0},
        ),
    ]


def test_first_access_after_a_pause_from_pending_payment_is_granted() -> None:
    """Paused before the first payment, resumed with it paid: access.granted, not restored."""
    pending = an_enrollment(ENR.PENDING_PAYMENT)
    paused = t.pause_enrollment(pending, on=TODAY, at=AT)
    assert [e.kind for e in paused.events] == ["enrollment.paused"]
    items = [an_item(ITM.PAID), an_item(item_id="itm_2", seq=2, due=TOMORROW)]
    resumed = t.resume_enrollment(paused.record, items, today=TODAY, at=LATER)
    assert [e.kind for e in resumed.events] == ["enrollment.resumed", "access.granted"]


def test_access_given_back_after_a_trial_is_restored() -> None:
    """Active (trial), pending_payment when the first charge is due, active when paid: restored."""
    later = an_item(item_id="itm_2", seq=2, due=date(2027, 4, 16))
    opened = open_with(an_item(due=TOMORROW), later)
    assert [e.kind for e in opened.events][-1] == "access.granted"
    due = t.sync_enrollment(opened.record, [an_item(due=TOMORROW), later], today=TOMORROW, at=AT)
    assert [e.kind for e in due.events] == ["enrollment.pending_payment", "access.suspended"]
    items = [an_item(ITM.PAID, due=TOMORROW), later]
    paid = t.sync_enrollment(due.record, items, today=TOMORROW, at=LATER)
    assert paid.record.status == ENR.ACTIVE
    assert [e.kind for e in paid.events] == ["enrollment.activated", "access.restored"]


TRIAL = Subscription(Interval.months(1), cycles=None, trial_days=14)


def test_a_trial_awaiting_its_card_opens_pending_without_access() -> None:
    """Nothing due, but the card is awaited: pending_payment, created only, no access yet."""
    change = open_with(an_item(due=TOMORROW), plan=TRIAL, awaiting_payment_method=True)
    record = change.record
    assert (record.status, record.awaiting_payment_method) == (ENR.PENDING_PAYMENT, True)
    assert record.access_granted_at is None
    created = {"user_id": "user_1", "product_id": "prod_1", "status": "pending_payment"}
    assert seen(change.events) == [("enrollment.created", ENROLLMENT_ID, AT, created)]
    # Every later sync keeps it waiting while nothing is paid.
    assert (
        t.sync_enrollment(record, [an_item(due=TOMORROW)], today=TODAY, at=LATER).record is record
    )


def test_saving_the_trials_card_activates_it_and_grants_access() -> None:
    """save_payment_method during the trial: active, enrollment.activated, access.granted."""
    waiting = open_with(an_item(due=TOMORROW), plan=TRIAL, awaiting_payment_method=True).record
    change = t.save_payment_method(waiting, [an_item(due=TOMORROW)], today=TODAY, at=LATER)
    record = change.record
    assert (record.status, record.awaiting_payment_method) == (ENR.ACTIVE, False)
    assert (record.access_granted_at, record.updated_at) == (LATER, LATER)
    assert seen(change.events) == [
        ("enrollment.activated", ENROLLMENT_ID, LATER, moved("pending_payment", "active")),
        ("access.granted", ENROLLMENT_ID, LATER, {"status": "active"}),
    ]
    # Saved again (the webhook after the payer's own call): nothing moves.
    again = t.save_payment_method(record, [an_item(due=TOMORROW)], today=TODAY, at=LATER)
    assert (again.record, again.events) == (record, ())


def test_a_card_saved_after_the_trial_ended_unpaid_keeps_it_pending() -> None:
    """The first period is due and unpaid: it stops waiting but stays pending, no event."""
    waiting = an_enrollment(ENR.PENDING_PAYMENT, plan=TRIAL, awaiting_payment_method=True)
    items = [an_item(ITM.REQUIRES_PAYMENT_METHOD, due=YESTERDAY)]
    change = t.save_payment_method(waiting, items, today=TODAY, at=LATER)
    assert (change.record.status, change.record.awaiting_payment_method) == (
        ENR.PENDING_PAYMENT,
        False,
    )
    assert change.events == ()


def test_a_paused_trial_stops_waiting_and_stays_paused_until_resumed() -> None:
    """Paused while waiting: the card clears the wait; the resume then activates it."""
    waiting = an_enrollment(
        ENR.PAUSED, plan=TRIAL, awaiting_payment_method=True, access_granted_at=None
    )
    change = t.save_payment_method(waiting, [an_item(due=TOMORROW)], today=TODAY, at=LATER)
    assert (change.record.status, change.record.awaiting_payment_method) == (ENR.PAUSED, False)
    assert change.events == ()
    resumed = t.resume_enrollment(change.record, [an_item(due=TOMORROW)], today=TODAY, at=LATER)
    assert [e.kind for e in resumed.events] == ["enrollment.resumed", "access.granted"]
    still = t.resume_enrollment(waiting, [an_item(due=TOMORROW)], today=TODAY, at=LATER)
    assert still.record.status == ENR.PENDING_PAYMENT  # resumed without a card: still waiting


def test_saving_a_card_for_a_cancelled_trial_is_refused() -> None:
    """A cancelled enrollment waits for nothing any more: the move is illegal."""
    cancelled = an_enrollment(ENR.CANCELLED, plan=TRIAL, awaiting_payment_method=True)
    refused(
        lambda: t.save_payment_method(cancelled, [], today=TODAY, at=LATER),
        record="enrollment",
        record_id=ENROLLMENT_ID,
        state="cancelled",
        transition="save_payment_method",
    )


def test_resume_of_an_enrollment_that_is_not_paused_is_refused() -> None:
    """Only a paused enrollment resumes."""
    refused(
        lambda: t.resume_enrollment(
            an_enrollment(ENR.ACTIVE), [an_item(due=TOMORROW)], today=TODAY, at=LATER
        ),
        record="enrollment",
        record_id=ENROLLMENT_ID,
        state="active",
        transition="resume",
    )


def test_cancel_revokes_access() -> None:
    """cancel: cancelled_at and reason set, enrollment.cancelled and access.revoked."""
    change = t.cancel_enrollment(an_enrollment(ENR.ACTIVE), reason="moved away", at=LATER)
    record = change.record
    assert (record.status, record.cancelled_at, record.cancel_reason) == (
        ENR.CANCELLED,
        LATER,
        "moved away",
    )
    assert seen(change.events) == [
        ("enrollment.cancelled", ENROLLMENT_ID, LATER, moved("active", "cancelled")),
        ("access.revoked", ENROLLMENT_ID, LATER, {"status": "cancelled"}),
    ]


def test_cancel_without_access_emits_only_the_cancellation() -> None:
    """A paused enrollment has no access to revoke."""
    change = t.cancel_enrollment(an_enrollment(ENR.PAUSED), reason=None, at=LATER)
    assert [e.kind for e in change.events] == ["enrollment.cancelled"]
    assert change.record.cancel_reason is None


def test_cancel_ends_a_pause_in_progress_on_the_day_it_is_given() -> None:
    """Cancelled on day 12 of a pause: its 12 days join paused_days and paused_on clears."""
    paused = an_enrollment(ENR.PAUSED, paused_on=TODAY, paused_days=3)
    on = TODAY + timedelta(days=12)
    change = t.cancel_enrollment(paused, reason=None, at=LATER, on=on)
    assert (change.record.status, change.record.paused_on) == (ENR.CANCELLED, None)
    assert change.record.paused_days == 15
    # Without the day, the pause is left as it was.
    kept = t.cancel_enrollment(paused, reason=None, at=LATER).record
    assert (kept.paused_on, kept.paused_days) == (TODAY, 3)
    # Not paused: the total stays.
    active = an_enrollment(ENR.ACTIVE, paused_days=3)
    assert t.cancel_enrollment(active, reason=None, at=LATER, on=on).record.paused_days == 3


def test_cancel_twice_is_refused() -> None:
    """A cancelled enrollment is terminal."""
    refused(
        lambda: t.cancel_enrollment(an_enrollment(ENR.CANCELLED), reason=None, at=LATER),
        record="enrollment",
        record_id=ENROLLMENT_ID,
        state="cancelled",
        transition="cancel",
    )


# -- schedule items -------------------------------------------------------------------------


def refused_item(call: Callable[[], object], state: ItemStatus, transition: str) -> None:
    """Assert ``call`` is refused for schedule item itm_1 in ``state``."""
    refused(
        call,
        record="schedule item",
        record_id="itm_1",
        state=str(state),
        transition=transition,
    )


def item_event(kind: str, at: datetime = LATER, **data: Any) -> Seen:
    """An event of item itm_1 (seq 1) with ``data`` beside the item id and seq."""
    return (kind, ENROLLMENT_ID, at, {"item_id": "itm_1", "seq": 1, **data})


def test_new_item_is_scheduled_with_nothing_paid() -> None:
    """new_item: a schedule line as a scheduled item, nothing paid in its currency."""
    line = ScheduleLine(seq=2, kind="installment", due=TOMORROW, amount=usd(5000))
    item = t.new_item(item_id="itm_9", enrollment_id=ENROLLMENT_ID, line=line, at=AT)
    assert item.status == ITM.SCHEDULED
    assert (item.id, item.enrollment_id, item.seq, item.kind) == (
        "itm_9",
        ENROLLMENT_ID,
        2,
        "installment",
    )
    assert (item.due, item.amount, item.amount_paid, item.updated_at) == (
        TOMORROW,
        usd(5000),
        usd(0),
        AT,
    )
    assert item.failures == 0


def test_start_processing_sets_the_lease() -> None:
    """start_processing: processing, the lease given, no event."""
    lease = LATER + timedelta(minutes=15)
    change = t.start_processing(an_item(ITM.FAILED), at=LATER, lease_until=lease)
    assert (change.record.status, change.record.lease_until) == (ITM.PROCESSING, lease)
    assert change.record.updated_at == LATER
    assert change.events == ()


def test_start_processing_without_a_lease_keeps_the_old_one() -> None:
    """No lease given: the item's lease is left as it was."""
    item = an_item(ITM.SCHEDULED, lease_until=AT)
    change = t.start_processing(item, at=LATER)
    assert (change.record.status, change.record.lease_until) == (ITM.PROCESSING, AT)


def test_start_processing_a_paid_item_is_refused() -> None:
    """A paid item is never charged again."""
    refused_item(
        lambda: t.start_processing(an_item(ITM.PAID), at=LATER), ITM.PAID, "start_processing"
    )


def test_release_makes_the_item_collectible_again() -> None:
    """release: back to scheduled, the lease ended, no event."""
    change = t.release_item(an_item(ITM.PROCESSING, lease_until=LATER), at=LATER)
    assert (change.record.status, change.record.lease_until) == (ITM.SCHEDULED, None)
    assert change.events == ()


def test_release_of_an_item_not_processing_is_refused() -> None:
    """Only a processing item is released."""
    refused_item(lambda: t.release_item(an_item(), at=LATER), ITM.SCHEDULED, "release")


def test_mark_paid_sets_the_payment_fields_and_announces_it() -> None:
    """mark_item_paid: paid, amount and time recorded, lease and retry cleared."""
    item = an_item(ITM.PROCESSING, lease_until=LATER, next_attempt_at=LATER)
    change = t.mark_item_paid(item, amount_paid=usd(10000), at=LATER)
    record = change.record
    assert (record.status, record.amount_paid, record.paid_at) == (ITM.PAID, usd(10000), LATER)
    assert (record.lease_until, record.next_attempt_at) == (None, None)
    assert seen(change.events) == [
        item_event("installment.paid", amount=money(10000), paid=money(10000)),
    ]


def test_mark_paid_of_a_waived_item_is_refused() -> None:
    """A waived item is terminal."""
    refused_item(
        lambda: t.mark_item_paid(an_item(ITM.WAIVED), amount_paid=usd(10000), at=LATER),
        ITM.WAIVED,
        "mark_paid",
    )


def test_receive_in_full_pays_the_item() -> None:
    """receive_on_item with the rest: paid, installment.paid with the total."""
    item = an_item(ITM.PROCESSING, amount_paid=usd(4000))
    change = t.receive_on_item(item, amount=usd(6000), at=LATER)
    assert (change.record.status, change.record.amount_paid) == (ITM.PAID, usd(10000))
    assert seen(change.events) == [
        item_event("installment.paid", amount=money(10000), paid=money(10000)),
    ]


def test_receive_more_than_owed_pays_the_item_with_the_excess_recorded() -> None:
    """An overpayment pays the item; amount_paid holds all that was received."""
    change = t.receive_on_item(an_item(ITM.FAILED), amount=usd(12500), at=LATER)
    assert (change.record.status, change.record.amount_paid) == (ITM.PAID, usd(12500))
    assert [e.kind for e in change.events] == ["installment.paid"]


def test_receive_part_of_a_charge_leaves_the_item_scheduled() -> None:
    """A partial charge of a processing item: scheduled for the rest, lease ended."""
    item = an_item(ITM.PROCESSING, amount_paid=usd(1000), lease_until=LATER)
    change = t.receive_on_item(item, amount=usd(3000), at=LATER)
    record = change.record
    assert (record.status, record.amount_paid, record.lease_until) == (
        ITM.SCHEDULED,
        usd(4000),
        None,
    )
    assert seen(change.events) == [
        item_event("installment.partially_paid", received=money(3000), paid=money(4000)),
    ]


def test_receive_part_by_hand_keeps_the_status() -> None:
    """A partial payment by hand on a failed item: still failed, the paid amount grows.

    A worker's lease on the item stays: the worker may be charging the rest.
    """
    item = an_item(ITM.FAILED, next_attempt_at=LATER, lease_until=LATER)
    change = t.receive_on_item(item, amount=usd(2500), at=LATER)
    record = change.record
    assert (record.status, record.amount_paid, record.next_attempt_at, record.lease_until) == (
        ITM.FAILED,
        usd(2500),
        LATER,
        LATER,
    )
    assert seen(change.events) == [
        item_event("installment.partially_paid", received=money(2500), paid=money(2500)),
    ]


def test_receive_part_on_a_cancelled_item_is_refused() -> None:
    """A cancelled item takes no money."""
    refused_item(
        lambda: t.receive_on_item(an_item(ITM.CANCELLED), amount=usd(100), at=LATER),
        ITM.CANCELLED,
        "receive_part",
    )


RETRY_AT = LATER + timedelta(days=3)


@pytest.mark.parametrize(
    ("outcome", "status", "kind", "retry_at"),
    [
        ("retry", ITM.FAILED, "payment.failed", RETRY_AT),
        ("default", ITM.DEFAULTED, "installment.defaulted", None),
        (
            "requires_payment_method",
            ITM.REQUIRES_PAYMENT_METHOD,
            "installment.requires_payment_method",
            None,
        ),
        ("requires_action", ITM.REQUIRES_ACTION, "installment.requires_action", None),
    ],
)
def test_decline_applies_the_retry_decision(
    outcome: t.DeclineOutcome, status: ItemStatus, kind: str, retry_at: datetime | None
) -> None:
    """decline_item: each outcome's status and event, with code, failures and retry time."""
    item = an_item(ITM.PROCESSING, lease_until=LATER)
    change = t.decline_item(
        item, outcome=outcome, failures=2, retry_at=retry_at, decline_code="card_declined", at=LATER
    )
    record = change.record
    assert record.status == status
    assert (record.failures, record.next_attempt_at, record.lease_until) == (2, retry_at, None)
    assert record.last_decline_code == "card_declined"
    next_retry = None if retry_at is None else retry_at.isoformat()
    assert seen(change.events) == [
        item_event(kind, decline_code="card_declined", failures=2, next_retry_at=next_retry),
    ]


def test_default_of_an_item_not_processing_is_refused() -> None:
    """Only a charge in flight can exhaust the retries."""
    refused_item(
        lambda: t.decline_item(
            an_item(),
            outcome="default",
            failures=4,
            retry_at=None,
            decline_code=None,
            at=LATER,
        ),
        ITM.SCHEDULED,
        "default",
    )


def test_require_action_asks_the_customer() -> None:
    """require_action_on_item: requires_action, installment.requires_action."""
    change = t.require_action_on_item(an_item(ITM.FAILED, lease_until=LATER), at=LATER)
    assert (change.record.status, change.record.lease_until) == (ITM.REQUIRES_ACTION, None)
    assert seen(change.events) == [item_event("installment.requires_action")]


def test_require_action_on_a_scheduled_item_is_refused() -> None:
    """No charge, nothing to authenticate."""
    refused_item(
        lambda: t.require_action_on_item(an_item(), at=LATER), ITM.SCHEDULED, "require_action"
    )


def test_requeue_retries_a_defaulted_item_now() -> None:
    """requeue_item: failed with the retry due now, no event."""
    change = t.requeue_item(an_item(ITM.DEFAULTED, lease_until=AT), at=LATER)
    record = change.record
    assert (record.status, record.next_attempt_at, record.lease_until) == (ITM.FAILED, LATER, None)
    assert change.events == ()


def test_requeue_of_a_scheduled_item_is_refused() -> None:
    """Only a card-less or defaulted item is requeued."""
    refused_item(lambda: t.requeue_item(an_item(), at=LATER), ITM.SCHEDULED, "requeue")


def test_defer_retry_moves_a_capped_retry_later() -> None:
    """defer_retry: still failed with its failures, the retry moved, ``payment.retry_capped``."""
    item = an_item(ITM.FAILED, failures=3, next_attempt_at=AT, lease_until=AT)
    change = t.defer_retry(item, retry_at=TOMORROW_AT, card_brand="visa", at=LATER)
    record = change.record
    assert (record.status, record.failures) == (ITM.FAILED, 3)
    assert (record.next_attempt_at, record.lease_until, record.updated_at) == (
        TOMORROW_AT,
        None,
        LATER,
    )
    assert seen(change.events) == [
        item_event(
            "payment.retry_capped", card_brand="visa", next_retry_at=TOMORROW_AT.isoformat()
        ),
    ]


@pytest.mark.parametrize("state", [ITM.SCHEDULED, ITM.DEFAULTED, ITM.PROCESSING, ITM.PAID])
def test_defer_retry_outside_the_retry_cycle_is_refused(state: ItemStatus) -> None:
    """Only an item in its retry cycle has a retry to move."""
    refused_item(
        lambda: t.defer_retry(an_item(state), retry_at=TOMORROW_AT, card_brand="visa", at=LATER),
        state,
        "defer_retry",
    )


def test_no_card_waits_for_a_payment_method() -> None:
    """no_card: requires_payment_method, with the reason in the event."""
    change = t.no_card(an_item(), at=LATER)
    assert change.record.status == ITM.REQUIRES_PAYMENT_METHOD
    assert seen(change.events) == [
        item_event("installment.requires_payment_method", reason="no saved payment method"),
    ]


def test_no_card_on_a_paused_item_is_refused() -> None:
    """A paused item is not due."""
    refused_item(
        lambda: t.no_card(an_item(ITM.PAUSED), at=LATER), ITM.PAUSED, "require_payment_method"
    )


def test_pause_item_waits_quietly() -> None:
    """pause_item: paused, lease ended, no event."""
    change = t.pause_item(an_item(ITM.FAILED, lease_until=AT), at=LATER)
    assert (change.record.status, change.record.lease_until) == (ITM.PAUSED, None)
    assert change.events == ()


def test_pause_of_a_defaulted_item_is_refused() -> None:
    """Only scheduled and failed items pause (a dropped edge of the old table)."""
    refused_item(lambda: t.pause_item(an_item(ITM.DEFAULTED), at=LATER), ITM.DEFAULTED, "pause")


def test_resume_item_schedules_it_on_the_new_day() -> None:
    """resume_item: scheduled, due on the new day, no retry pending."""
    item = an_item(ITM.PAUSED, next_attempt_at=AT, failures=1)
    change = t.resume_item(item, due=TOMORROW, at=LATER)
    record = change.record
    assert (record.status, record.due, record.next_attempt_at) == (ITM.SCHEDULED, TOMORROW, None)
    assert record.failures == 1
    assert change.events == ()


def test_resume_of_an_item_not_paused_is_refused() -> None:
    """Only a paused item resumes."""
    refused_item(lambda: t.resume_item(an_item(), due=TOMORROW, at=LATER), ITM.SCHEDULED, "resume")


def test_mark_overdue_keeps_the_status_and_announces_it_once() -> None:
    """mark_overdue: the status stays, overdue_at is set, installment.overdue says how late."""
    item = an_item(ITM.FAILED, due=TODAY - timedelta(days=5), failures=1, amount_paid=usd(2500))
    change = t.mark_overdue(item, today=TODAY, at=LATER)
    assert (change.record.status, change.record.overdue_at) == (ITM.FAILED, LATER)
    assert change.record.failures == 1
    assert seen(change.events) == [
        (
            "installment.overdue",
            ENROLLMENT_ID,
            LATER,
            {
                "item_id": "itm_1",
                "seq": 1,
                "due": "2027-03-10",
                "days_late": 5,
                "outstanding": money(7500),
                "status": "failed",
            },
        ),
    ]


@pytest.mark.parametrize("status", [ITM.PAID, ITM.PROCESSING, ITM.PAUSED, ITM.WAIVED])
def test_an_item_paid_charging_or_paused_is_never_overdue(status: ItemStatus) -> None:
    """Only an item that is still owed and not under way can fall overdue."""
    refused_item(
        lambda: t.mark_overdue(an_item(status), today=TODAY, at=LATER), status, "fall_overdue"
    )


def test_a_new_due_date_clears_overdue() -> None:
    """Rescheduling or resuming gives the item a new due date: it is not overdue any more."""
    late = an_item(ITM.FAILED, overdue_at=AT)
    assert t.reschedule_item(late, due=TOMORROW, at=LATER).record.overdue_at is None
    paused = an_item(ITM.PAUSED, overdue_at=AT)
    assert t.resume_item(paused, due=TOMORROW, at=LATER).record.overdue_at is None


def test_remind_upcoming_keeps_the_status_and_says_when_and_what() -> None:
    """remind_upcoming: still scheduled, reminded_at set, installment.upcoming with the amount."""
    item = an_item(due=TODAY + timedelta(days=3), amount_paid=usd(2500))
    change = t.remind_upcoming(item, today=TODAY, at=LATER)
    assert (change.record.status, change.record.reminded_at) == (ITM.SCHEDULED, LATER)
    assert change.record.updated_at == LATER
    assert seen(change.events) == [
        item_event(
            "installment.upcoming", due="2027-03-18", days_before=3, outstanding=money(7500)
        ),
    ]


@pytest.mark.parametrize(
    "status", [ITM.PAID, ITM.FAILED, ITM.PROCESSING, ITM.PAUSED, ITM.DEFAULTED, ITM.CANCELLED]
)
def test_only_a_scheduled_item_is_announced_as_upcoming(status: ItemStatus) -> None:
    """An item paid, in dunning, being charged, paused or ended gets no reminder."""
    refused_item(
        lambda: t.remind_upcoming(an_item(status), today=TODAY, at=LATER),
        status,
        "announce_upcoming",
    )


def test_a_new_due_date_clears_the_reminder() -> None:
    """Rescheduling or resuming moves the due date: the payer is reminded of the new one."""
    reminded = an_item(reminded_at=AT)
    assert t.reschedule_item(reminded, due=TOMORROW, at=LATER).record.reminded_at is None
    paused = an_item(ITM.PAUSED, reminded_at=AT)
    assert t.resume_item(paused, due=TOMORROW, at=LATER).record.reminded_at is None


def test_reschedule_retries_afresh() -> None:
    """reschedule_item: scheduled on the new day, failures reset, installment.rescheduled."""
    item = an_item(ITM.FAILED, failures=2, next_attempt_at=LATER, lease_until=AT)
    new_due = date(2027, 4, 1)
    change = t.reschedule_item(item, due=new_due, at=LATER)
    record = change.record
    assert (record.status, record.due, record.failures) == (ITM.SCHEDULED, new_due, 0)
    assert (record.next_attempt_at, record.lease_until) == (None, None)
    assert seen(change.events) == [
        (
            "installment.rescheduled",
            ENROLLMENT_ID,
            LATER,
            {"item_id": "itm_1", "seq": 1, "from": "2027-03-15", "to": "2027-04-01"},
        ),
    ]


def test_reschedule_of_a_paused_item_keeps_it_paused() -> None:
    """A paused item gets its new day and stays paused."""
    change = t.reschedule_item(an_item(ITM.PAUSED), due=TOMORROW, at=LATER)
    assert (change.record.status, change.record.due) == (ITM.PAUSED, TOMORROW)
    assert [e.kind for e in change.events] == ["installment.rescheduled"]


def test_reschedule_of_an_item_awaiting_authentication_is_refused() -> None:
    """requires_action is not reschedulable."""
    refused_item(
        lambda: t.reschedule_item(an_item(ITM.REQUIRES_ACTION), due=TOMORROW, at=LATER),
        ITM.REQUIRES_ACTION,
        "reschedule",
    )


def test_waive_forgives_the_rest() -> None:
    """waive_item: waived, installment.waived, nothing pending."""
    change = t.waive_item(an_item(ITM.DEFAULTED, next_attempt_at=LATER), at=LATER)
    assert (change.record.status, change.record.next_attempt_at) == (ITM.WAIVED, None)
    assert seen(change.events) == [item_event("installment.waived")]


def test_waive_of_a_charge_in_flight_is_refused() -> None:
    """A processing item may yet be paid: no waiving it."""
    refused_item(lambda: t.waive_item(an_item(ITM.PROCESSING), at=LATER), ITM.PROCESSING, "waive")


def test_cancel_item_drops_it() -> None:
    """cancel_item: cancelled, installment.cancelled, lease and retry cleared."""
    change = t.cancel_item(an_item(ITM.PROCESSING, lease_until=LATER, next_attempt_at=LATER), at=AT)
    record = change.record
    assert (record.status, record.lease_until, record.next_attempt_at) == (
        ITM.CANCELLED,
        None,
        None,
    )
    assert seen(change.events) == [item_event("installment.cancelled", at=AT)]


def test_cancel_of_a_paid_item_is_refused() -> None:
    """A paid item is terminal."""
    refused_item(lambda: t.cancel_item(an_item(ITM.PAID), at=LATER), ITM.PAID, "cancel")


# -- payment attempts -----------------------------------------------------------------------


def refused_attempt(call: Callable[[], object], state: AttemptStatus, transition: str) -> None:
    """Assert ``call`` is refused for payment attempt att_1 in ``state``."""
    refused(
        call,
        record="payment attempt",
        record_id="att_1",
        state=str(state),
        transition=transition,
    )


def test_new_attempt_charges_what_is_outstanding() -> None:
    """new_attempt: pending, for the item's outstanding amount."""
    item = an_item(ITM.SCHEDULED, amount_paid=usd(3000))
    attempt = t.new_attempt(
        attempt_id="att_7",
        item=item,
        number=2,
        idempotency_key="idem_7",
        mode="on_session",
        at=AT,
        payment_method_id="pm_1",
    )
    assert attempt.status == ATT.PENDING
    assert (attempt.id, attempt.item_id, attempt.enrollment_id, attempt.number) == (
        "att_7",
        "itm_1",
        ENROLLMENT_ID,
        2,
    )
    assert (attempt.amount, attempt.mode, attempt.idempotency_key) == (
        usd(7000),
        "on_session",
        "idem_7",
    )
    assert (attempt.payment_method_id, attempt.created_at, attempt.updated_at) == ("pm_1", AT, AT)
    assert (attempt.reattempt, attempt.card_brand) == (False, None)


def test_new_attempt_can_be_a_reattempt() -> None:
    """``reattempt`` is kept on the new attempt (what the retry caps count)."""
    attempt = t.new_attempt(
        attempt_id="att_8", item=an_item(ITM.FAILED), number=3, idempotency_key="idem_8",
        mode="off_session", at=AT, payment_method_id="pm_1", reattempt=True,
    )  # fmt: skip
    assert attempt.reattempt is True


def test_succeed_clears_an_earlier_decline() -> None:
    """succeed_attempt from failed: succeeded, decline fields cleared, new gateway id."""
    attempt = an_attempt(
        ATT.FAILED,
        gateway_payment_id="pi_old",
        decline_code="card_declined",
        decline_class=DeclineClass.SOFT,
        message="declined",
    )
    record = t.succeed_attempt(
        attempt, gateway_payment_id="pi_new", payment_method_id="pm_2", at=LATER
    )
    assert (record.status, record.gateway_payment_id, record.payment_method_id) == (
        ATT.SUCCEEDED,
        "pi_new",
        "pm_2",
    )
    assert (record.decline_code, record.decline_class, record.message) == (None, None, None)
    assert record.updated_at == LATER


def test_succeed_keeps_known_ids() -> None:
    """No gateway id given keeps the known one; a known payment method is not replaced."""
    attempt = an_attempt(ATT.PENDING, gateway_payment_id="pi_1", payment_method_id="pm_1")
    record = t.succeed_attempt(attempt, gateway_payment_id=None, payment_method_id="pm_9", at=LATER)
    assert (record.gateway_payment_id, record.payment_method_id) == ("pi_1", "pm_1")


def test_a_payment_given_up_that_the_gateway_took_anyway_succeeds() -> None:
    """The gateway is the truth: money taken on a payment marked canceled is a success.

    Collection gives an abandoned checkout up when the gateway says it
    failed, even if the gateway refused to cancel it; the customer may still
    pay it. Refusing the success would leave money taken and not recorded.
    """
    record = t.succeed_attempt(
        an_attempt(ATT.CANCELED), gateway_payment_id="pi_1", payment_method_id="pm_1", at=LATER
    )
    assert (record.status, record.gateway_payment_id) == (ATT.SUCCEEDED, "pi_1")


def test_decline_records_the_reason() -> None:
    """decline_attempt: failed with code, class, message and the gateway id."""
    record = t.decline_attempt(
        an_attempt(ATT.PENDING),
        at=LATER,
        message="insufficient funds",
        gateway_payment_id="pi_1",
        decline_code="insufficient_funds",
        decline_class=DeclineClass.SOFT,
    )
    assert record.status == ATT.FAILED
    assert (record.decline_code, record.decline_class, record.message) == (
        "insufficient_funds",
        DeclineClass.SOFT,
        "insufficient funds",
    )
    assert record.gateway_payment_id == "pi_1"
    assert record.card_brand is None


def test_decline_keeps_the_card_brand_the_gateway_reported() -> None:
    """A brand given is recorded; a decline without one keeps the brand known before."""
    record = t.decline_attempt(
        an_attempt(ATT.PENDING), at=LATER, message=None, decline_class=DeclineClass.SOFT,
        card_brand="visa",
    )  # fmt: skip
    assert record.card_brand == "visa"
    again = t.decline_attempt(
        an_attempt(ATT.UNKNOWN, card_brand="mastercard"), at=LATER, message=None
    )
    assert again.card_brand == "mastercard"


def test_decline_of_a_succeeded_payment_is_refused() -> None:
    """A succeeded attempt is terminal."""
    refused_attempt(
        lambda: t.decline_attempt(an_attempt(ATT.SUCCEEDED), at=LATER, message=None),
        ATT.SUCCEEDED,
        "decline",
    )


def test_require_action_on_an_attempt_keeps_its_gateway_id() -> None:
    """require_action_on_attempt: requires_action, the known gateway id kept."""
    attempt = an_attempt(ATT.UNKNOWN, gateway_payment_id="pi_1")
    record = t.require_action_on_attempt(attempt, gateway_payment_id=None, at=LATER)
    assert (record.status, record.gateway_payment_id) == (ATT.REQUIRES_ACTION, "pi_1")


def test_require_action_twice_is_refused() -> None:
    """An attempt already awaiting authentication has no require_action move."""
    refused_attempt(
        lambda: t.require_action_on_attempt(
            an_attempt(ATT.REQUIRES_ACTION), gateway_payment_id="pi_1", at=LATER
        ),
        ATT.REQUIRES_ACTION,
        "require_action",
    )


def test_lose_track_marks_the_outcome_unknown() -> None:
    """lose_track: unknown, with the message and the gateway id."""
    record = t.lose_track(an_attempt(), message="timeout", gateway_payment_id="pi_1", at=LATER)
    assert (record.status, record.message, record.gateway_payment_id) == (
        ATT.UNKNOWN,
        "timeout",
        "pi_1",
    )


def test_lose_track_of_an_unknown_attempt_is_refused() -> None:
    """Only a pending attempt goes unknown."""
    refused_attempt(
        lambda: t.lose_track(
            an_attempt(ATT.UNKNOWN), message="timeout", gateway_payment_id=None, at=LATER
        ),
        ATT.UNKNOWN,
        "lose_track",
    )


def test_resend_makes_an_unknown_attempt_pending() -> None:
    """resend_attempt: back to pending, same idempotency key."""
    record = t.resend_attempt(an_attempt(ATT.UNKNOWN), at=LATER)
    assert (record.status, record.idempotency_key, record.updated_at) == (
        ATT.PENDING,
        "idem_1",
        LATER,
    )


def test_resend_of_a_pending_attempt_is_refused() -> None:
    """Only an unknown outcome is sent again."""
    refused_attempt(lambda: t.resend_attempt(an_attempt(), at=LATER), ATT.PENDING, "resend")


def test_await_settlement_announces_a_payment_that_settles_later() -> None:
    """await_settlement: processing, gateway id kept, payment.processing with the method type."""
    declined = an_attempt(ATT.PENDING, decline_code="x", message="old")
    change = t.await_settlement(
        declined, gateway_payment_id="pi_1", method_type="sepa_debit", at=LATER
    )
    record = change.record
    assert (record.status, record.gateway_payment_id, record.updated_at) == (
        ATT.PROCESSING,
        "pi_1",
        LATER,
    )
    assert (record.decline_code, record.message) == (None, None)
    data = {"item_id": "itm_1", "attempt_id": "att_1", "number": 1, "amount": money(10000),
            "method_type": "sepa_debit"}  # fmt: skip
    assert seen(change.events) == [("payment.processing", ENROLLMENT_ID, LATER, data)]


def test_await_settlement_keeps_a_known_gateway_id_and_refuses_a_settled_attempt() -> None:
    """No id in the answer keeps the attempt's; a succeeded or processing one cannot move."""
    unknown = an_attempt(ATT.UNKNOWN, gateway_payment_id="pi_9")
    kept = t.await_settlement(unknown, gateway_payment_id=None, method_type=None, at=LATER)
    assert kept.record.gateway_payment_id == "pi_9"
    for state in (ATT.SUCCEEDED, ATT.PROCESSING, ATT.CANCELED):
        refused_attempt(
            lambda s=state: t.await_settlement(  # type: ignore[misc]
                an_attempt(s), gateway_payment_id="pi_1", method_type=None, at=LATER
            ),
            state,
            "await_settlement",
        )


def test_a_processing_attempt_settles_either_way_but_is_never_resent_or_cancelled() -> None:
    """A debit clears (succeed) or bounces (decline); resend, lose_track and cancel are refused."""
    processing = an_attempt(ATT.PROCESSING, gateway_payment_id="pi_1")
    cleared = t.succeed_attempt(processing, gateway_payment_id=None, payment_method_id=None,
                                at=LATER)  # fmt: skip
    bounced = t.decline_attempt(processing, at=LATER, message="returned",
                                decline_code="insufficient_funds")  # fmt: skip
    assert (cleared.status, bounced.status) == (ATT.SUCCEEDED, ATT.FAILED)
    refused_attempt(lambda: t.resend_attempt(processing, at=LATER), ATT.PROCESSING, "resend")
    refused_attempt(
        lambda: t.lose_track(processing, message="?", gateway_payment_id=None, at=LATER),
        ATT.PROCESSING,
        "lose_track",
    )
    refused_attempt(
        lambda: t.cancel_attempt(processing, message="give up", at=LATER),
        ATT.PROCESSING,
        "cancel",
    )


def test_cancel_attempt_announces_the_cancellation() -> None:
    """cancel_attempt: canceled (not failed), payment.canceled naming item and attempt."""
    change = t.cancel_attempt(an_attempt(ATT.REQUIRES_ACTION), message="abandoned", at=LATER)
    assert (change.record.status, change.record.message) == (ATT.CANCELED, "abandoned")
    assert seen(change.events) == [
        (
            "payment.canceled",
            ENROLLMENT_ID,
            LATER,
            {"item_id": "itm_1", "attempt_id": "att_1", "number": 1},
        ),
    ]


def test_cancel_of_a_succeeded_attempt_is_refused() -> None:
    """Money taken cannot be cancelled."""
    refused_attempt(
        lambda: t.cancel_attempt(an_attempt(ATT.SUCCEEDED), message="too late", at=LATER),
        ATT.SUCCEEDED,
        "cancel",
    )


# -- refunds --------------------------------------------------------------------------------


def refund_event(kind: str, at: datetime = LATER) -> Seen:
    """The event of refund ref_1 (25.00 USD of pay_1, by the gateway)."""
    data = {"refund_id": "ref_1", "payment_id": "pay_1", "amount": money(2500), "method": "gateway"}
    return (kind, ENROLLMENT_ID, at, data)


def test_new_pending_refund_emits_nothing_yet() -> None:
    """new_refund pending its gateway call: pending, no event."""
    change = t.new_refund(
        refund_id="ref_1",
        payment_id="pay_1",
        enrollment_id=ENROLLMENT_ID,
        amount=usd(2500),
        method="gateway",
        at=AT,
        pending=True,
        idempotency_key="idem_r",
        reason="requested",
        actor="admin",
    )
    record = change.record
    assert record.status == REF.PENDING
    assert (record.idempotency_key, record.reason, record.actor, record.created_at) == (
        "idem_r",
        "requested",
        "admin",
        AT,
    )
    assert change.events == ()


def test_new_done_refund_is_issued() -> None:
    """new_refund done: succeeded, refund.issued with its amount and method."""
    change = t.new_refund(
        refund_id="ref_1",
        payment_id="pay_1",
        enrollment_id=ENROLLMENT_ID,
        amount=usd(2500),
        method="gateway",
        at=LATER,
        pending=False,
        gateway_refund_id="re_1",
    )
    assert (change.record.status, change.record.gateway_refund_id) == (REF.SUCCEEDED, "re_1")
    assert seen(change.events) == [refund_event("refund.issued")]


def test_settle_pending_news_moves_nothing_but_keeps_the_gateway_id() -> None:
    """``pending`` from the gateway: same status, no event, the new gateway id stored."""
    change = t.settle_refund(
        a_refund(REF.PENDING), status="pending", gateway_refund_id="re_1", at=LATER
    )
    assert (change.record.status, change.record.gateway_refund_id) == (REF.PENDING, "re_1")
    assert change.events == ()


def test_settle_pending_does_not_reopen_a_settled_refund() -> None:
    """``pending`` about a succeeded refund leaves it succeeded."""
    change = t.settle_refund(
        a_refund(REF.SUCCEEDED), status="pending", gateway_refund_id=None, at=LATER
    )
    assert change.record.status == REF.SUCCEEDED
    assert change.events == ()


def test_settle_to_the_same_status_keeps_the_known_gateway_id() -> None:
    """Repeated news (succeeded again, no id given): nothing changes, no event."""
    refund = a_refund(REF.SUCCEEDED, gateway_refund_id="re_1")
    change = t.settle_refund(refund, status="succeeded", gateway_refund_id=None, at=LATER)
    assert change.record == refund
    assert change.events == ()


def test_settle_succeeded_issues_the_refund() -> None:
    """Pending -> succeeded: refund.issued."""
    change = t.settle_refund(
        a_refund(REF.PENDING), status="succeeded", gateway_refund_id="re_1", at=LATER
    )
    assert (change.record.status, change.record.gateway_refund_id) == (REF.SUCCEEDED, "re_1")
    assert seen(change.events) == [refund_event("refund.issued")]


@pytest.mark.parametrize("before", [REF.PENDING, REF.SUCCEEDED])
def test_settle_failed_announces_the_failure(before: RefundStatus) -> None:
    """Pending or succeeded -> failed: refund.failed."""
    change = t.settle_refund(a_refund(before), status="failed", gateway_refund_id=None, at=LATER)
    assert change.record.status == REF.FAILED
    assert seen(change.events) == [refund_event("refund.failed")]


def test_settle_refused_by_the_table_names_the_refund(monkeypatch: pytest.MonkeyPatch) -> None:
    """A move the refund table refuses raises naming the refund (under a stricter table).

    The shipped table allows every move settle_refund can ask for (succeed
    from pending or failed, fail from pending or succeeded), so this refusal
    is reached only under a table without ``fail`` from ``succeeded``.
    """
    stricter = Machine.declare(
        "refund",
        RefundStatus,
        (REF.PENDING,),
        Transition("succeed", frozenset({REF.PENDING}), frozenset({REF.SUCCEEDED})),
        Transition("fail", frozenset({REF.PENDING}), frozenset({REF.FAILED})),
    )
    monkeypatch.setattr(payments, "REFUND", stricter)
    refused(
        lambda: t.settle_refund(
            a_refund(REF.SUCCEEDED), status="failed", gateway_refund_id=None, at=LATER
        ),
        record="refund",
        record_id="ref_1",
        state="succeeded",
        transition="fail",
    )


def test_settle_with_an_unknown_status_is_a_value_error() -> None:
    """A status that is not a refund status is refused before any move."""
    with pytest.raises(ValueError, match="refunded"):
        t.settle_refund(a_refund(), status="refunded", gateway_refund_id=None, at=LATER)


def test_every_public_function_is_called_here() -> None:
    """Each public function of the transitions package is called by a test here.

    Here: this module, or test_dispute_transitions.py, test_discount_transition.py,
    test_subscription_transitions.py, test_plan_change.py or test_seat_transitions.py
    beside it (the dispute machine's, recording a discount, a gateway subscription's,
    a plan change's, seats and waitlists).
    """
    here = Path(__file__)
    source = "".join(
        here.with_name(name).read_text(encoding="utf-8")
        for name in (
            here.name,
            "test_dispute_transitions.py",
            "test_discount_transition.py",
            "test_subscription_transitions.py",
            "test_plan_change.py",
            "test_seat_transitions.py",
        )
    )
    functions = [name for name in t.__all__ if callable(getattr(t, name)) and name.islower()]
    assert len(functions) == 49
    assert [name for name in functions if f"t.{name}(" not in source] == []
