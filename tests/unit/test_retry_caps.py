"""Card-network retry caps: the caps table of the retry policy and ``capped_retry_at``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollpay import RetryCap, RetryPolicy
from enrollpay.domain.records import PaymentAttempt
from enrollpay.domain.retry import DeclineClass
from enrollpay.domain.retry_caps import (
    NETWORK_CAPS,
    capped_retry_at,
    card_brand_of,
    is_reattempt,
    network_caps,
    normalise_brand,
)
from enrollpay.domain.statuses import AttemptStatus
from enrollpay.errors import InvalidInputError, NaiveDatetimeError
from enrollpay.testing.strategies import retry_caps

from .transition_records import an_attempt

T = datetime(2027, 3, 15, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
VISA = (RetryCap(15),)


def days(*offsets: float) -> list[datetime]:
    """Instants ``offsets`` days after T."""
    return [T + timedelta(days=d) for d in offsets]


def in_window(cap: RetryCap, times: list[datetime], at: datetime) -> int:
    """How many of ``times`` fall in ``cap``'s window ending at ``at`` (the test's own count)."""
    return sum(1 for t in times if at - cap.window < t <= at)


def allowed(caps: tuple[RetryCap, ...], times: list[datetime], at: datetime) -> bool:
    """One more reattempt at ``at`` keeps every cap."""
    return all(in_window(cap, times, at) < cap.limit for cap in caps)


# --- the caps and the table ------------------------------------------------------------


def test_the_default_table_caps_visa_at_15_and_mastercard_at_35_in_30_days() -> None:
    """The networks' limits, keyed by the brand Stripe reports; other brands are not capped."""
    policy = RetryPolicy()
    assert dict(policy.network_caps) == {
        "visa": (RetryCap(15, timedelta(days=30)),),
        "mastercard": (RetryCap(35, timedelta(days=30)),),
    }
    assert policy.network_caps == NETWORK_CAPS
    assert policy.caps_for("visa") == (RetryCap(15),)
    assert policy.caps_for(" MasterCard ") == (RetryCap(35),)
    assert policy.caps_for("amex") == ()
    assert policy.caps_for(None) == ()
    assert policy.caps_for("") == ()


def test_a_cap_takes_its_window_in_days_or_as_a_timedelta() -> None:
    """30 days unless told; an int window is days."""
    assert RetryCap(15).window == timedelta(days=30)
    assert RetryCap(10, 1).window == DAY
    assert RetryCap(10, timedelta(hours=12)).window == timedelta(hours=12)


@pytest.mark.parametrize("limit", [0, -1, True, 1.5, "15", None])
def test_a_cap_limit_is_a_positive_int(limit: Any) -> None:
    """Zero, negative, bool or non-int limits are typed input errors."""
    with pytest.raises(InvalidInputError, match="limit"):
        RetryCap(limit)


@pytest.mark.parametrize("window", [0, -1, timedelta(0), timedelta(seconds=-1), True, 1.5, "30"])
def test_a_cap_window_is_positive_days_or_a_timedelta(window: Any) -> None:
    """A zero or negative window, or one of another type, is refused."""
    with pytest.raises(InvalidInputError, match="window"):
        RetryCap(1, window)


def test_the_table_is_overridable_by_brand_with_caps_limits_or_several_caps() -> None:
    """A cap, an int limit (30 days), several caps, or none; brands are normalised."""
    policy = RetryPolicy(
        network_caps={
            **NETWORK_CAPS,
            "visa": 20,
            "mastercard": [RetryCap(35), RetryCap(10, 1)],
            " AMEX": RetryCap(5, 7),
            "discover": (),
        }
    )
    assert dict(policy.network_caps) == {
        "visa": (RetryCap(20),),
        "mastercard": (RetryCap(35), RetryCap(10, DAY)),
        "amex": (RetryCap(5, timedelta(days=7)),),
        "discover": (),
    }
    assert policy.caps_for("discover") == ()
    assert RetryPolicy(network_caps={}).caps_for("visa") == ()
    # The table is read-only, and the policy stays a value.
    with pytest.raises(TypeError):
        policy.network_caps["jcb"] = (RetryCap(1),)  # type: ignore[index]
    assert RetryPolicy(network_caps={"visa": 15, "mastercard": 35}) == RetryPolicy()
    assert attrs.evolve(RetryPolicy(), delays=(2,)).network_caps == NETWORK_CAPS


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ([("visa", 15)], "maps card brands"),
        ({"": 15}, "empty card brand"),
        ({"  ": 15}, "empty card brand"),
        ({"visa": 15, "VISA": 20}, "twice"),
        ({"visa": "15"}, "must be caps"),
        ({"visa": 1.5}, "must be caps"),
        ({"visa": {"limit": 15}}, "must be caps"),
        ({"visa": True}, "RetryCap or an int"),
        ({"visa": [15, "20"]}, "RetryCap or an int"),
        ({"visa": 0}, "limit"),
        ({7: 15}, "brand is a string"),
    ],
)
def test_a_bad_table_is_refused(table: Any, message: str) -> None:
    """Typed errors naming what is wrong; no policy is made."""
    with pytest.raises(InvalidInputError, match=message):
        RetryPolicy(network_caps=table)


