"""The gateway subscription of an enrollment: linking it, recording its reports in any order."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollpay.domain import transitions as t
from enrollpay.domain.machine import Change
from enrollpay.domain.records import Enrollment
from enrollpay.domain.statuses import (
    EnrollmentStatus,
    ItemState,
    ItemStatus,
    derive_enrollment_status,
)
from enrollpay.domain.subscriptions import SubscriptionState

from .test_transitions import refused, seen
from .transition_records import AT, ENROLLMENT_ID, LATER, TODAY, an_enrollment, an_item

ENR = EnrollmentStatus
DAY = timedelta(days=1)
PERIOD_1 = AT - 3 * DAY
PERIOD_2 = PERIOD_1 + 30 * DAY


def a_state(
    status: str = "active", *, at: int = 0, period: int = 1, **changes: Any
) -> SubscriptionState:
    """A report made ``at`` hours after AT, in the ``period``-th period."""
    start = PERIOD_1 if period == 1 else PERIOD_2
    state = SubscriptionState(
        status=status,
        as_of=AT + timedelta(hours=at),
        current_period_start=start,
        current_period_end=start + 30 * DAY,
    )
    return attrs.evolve(state, **changes)


# -- the order of reports ------------------------------------------------------------


def test_a_first_report_supersedes_nothing_known() -> None:
    """A first report supersedes nothing known."""
    assert a_state().supersedes(None)


def test_the_same_report_again_does_not_supersede_itself() -> None:
    """The same report again does not supersede itself."""
    assert not a_state().supersedes(a_state())


def test_a_later_report_of_the_same_period_supersedes_an_earlier_one() -> None:
    """A later report of the same period supersedes an earlier one."""
    assert a_state("past_due", at=2).supersedes(a_state("active", at=1))
    assert not a_state("active", at=1).supersedes(a_state("past_due", at=2))


def test_a_later_period_wins_over_a_later_report_time() -> None:
    """The period comes first: a report of period 2 is newer than any of period 1."""
    assert a_state(period=2, at=0).supersedes(a_state(period=1, at=5))


def test_an_ended_subscription_is_never_revived() -> None:
    """An ended subscription is never revived."""
    ended = a_state("canceled", at=0)
    assert ended.ended
    assert ended.supersedes(a_state("active", at=9, period=2))
    assert not a_state("active", at=9, period=2).supersedes(ended)
    assert SubscriptionState("incomplete_expired", as_of=AT).ended
    assert not a_state("past_due").ended


def test_two_reports_of_the_same_second_are_ordered_by_what_they_say() -> None:
    """Neither wins by coming first: exactly one supersedes the other."""
    plain, cancelling = a_state(), a_state(cancel_at_period_end=True)
    assert cancelling.supersedes(plain) != plain.supersedes(cancelling)


def test_a_report_without_a_period_is_older_than_one_with_a_period() -> None:
    """A report without a period is older than one with a period."""
    bare = SubscriptionState("incomplete", as_of=AT + DAY)
    assert a_state(at=0).supersedes(bare)


# -- link_subscription ---------------------------------------------------------------


def test_link_sets_the_subscription_id_and_announces_it() -> None:
    """Link sets the subscription id and announces it."""
    change = t.link_subscription(an_enrollment(), subscription_id="sub_1", at=LATER)
    assert change.record.gateway_subscription_id == "sub_1"
    assert change.record.updated_at == LATER
    assert change.record.status == ENR.ACTIVE
    assert seen(change.events) == [
        ("subscription.created", ENROLLMENT_ID, LATER, {"subscription_id": "sub_1"})
    ]


def test_linking_the_same_subscription_again_changes_nothing() -> None:
    """Linking the same subscription again changes nothing."""
    linked = an_enrollment(gateway_subscription_id="sub_1")
    change = t.link_subscription(linked, subscription_id="sub_1", at=LATER)
    assert change.record is linked
    assert change.events == ()


def test_a_second_subscription_is_refused() -> None:
    """A second subscription is refused."""
    linked = an_enrollment(gateway_subscription_id="sub_1")
    refused(
        lambda: t.link_subscription(linked, subscription_id="sub_2", at=LATER),
        record="enrollment",
        record_id=ENROLLMENT_ID,
        state="active",
        transition="link_subscription",
    )


def test_a_cancelled_enrollment_takes_no_subscription() -> None:
    """A cancelled enrollment takes no subscription."""
    refused(
        lambda: t.link_subscription(an_enrollment(ENR.CANCELLED), subscription_id="s", at=LATER),
        record="enrollment",
        record_id=ENROLLMENT_ID,
        state="cancelled",
        transition="link_subscription",
    )


# -- record_subscription -------------------------------------------------------------


#: One period paid, the next one due tomorrow.
_ITEMS = (
    an_item(ItemStatus.PAID),
    an_item(item_id="itm_2", seq=2, due=TODAY + timedelta(days=1)),
)


def _record(enrollment: Enrollment, state: SubscriptionState) -> Change[Enrollment]:
    return t.record_subscription(enrollment, _ITEMS, state, today=TODAY, at=LATER)


def test_a_newer_report_is_kept_and_announced() -> None:
    """A newer report is kept and announced."""
    linked = an_enrollment(gateway_subscription_id="sub_1")
    state = a_state("trialing", trial_end=AT + 7 * DAY)
    change = _record(linked, state)
    assert change.record.subscription == state
    assert change.record.status == ENR.ACTIVE
    assert seen(change.events) == [
        (
            "subscription.updated",
            ENROLLMENT_ID,
            LATER,
            {
                "subscription_id": "sub_1",
                "status": "trialing",
                "current_period_start": PERIOD_1.isoformat(),
                "current_period_end": (PERIOD_1 + 30 * DAY).isoformat(),
                "cancel_at_period_end": False,
                "trial_end": (AT + 7 * DAY).isoformat(),
                "as_of": AT.isoformat(),
            },
        )
    ]


def test_an_older_or_repeated_report_changes_nothing() -> None:
    """An older or repeated report changes nothing."""
    known = an_enrollment(gateway_subscription_id="sub_1", subscription=a_state("past_due", at=2))
    for stale in (a_state("active", at=1), a_state("past_due", at=2)):
        change = _record(known, stale)
        assert change.record is known
        assert change.events == ()


def test_a_past_due_subscription_makes_the_enrollment_past_due() -> None:
    """A past due subscription makes the enrollment past due."""
    change = _record(an_enrollment(gateway_subscription_id="sub_1"), a_state("past_due"))
    assert change.record.status == ENR.PAST_DUE
    kinds = [e.kind for e in change.events]
    assert kinds == ["subscription.updated", "enrollment.past_due"]
    assert change.events[1].data["subscription_status"] == "past_due"


def test_an_unpaid_subscription_suspends_and_a_paid_one_restores() -> None:
    """An unpaid subscription suspends and a paid one restores."""
    suspended = _record(an_enrollment(), a_state("unpaid", at=1)).record
    assert suspended.status == ENR.SUSPENDED
    restored = _record(suspended, a_state("active", period=2))
    assert restored.record.status == ENR.ACTIVE
    assert [e.kind for e in restored.events] == [
        "subscription.updated",
        "enrollment.activated",
        "access.restored",
    ]


def test_every_enrollment_status_may_record_a_report() -> None:
    """Every enrollment status may record a report."""
    for status in ENR:
        change = _record(an_enrollment(status), a_state("canceled"))
        assert change.record.subscription == a_state("canceled")


@pytest.mark.parametrize("billing", [None, "active", "trialing", "past_due", "unpaid"])
def test_the_gateway_status_counts_in_the_derived_status(billing: str | None) -> None:
    """The gateway status counts in the derived status."""
    paid = [ItemState(ItemStatus.PAID, TODAY), ItemState(ItemStatus.SCHEDULED, TODAY + DAY)]
    status = derive_enrollment_status(paid, today=TODAY, billing=billing)
    expected = {"past_due": ENR.PAST_DUE, "unpaid": ENR.SUSPENDED}.get(billing or "", ENR.ACTIVE)
    assert status == expected


_REPORTS = [
    a_state("incomplete", at=0),
    a_state("active", at=1),
    a_state("active", at=2, cancel_at_period_end=True),
    a_state("past_due", at=3, period=2),
    a_state("unpaid", at=4, period=2),
    a_state("canceled", at=5, period=2),
]


def _apply_all(reports: list[SubscriptionState]) -> Enrollment:
    enrollment = an_enrollment(gateway_subscription_id="sub_1")
    for report in reports:
        enrollment = _record(enrollment, report).record
    return enrollment


def test_every_order_of_the_first_four_reports_ends_as_in_order() -> None:
    """Every order of the first four reports ends as in order."""
    in_order = _apply_all(_REPORTS[:4])
    for order in itertools.permutations(_REPORTS[:4]):
        assert _apply_all(list(order)) == in_order


@given(st.lists(st.sampled_from(_REPORTS), min_size=1, max_size=12))
def test_any_order_with_repeats_ends_in_the_newest_report(reports: list[SubscriptionState]) -> None:
    """Any order with repeats ends in the newest report."""
    final = _apply_all(reports)
    newest = max(set(reports), key=lambda s: s._order())
    assert final.subscription == newest
    assert final == _apply_all(sorted(set(reports), key=lambda s: s._order()))
