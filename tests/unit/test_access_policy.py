"""The access policy: when unpaid items are overdue, and what that does to the enrollment."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollpay.domain import transitions as t
from enrollpay.domain.statuses import (
    OVERDUE_ITEM_STATUSES,
    AccessPolicy,
    EnrollmentStatus,
    ItemState,
    ItemStatus,
    derive_enrollment_status,
)
from enrollpay.errors import InvalidInputError

from .transition_records import AT, LATER, TODAY, an_enrollment, an_item, usd

ENR, ITM = EnrollmentStatus, ItemStatus
POLICY = AccessPolicy(grace_days=3, suspend_after_days=14)


def days_ago(n: int) -> date:
    """The date ``n`` days before TODAY (after it, for a negative ``n``)."""
    return TODAY - timedelta(days=n)


def test_defaults_are_three_grace_days_and_fourteen_days_to_suspension() -> None:
    """The defaults: 3 days of grace, suspended after 14 days overdue, past_due keeps access."""
    assert AccessPolicy() == AccessPolicy(grace_days=3, suspend_after_days=14, past_due_access=True)


@pytest.mark.parametrize(
    ("field", "value"), [("grace_days", -1), ("suspend_after_days", -3), ("grace_days", 1.5),
                         ("grace_days", True), ("suspend_after_days", "7")]
)  # fmt: skip
def test_days_must_be_whole_and_not_negative(field: str, value: object) -> None:
    """A negative, fractional, boolean or textual number of days is refused, naming the field."""
    with pytest.raises(InvalidInputError, match=field):
        AccessPolicy(**{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize(("late", "overdue"), [(0, 0), (3, 0), (4, 1), (20, 17), (-5, 0)])
def test_days_overdue_count_from_the_end_of_the_grace(late: int, overdue: int) -> None:
    """An item due ``late`` days ago is overdue by that less the grace days (never negative)."""
    assert POLICY.days_overdue(days_ago(late), TODAY) == overdue


def derive(
    *items: tuple[ItemStatus, int], access: AccessPolicy | None = POLICY
) -> EnrollmentStatus:
    """The status of an enrollment whose items are (status, days since due).

    Its first item is paid long ago and its last is due next month.
    """
    states = [
        ItemState(ITM.PAID, days_ago(60)),
        *(ItemState(s, days_ago(n)) for s, n in items),
        ItemState(ITM.SCHEDULED, days_ago(-30)),
    ]
    return derive_enrollment_status(states, today=TODAY, access=access)


def test_an_item_never_charged_is_past_due_after_the_grace_and_suspended_later() -> None:
    """Time alone moves the status: active, then past_due, then suspended."""
    assert derive((ITM.SCHEDULED, 3)) == ENR.ACTIVE
    assert derive((ITM.SCHEDULED, 4)) == ENR.PAST_DUE
    assert derive((ITM.SCHEDULED, 16)) == ENR.PAST_DUE
    assert derive((ITM.SCHEDULED, 17)) == ENR.SUSPENDED
    assert derive((ITM.SCHEDULED, 17), access=None) == ENR.ACTIVE  # no policy, no time rule


@pytest.mark.parametrize("status", sorted(OVERDUE_ITEM_STATUSES))
def test_every_owed_status_counts_towards_suspension(status: ItemStatus) -> None:
    """Failed, card-less, defaulted or unauthenticated: all suspend once long overdue."""
    assert derive((status, 40)) == ENR.SUSPENDED


@pytest.mark.parametrize("status", [ITM.PROCESSING, ITM.PAUSED, ITM.PAID, ITM.WAIVED])
def test_items_under_way_or_settled_are_never_overdue(status: ItemStatus) -> None:
    """A charge in flight, a paused item or a settled one does not make anything overdue."""
    assert derive((status, 40)) == ENR.ACTIVE


def test_nothing_paid_stays_pending_payment_however_late() -> None:
    """An enrollment never paid has no access to lose: it stays pending_payment."""
    states = [ItemState(ITM.SCHEDULED, days_ago(40))]
    assert derive_enrollment_status(states, today=TODAY, access=POLICY) == ENR.PENDING_PAYMENT


def test_zero_days_suspend_as_soon_as_overdue() -> None:
    """suspend_after_days=0: the first overdue day suspends."""
    strict = AccessPolicy(grace_days=0, suspend_after_days=0)
    assert derive((ITM.SCHEDULED, 0), access=strict) == ENR.ACTIVE
    assert derive((ITM.SCHEDULED, 1), access=strict) == ENR.SUSPENDED


@given(
    late=st.integers(min_value=-30, max_value=400),
    grace=st.integers(min_value=0, max_value=30),
    suspend=st.integers(min_value=0, max_value=60),
)
def test_the_status_only_worsens_as_days_pass(late: int, grace: int, suspend: int) -> None:
    """One more day never improves an unpaid enrollment's status."""
    policy = AccessPolicy(grace_days=grace, suspend_after_days=suspend)
    rank = {ENR.ACTIVE: 0, ENR.PAST_DUE: 1, ENR.SUSPENDED: 2}
    today = derive((ITM.SCHEDULED, late), access=policy)
    tomorrow = derive((ITM.SCHEDULED, late + 1), access=policy)
    assert rank[tomorrow] >= rank[today]


def test_sync_moves_an_active_enrollment_by_the_calendar_with_its_access_events() -> None:
    """sync_enrollment with the policy: past_due keeps access, suspended takes it away."""
    active = an_enrollment(ENR.ACTIVE)
    paid = an_item(ITM.PAID, item_id="itm_0", seq=0, due=days_ago(40), amount_paid=usd(10000))
    late = an_item(due=days_ago(5))
    future = an_item(item_id="itm_2", seq=2, due=days_ago(-25))
    change = t.sync_enrollment(active, [paid, late, future], today=TODAY, at=LATER, access=POLICY)
    assert change.record.status == ENR.PAST_DUE
    assert [e.kind for e in change.events] == ["enrollment.past_due"]
    later = TODAY + timedelta(days=12)
    suspended = t.sync_enrollment(
        change.record, [paid, late, future], today=later, at=LATER, access=POLICY
    )
    assert suspended.record.status == ENR.SUSPENDED
    assert [e.kind for e in suspended.events] == ["enrollment.suspended", "access.suspended"]
    settled = [paid, t.mark_item_paid(late, amount_paid=usd(10000), at=LATER).record, future]
    restored = t.sync_enrollment(suspended.record, settled, today=later, at=LATER, access=POLICY)
    assert restored.record.status == ENR.ACTIVE
    assert [e.kind for e in restored.events] == ["enrollment.activated", "access.restored"]
    assert restored.record.access_granted_at == AT  # restored, not granted anew


def test_resume_and_open_take_the_policy_into_account() -> None:
    """resume_enrollment derives with the policy; open_enrollment of nothing paid is pending."""
    paused = an_enrollment(ENR.PAUSED, paused_on=days_ago(30))
    paid = an_item(ITM.PAID, item_id="itm_0", seq=0, due=days_ago(40), amount_paid=usd(10000))
    late = an_item(due=days_ago(20))
    resumed = t.resume_enrollment(paused, [paid, late], today=TODAY, at=AT, access=POLICY)
    assert resumed.record.status == ENR.SUSPENDED
    plain = t.resume_enrollment(paused, [paid, late], today=TODAY, at=AT)
    assert plain.record.status == ENR.ACTIVE