def test_brands_are_compared_stripped_and_in_lower_case() -> None:
    """``normalise_brand`` is the table's key function; an empty brand is none."""
    assert normalise_brand(" Visa ") == "visa"
    assert normalise_brand("") is None
    assert normalise_brand(None) is None
    assert network_caps({"MASTERCARD": 35}) == {"mastercard": (RetryCap(35),)}


# --- capped_retry_at: examples -------------------------------------------------------------


def test_under_the_cap_the_retry_keeps_its_time() -> None:
    """14 reattempts in the window: the 15th is allowed when planned."""
    assert capped_retry_at(VISA, days(*range(14)), T + 14 * DAY) == T + 14 * DAY


def test_at_the_cap_the_retry_waits_for_the_oldest_to_leave_the_window() -> None:
    """15 reattempts on days 0..14: the one planned on day 15 moves to day 30."""
    assert capped_retry_at(VISA, days(*range(15)), T + 15 * DAY) == T + 30 * DAY


def test_a_reattempt_exactly_one_window_old_no_longer_counts() -> None:
    """The window is (t - 30 days, t]: at day 30 the day-0 reattempt is out."""
    assert capped_retry_at(VISA, days(*range(15)), T + 30 * DAY) == T + 30 * DAY
    assert capped_retry_at(VISA, days(*range(15)), T + 30 * DAY - timedelta(seconds=1)) == (
        T + 30 * DAY
    )


def test_older_reattempts_do_not_count_and_order_does_not_matter() -> None:
    """Reattempts before the window are ignored; the input need not be sorted."""
    old = days(-40, -31)
    recent = days(*reversed(range(1, 15)))  # 14 in the window
    assert capped_retry_at(VISA, old + recent, T + 15 * DAY) == T + 15 * DAY


def test_over_a_lowered_cap_the_retry_waits_for_enough_of_them_to_leave() -> None:
    """Five in the window under a cap of 3: wait until three are out (the third oldest + window)."""
    cap = (RetryCap(3, 10),)
    assert capped_retry_at(cap, days(0, 1, 2, 3, 4), T + 5 * DAY) == T + 12 * DAY


def test_several_caps_each_hold_the_retry_and_the_latest_wins() -> None:
    """A daily cap of 2 and a 30-day cap of 4: the 30-day one moves it further."""
    caps = (RetryCap(2, 1), RetryCap(4, 30))
    times = days(0, 0.5, 10, 10.5)
    assert capped_retry_at(caps, times, T + 10.75 * DAY) == T + 30 * DAY
    # Only the daily cap binds: the retry waits for the day to roll over.
    assert capped_retry_at(caps, days(9, 10, 10.5), T + 10.75 * DAY) == T + 11 * DAY


def test_a_move_is_checked_again_against_the_reattempts_it_reaches() -> None:
    """Reattempts after the planned time (another worker's) can push the retry again."""
    cap = (RetryCap(2, 10),)
    # At day 5 the window holds days 0 and 4: wait for day 10. There, days 4 and 9 fill
    # it again: wait for day 14.
    assert capped_retry_at(cap, days(0, 4, 9), T + 5 * DAY) == T + 14 * DAY


def test_without_caps_the_retry_keeps_its_time() -> None:
    """An uncapped brand (no caps) is never moved."""
    assert capped_retry_at((), days(*range(100)), T) == T


def test_instants_must_be_time_zone_aware() -> None:
    """A naive planned time or reattempt time is refused."""
    naive = datetime(2027, 3, 15, 9, 0)  # noqa: DTZ001 - the point of the test
    with pytest.raises(NaiveDatetimeError, match="planned"):
        capped_retry_at(VISA, [], naive)
    with pytest.raises(NaiveDatetimeError, match="retried"):
        capped_retry_at(VISA, [naive], T)


# --- capped_retry_at: properties ------------------------------------------------------------

