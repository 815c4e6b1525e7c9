from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollpay.domain.retry import (
    HARD_DECLINE_CODES,
    DeclineClass,
    RetryDecision,
    RetryPolicy,
    classify_decline,
    decide_after_decline,
    next_retry_at,
)
from enrollpay.errors import InvalidInputError, NaiveDatetimeError
from enrollpay.testing.strategies import aware_datetimes, retry_delays

T = datetime(2027, 3, 15, 9, 30, tzinfo=UTC)
DEFAULT = RetryPolicy()


# --- classification -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "decline"),
    [
        ("stolen_card", DeclineClass.HARD),
        ("lost_card", DeclineClass.HARD),
        ("fraudulent", DeclineClass.HARD),
        ("pickup_card", DeclineClass.HARD),
        (" Expired_Card ", DeclineClass.HARD),
        ("authentication_required", DeclineClass.AUTHENTICATION),
        ("insufficient_funds", DeclineClass.SOFT),
        ("DO_NOT_HONOR", DeclineClass.SOFT),
        ("card_declined", DeclineClass.SOFT),
        ("something_new", DeclineClass.UNKNOWN),
        ("", DeclineClass.UNKNOWN),
        (None, DeclineClass.UNKNOWN),
    ],
)
def test_classify_decline(code: str | None, decline: DeclineClass) -> None:
    """Codes are normalised (case, spaces) and mapped to their class."""
    assert classify_decline(code) is decline


def test_every_hard_code_is_classified_hard() -> None:
    """The published hard-decline set and the classifier agree."""
    assert HARD_DECLINE_CODES
    assert {classify_decline(code) for code in HARD_DECLINE_CODES} == {DeclineClass.HARD}


def test_decline_classes_are_strings() -> None:
    """DeclineClass values serialise as their codes."""
    assert str(DeclineClass.AUTHENTICATION) == "authentication_required"
    assert DeclineClass("hard") is DeclineClass.HARD


# --- policy ---------------------------------------------------------------------------


def test_default_policy_is_1_3_7_days() -> None:
    """Three retries, 1, 3 and 7 days after each failure: four attempts in all."""
    assert DEFAULT.delays == (timedelta(days=1), timedelta(days=3), timedelta(days=7))
    assert DEFAULT.max_attempts == 4


def test_delays_accept_days_and_timedeltas() -> None:
    """Ints are days; timedeltas are taken as given."""
    policy = RetryPolicy(delays=[2, timedelta(hours=6)])
    assert policy.delays == (timedelta(days=2), timedelta(hours=6))
    assert RetryPolicy(delays=()).max_attempts == 1


@pytest.mark.parametrize("delay", [0, -1, timedelta(0), timedelta(seconds=-1)])
def test_delays_must_be_positive(delay: Any) -> None:
    """A zero or negative delay would retry at once or in the past."""
    with pytest.raises(InvalidInputError, match="positive"):
        RetryPolicy(delays=(1, delay))


@pytest.mark.parametrize("delay", [True, 1.5, "1", None])
def test_delays_must_be_days_or_timedeltas(delay: Any) -> None:
    """Bools, floats and strings are refused."""
    with pytest.raises(InvalidInputError, match="int"):
        RetryPolicy(delays=(delay,))


# --- next_retry_at --------------------------------------------------------------------


def test_default_schedule_retries_after_1_3_and_7_days_then_defaults() -> None:
    """Failures at T, U, V give T+1d, U+3d, V+7d; the fourth failure gives None."""
    first = next_retry_at(DEFAULT, 1, T)
    assert first == T + timedelta(days=1)
    u = first + timedelta(minutes=2)
    second = next_retry_at(DEFAULT, 2, u)
    assert second == u + timedelta(days=3)
    v = second + timedelta(hours=1)
    assert next_retry_at(DEFAULT, 3, v) == v + timedelta(days=7)
    assert next_retry_at(DEFAULT, 4, v + timedelta(days=7)) is None
    assert next_retry_at(DEFAULT, 9, T) is None


def test_retry_keeps_the_failure_time_zone() -> None:
    """The retry instant is in the zone of the failure instant."""
    tz = timezone(timedelta(hours=-5))
    at = next_retry_at(DEFAULT, 1, datetime(2027, 3, 15, 23, 0, tzinfo=tz))
    assert at == datetime(2027, 3, 16, 23, 0, tzinfo=tz)
    assert at is not None
    assert at.tzinfo is tz


@pytest.mark.parametrize("failures", [0, -1, True, 1.0])
def test_failures_count_from_one(failures: Any) -> None:
    """Zero, negative or non-int failure counts are refused."""
    with pytest.raises(InvalidInputError, match="failures"):
        next_retry_at(DEFAULT, failures, T)


def test_naive_failure_times_are_refused() -> None:
    """A failure time without a zone is a NaiveDatetimeError."""
    with pytest.raises(NaiveDatetimeError, match="failed_at"):
        next_retry_at(DEFAULT, 1, datetime(2027, 3, 15, 9, 30))  # noqa: DTZ001 - the point


# --- decide_after_decline -------------------------------------------------------------


@pytest.mark.parametrize("failures", [1, 2, 3, 4, 10])
def test_hard_declines_are_never_retried(failures: int) -> None:
    """A hard decline asks for a new payment method whatever the count."""
    assert decide_after_decline(DEFAULT, DeclineClass.HARD, failures, T) == RetryDecision(
        "requires_payment_method"
    )


@pytest.mark.parametrize("failures", [1, 4])
def test_authentication_declines_wait_for_the_customer(failures: int) -> None:
    """authentication_required gives requires_action, not a retry."""
    decision = decide_after_decline(
        DEFAULT, classify_decline("authentication_required"), failures, T
    )
    assert decision == RetryDecision("requires_action")
    assert decision.retry_at is None


@pytest.mark.parametrize("decline", [DeclineClass.SOFT, DeclineClass.UNKNOWN])
def test_soft_declines_follow_the_schedule_then_default(decline: DeclineClass) -> None:
    """Soft and unknown declines retry at next_retry_at, then default on the fourth."""
    assert decide_after_decline(DEFAULT, decline, 1, T) == RetryDecision(
        "retry", T + timedelta(days=1)
    )
    assert decide_after_decline(DEFAULT, decline, 3, T) == RetryDecision(
        "retry", T + timedelta(days=7)
    )
    assert decide_after_decline(DEFAULT, decline, 4, T) == RetryDecision("default")


@given(
    retry_delays(max_size=8),
    aware_datetimes(),
    st.lists(st.integers(min_value=0, max_value=3600), min_size=8, max_size=8),
)
def test_retry_times_strictly_increase_until_default(
    delays: tuple[timedelta, ...], first_failure: datetime, latencies: list[int]
) -> None:
    """Each retry falls after the failure that caused it; after len(delays) retries, default."""
    policy = RetryPolicy(delays=delays)
    failed_at = first_failure
    seen: list[datetime] = [failed_at]
    for failures in range(1, len(delays) + 1):
        at = next_retry_at(policy, failures, failed_at)
        assert at is not None
        assert at == failed_at + delays[failures - 1]
        assert at > seen[-1]
        seen.append(at)
        # the retry itself fails a little after it was due
        failed_at = at + timedelta(seconds=latencies[failures - 1])
    assert next_retry_at(policy, len(delays) + 1, failed_at) is None
    final = decide_after_decline(policy, DeclineClass.SOFT, policy.max_attempts, failed_at)
    assert final.action == "default"