offsets = st.lists(st.integers(-24 * 10, 24 * 30), max_size=60)  # hours around T
cap_sets = st.lists(retry_caps(max_limit=4, max_window_days=10), min_size=1, max_size=3).map(tuple)


def at_hours(hours: list[int]) -> list[datetime]:
    """Instants ``hours`` hours after T."""
    return [T + timedelta(hours=h) for h in hours]


@given(cap_sets, offsets, st.integers(0, 24 * 30))
def test_the_answer_is_the_first_allowed_instant_from_the_planned_time(
    caps: tuple[RetryCap, ...], hours: list[int], planned_hours: int
) -> None:
    """Never earlier than planned; allowed there; every earlier instant from planned is not."""
    times = at_hours(hours)
    planned = T + timedelta(hours=planned_hours)
    answer = capped_retry_at(caps, times, planned)
    assert answer >= planned
    assert allowed(caps, times, answer)
    if answer > planned:
        # Allowed-ness only changes where a reattempt enters or leaves a window:
        # check planned and every such instant before the answer.
        edges = {t + cap.window for t in times for cap in caps} | set(times)
        probes = {planned} | {e for e in edges if planned <= e < answer}
        probes |= {e - timedelta(seconds=1) for e in probes if planned < e}
        assert not any(allowed(caps, times, p) for p in probes if planned <= p < answer)


@given(cap_sets, st.lists(st.integers(0, 24 * 5), max_size=80))
def test_a_moved_schedule_never_exceeds_a_cap_in_any_window(
    caps: tuple[RetryCap, ...], gaps: list[int]
) -> None:
    """Retries planned any number of hours apart, each moved as needed: no window overflows.

    Each retry is planned ``gap`` hours after the previous one was made (as
    a retry policy's delays do) and moved by ``capped_retry_at`` given all
    the reattempts made before it.
    """
    made: list[datetime] = []
    at = T
    for gap in gaps:
        at = capped_retry_at(caps, made, at + timedelta(hours=gap))
        made.append(at)
    assert made == sorted(made)
    for cap in caps:
        # The fullest window ends at a reattempt: check the window ending at each.
        assert all(in_window(cap, made, end) <= cap.limit for end in made)


@given(st.integers(1, 20), st.integers(0, 40))
def test_at_most_limit_reattempts_per_window_when_retrying_daily(limit: int, count: int) -> None:
    """Daily retries of one card under a cap of ``limit`` in 30 days: ``limit`` a window at most."""
    cap = (RetryCap(limit),)
    made: list[datetime] = []
    at = T
    for _ in range(count):
        at = capped_retry_at(cap, made, at + DAY)
        made.append(at)
    assert all(in_window(cap[0], made, end) <= limit for end in made)
    # The first ``limit`` go out a day apart; the next waits for the first to leave the window.
    assert made[:limit] == [T + n * DAY for n in range(1, min(limit, count) + 1)]
    if count > limit:
        assert made[limit] == made[0] + timedelta(days=30)


# --- what counts, and the brand --------------------------------------------------------------


def declined(number: int, method: str = "pm_1", **changes: Any) -> PaymentAttempt:
    """An attempt of itm_1 that the network declined on ``method``."""
    return an_attempt(
        AttemptStatus.FAILED, number=number, payment_method_id=method,
        decline_code="insufficient_funds", decline_class=DeclineClass.SOFT, **changes,
    )  # fmt: skip


def test_a_reattempt_retries_a_decline_on_the_same_payment_method() -> None:
    """After a decline on a method the next charge on it is a reattempt; on another, it is not."""
    assert not is_reattempt([], "pm_1")
    assert is_reattempt([declined(1)], "pm_1")
    assert not is_reattempt([declined(1)], "pm_2")


def test_refusals_and_successes_are_not_declines_to_retry() -> None:
    """A request the gateway refused has no decline class; so has a success."""
    refused = an_attempt(AttemptStatus.FAILED, payment_method_id="pm_1", message="bad request")
    paid = an_attempt(AttemptStatus.SUCCEEDED, payment_method_id="pm_1")
    assert not is_reattempt([refused, paid], "pm_1")


def test_the_brand_is_the_last_one_reported_for_the_method() -> None:
    """Attempts on other methods or without a brand do not say."""
    attempts = [
        declined(1, card_brand="visa"),
        declined(2, method="pm_2", card_brand="mastercard"),
        declined(3),
    ]
    assert card_brand_of(attempts, "pm_1") == "visa"
    assert card_brand_of(attempts, "pm_2") == "mastercard"
    assert card_brand_of(attempts, "pm_3") is None
