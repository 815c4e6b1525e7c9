"""The shipped Hypothesis strategies generate what their docstrings promise."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollpay.domain.calendar import Interval
from enrollpay.domain.money import Money, currency_exponent, known_currencies
from enrollpay.domain.plans import Deposit, FullPayment, Installments, PaymentPlan, Subscription
from enrollpay.domain.refunds import RefundPolicy
from enrollpay.domain.retry import RetryPolicy
from enrollpay.domain.retry_caps import RetryCap
from enrollpay.domain.schedule import DEFAULT_HORIZON, ScheduleLine, build_schedule
from enrollpay.errors import PlanError
from enrollpay.testing.strategies import (
    ScheduleCase,
    aware_datetimes,
    currencies,
    dates,
    deposit_percents,
    deposits,
    granularities,
    installments,
    intervals,
    money,
    plans,
    refund_policies,
    retry_caps,
    retry_delays,
    retry_policies,
    schedule_cases,
    schedules,
    subscriptions,
    time_zones,
)
from enrollpay.testing.strategies._schedules import _percent_range

KINDS = ("full", "installments", "subscription")


# --- money ----------------------------------------------------------------------------


@given(currencies())
def test_currencies_are_known_codes(code: str) -> None:
    """Every drawn code is one babel knows, in upper case."""
    assert code in known_currencies()
    assert code == code.upper()


@given(st.data(), st.sets(st.sampled_from((0, 2, 3, 4)), min_size=1))
def test_currencies_keep_only_the_asked_exponents(data: st.DataObject, exponents: set[int]) -> None:
    """With exponents=, every drawn currency has one of them."""
    code = data.draw(currencies(exponents=exponents))
    assert currency_exponent(code) in exponents


def test_currencies_refuse_exponents_no_currency_has() -> None:
    """No currency has 7 decimals: the strategy says so instead of drawing nothing."""
    with pytest.raises(ValueError, match="exponent"):
        currencies(exponents={7})


@given(money())
def test_money_has_its_currency_exponent_and_the_default_bounds(value: Money) -> None:
    """Money round-trips through its amount in major units; abs(minor) is at most 10**12."""
    assert Money.of(str(value.amount), value.currency) == value
    assert value.amount == Decimal(value.minor).scaleb(-currency_exponent(value.currency))
    assert -(10**12) <= value.minor <= 10**12


@given(
    st.data(),
    st.integers(-(10**15), 10**15),
    st.integers(0, 10**6),
    st.sampled_from((1, 5, 10, 100)),
)
def test_money_stays_within_minor_bounds_on_the_granularity(
    data: st.DataObject, low: int, width: int, granularity: int
) -> None:
    """min_minor <= minor <= max_minor, and minor is a multiple of the granularity."""
    high = low + width + granularity  # always room for one multiple
    value = data.draw(money(min_minor=low, max_minor=high, granularity=granularity))
    assert low <= value.minor <= high
    assert value.minor % granularity == 0


@given(money(min_value="0.01", max_value="1000"))
def test_money_major_bounds_hold_in_every_currency(value: Money) -> None:
    """Major-unit bounds apply to the amount whatever the currency's exponent."""
    assert Decimal("0.01") <= value.amount <= Decimal(1000)


@given(money("JPY", min_value="0.50", max_value="3.99"))
def test_money_major_bounds_round_inwards_to_the_minor_unit(value: Money) -> None:
    """0.50 to 3.99 JPY becomes 1 to 3 yen: no amount outside the bounds."""
    assert value.currency == "JPY"
    assert 1 <= value.minor <= 3


@given(money(min_value="0.001", max_value="0.009"))
def test_money_skips_currencies_with_no_amount_in_range(value: Money) -> None:
    """Only currencies with three or more decimals have an amount between 0.001 and 0.009."""
    assert value.exponent >= 3
    assert Decimal("0.001") <= value.amount <= Decimal("0.009")


@given(money("usd", min_minor=0, max_minor=0))
def test_money_normalises_a_fixed_currency(value: Money) -> None:
    """A currency given as a lower-case code comes out as the normalised code."""
    assert value == Money(0, "USD")


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"min_value": "1", "min_minor": 100}, ValueError),
        ({"max_value": "1", "max_minor": 100}, ValueError),
        ({"granularity": 0}, ValueError),
        ({"granularity": True}, ValueError),
        ({"min_value": "1.00", "max_value": "0.99"}, ValueError),
        ({"min_minor": 1, "max_minor": 4, "granularity": 5}, ValueError),
        ({"min_value": 1.5}, TypeError),
    ],
)
def test_money_refuses_bounds_that_make_no_sense(kwargs: dict[str, object], error: type) -> None:
    """Both kinds of bound on one side, an empty range, a bad step or a float bound raise."""
    with pytest.raises(error):
        money("USD", **kwargs)  # type: ignore[arg-type]  # deliberately wrong values


@given(granularities())
def test_granularities_are_steps_a_gateway_uses(step: int) -> None:
    """Steps are positive and divide 100 minor units."""
    assert step >= 1
    assert 100 % step == 0


# --- time -----------------------------------------------------------------------------


@given(dates())
def test_dates_stay_within_the_default_bounds(day: date) -> None:
    """Dates run from 1990-01-01 to 2200-12-31."""
    assert date(1990, 1, 1) <= day <= date(2200, 12, 31)


@given(dates(min_value=date(2024, 2, 28), max_value=date(2024, 3, 1)))
def test_dates_take_their_bounds(day: date) -> None:
    """Custom bounds are inclusive."""
    assert day in {date(2024, 2, 28), date(2024, 2, 29), date(2024, 3, 1)}


@given(time_zones())
def test_time_zones_are_whole_minute_offsets_within_14_hours(zone: timezone) -> None:
    """Every zone has a fixed offset of whole minutes, at most 14 hours from UTC."""
    offset = zone.utcoffset(None)
    assert offset is not None
    assert abs(offset) <= timedelta(hours=14)
    assert offset % timedelta(minutes=1) == timedelta(0)


@given(aware_datetimes())
def test_aware_datetimes_are_aware_and_within_their_wall_clock_bounds(moment: datetime) -> None:
    """Each datetime has an offset; its local time lies in 2000..2100."""
    assert moment.utcoffset() is not None
    naive = moment.replace(tzinfo=None)
    assert datetime(2000, 1, 1) <= naive <= datetime(2100, 1, 1)  # noqa: DTZ001


@given(aware_datetimes(timezones=st.just(UTC)))
def test_aware_datetimes_take_their_zones(moment: datetime) -> None:
    """timezones= chooses the zones."""
    assert moment.tzinfo is UTC


@given(intervals(units={"week", "month"}, min_count=2, max_count=3))
def test_intervals_keep_their_units_and_counts(interval: Interval) -> None:
    """Units come from units=, counts from min_count..max_count."""
    assert interval.unit in {"week", "month"}
    assert 2 <= interval.count <= 3


def test_intervals_refuse_no_units() -> None:
    """An empty unit set cannot generate anything."""
    with pytest.raises(ValueError, match="units"):
        intervals(units=())


# --- plans ----------------------------------------------------------------------------


@given(deposit_percents())
def test_deposit_percents_are_strictly_between_0_and_100_in_hundredths(percent: Decimal) -> None:
    """0 < p < 100 with at most two decimal places."""
    assert Decimal(0) < percent < Decimal(100)
    assert percent == percent.quantize(Decimal("0.01"))


@given(deposits("KWD", max_fixed_minor=500))
def test_fixed_deposits_are_positive_and_in_the_currency(deposit: Deposit) -> None:
    """A fixed deposit is 1 to max_fixed_minor minor units in the given currency."""
    if deposit.fixed_amount is not None:
        assert deposit.fixed_amount.currency == "KWD"
        assert 1 <= deposit.fixed_amount.minor <= 500
    else:
        assert deposit.percent_value is not None


@given(installments("EUR", max_count=5, deposit=True))
def test_installments_with_deposit_always_have_one(plan: Installments) -> None:
    """deposit=True forces a deposit; fixed ones are in the currency; counts stay in bounds."""
    assert plan.deposit is not None
    assert plan.deposit.fixed_amount is None or plan.deposit.fixed_amount.currency == "EUR"
    assert 1 <= plan.count <= 5


@given(installments(deposit=False))
def test_installments_without_deposit_have_none(plan: Installments) -> None:
    """deposit=False draws plans without a deposit."""
    assert plan.deposit is None
    assert 1 <= plan.count <= 60


@given(subscriptions("GBP", max_cycles=4, max_trial_days=3, open_ended=False))
def test_finite_subscriptions_keep_their_bounds(plan: Subscription) -> None:
    """Cycles, trial and amount stay within the documented bounds."""
    assert plan.cycles is not None
    assert 1 <= plan.cycles <= 4
    assert 0 <= plan.trial_days <= 3
    assert plan.amount is None or (plan.amount.currency == "GBP" and plan.amount.minor >= 1)


@given(subscriptions(open_ended=True))
def test_open_ended_subscriptions_have_no_cycles(plan: Subscription) -> None:
    """open_ended=True gives cycles=None."""
    assert plan.cycles is None


@given(plans("CHF"))
def test_plans_put_fixed_amounts_in_the_currency(plan: PaymentPlan) -> None:
    """Every plan kind appears, and its fixed amounts are in the given currency."""
    amounts: list[Money] = []
    if isinstance(plan, Installments) and plan.deposit and plan.deposit.fixed_amount:
        amounts.append(plan.deposit.fixed_amount)
    if isinstance(plan, Subscription) and plan.amount is not None:
        amounts.append(plan.amount)
    assert isinstance(plan, FullPayment | Installments | Subscription)
    assert all(amount.currency == "CHF" for amount in amounts)


# --- schedules ------------------------------------------------------------------------


@given(schedule_cases())
def test_schedule_cases_are_accepted_and_hold_what_build_schedule_returns(
    case: ScheduleCase,
) -> None:
    """build_schedule accepts the inputs and returns exactly the case's lines."""
    assert build_schedule(case.plan, case.price, case.start, granularity=case.granularity) == (
        case.lines
    )
    assert case.price.minor > 0
    assert case.price.minor % case.granularity == 0
    assert all(line.amount.minor % case.granularity == 0 for line in case.lines)
    assert all(line.amount.currency == case.price.currency for line in case.lines)


@given(schedule_cases(kinds={"full", "installments"}))
def test_finite_schedule_cases_sum_to_the_price(case: ScheduleCase) -> None:
    """Full and installment schedules add up to the price exactly."""
    assert not isinstance(case.plan, Subscription)
    assert sum(line.amount.minor for line in case.lines) == case.price.minor


@given(schedule_cases(kinds={"subscription"}))
def test_subscription_cases_hold_their_cycles_or_the_horizon(case: ScheduleCase) -> None:
    """A subscription case has cycles lines, or DEFAULT_HORIZON when open ended."""
    assert isinstance(case.plan, Subscription)
    expected = DEFAULT_HORIZON if case.plan.cycles is None else case.plan.cycles
    assert len(case.lines) == expected


@given(st.data(), st.sets(st.sampled_from(KINDS), min_size=1))
def test_schedule_cases_draw_only_the_asked_kinds(data: st.DataObject, kinds: set[str]) -> None:
    """The plan's kind is one of kinds=."""
    case = data.draw(schedule_cases(kinds=kinds))
    assert case.plan.kind in kinds


@given(
    schedule_cases(
        "JPY",
        granularity=100,
        start=st.just(date(2027, 1, 31)),
        max_count=3,
        max_price_units=50,
    )
)
def test_schedule_cases_take_currency_granularity_start_and_sizes(case: ScheduleCase) -> None:
    """Fixed currency, step and start are used; price and count stay within their bounds."""
    assert case.price.currency == "JPY"
    assert case.granularity == 100
    assert case.start == date(2027, 1, 31)
    assert 100 <= case.price.minor <= 50 * 100
    if isinstance(case.plan, Installments):
        assert case.plan.count <= 3


@pytest.mark.parametrize(
    "kwargs",
    [{"kinds": ()}, {"kinds": {"loan"}}, {"max_price_units": 1}, {"max_count": 0}],
)
def test_schedule_cases_refuse_impossible_requests(kwargs: dict[str, object]) -> None:
    """No kinds, unknown kinds, or no room for an installment are refused up front."""
    with pytest.raises(ValueError):  # noqa: PT011 - the messages differ per argument
        schedule_cases(**kwargs)  # type: ignore[arg-type]  # deliberately wrong values


@given(schedules("USD"))
def test_schedules_are_numbered_lines_on_non_decreasing_dates(
    lines: tuple[ScheduleLine, ...],
) -> None:
    """A built schedule is numbered from 1 and never goes back in time."""
    assert [line.seq for line in lines] == list(range(1, len(lines) + 1))
    assert [line.due for line in lines] == sorted(line.due for line in lines)
    assert all(line.amount.currency == "USD" for line in lines)


@given(st.integers(2, 10**9), st.data())
def test_percent_range_is_exactly_the_deposits_that_fit(units: int, data: st.DataObject) -> None:
    """The ends of the percent range fit the price, and one hundredth beyond them does not."""
    count = data.draw(st.integers(1, min(units - 1, 120)))
    price = Money(units, "USD")

    def fits(hundredths: int) -> bool:
        try:
            deposit = Deposit.percent(Decimal(hundredths).scaleb(-2)).amount_for(price)
        except PlanError:
            return False
        return price.minor - deposit.minor >= count

    low, high = _percent_range(units, count)
    assert low <= high
    assert fits(low)
    assert fits(high)
    assert low == 1 or not fits(low - 1)
    assert high == 9999 or not fits(high + 1)


# --- policies -------------------------------------------------------------------------


@given(refund_policies("EUR", max_fee_minor=1000))
def test_refund_policies_keep_their_bounds(policy: RefundPolicy) -> None:
    """Cooling-off 0..60 days; fees None or 0..max_fee_minor in the currency."""
    assert 0 <= policy.cooling_off_days <= 60
    assert policy.proration in {"time", "none"}
    for fee in (policy.non_refundable, policy.admin_fee):
        assert fee is None or (fee.currency == "EUR" and 0 <= fee.minor <= 1000)


@given(refund_policies())
def test_refund_policies_use_one_currency_per_policy(policy: RefundPolicy) -> None:
    """Without a currency, both fees of one policy share the drawn currency."""
    fees = [fee for fee in (policy.non_refundable, policy.admin_fee) if fee is not None]
    assert len({fee.currency for fee in fees}) <= 1


@given(retry_delays(max_size=3))
def test_retry_delays_are_positive_and_few(delays: tuple[timedelta, ...]) -> None:
    """At most max_size delays, each positive and at most 30 days."""
    assert len(delays) <= 3
    assert all(timedelta(0) < delay <= timedelta(days=30) for delay in delays)


@given(retry_policies())
def test_retry_policies_allow_one_attempt_per_delay_plus_the_first(policy: RetryPolicy) -> None:
    """A policy has up to 8 delays, so up to 9 attempts."""
    assert policy.max_attempts == len(policy.delays) + 1 <= 9


@given(retry_caps(max_limit=5, max_window_days=10))
def test_retry_caps_stay_within_their_bounds(cap: RetryCap) -> None:
    """A positive limit up to max_limit; a window of 1 hour up to max_window_days (or 30 days)."""
    assert 1 <= cap.limit <= 5
    assert timedelta(hours=1) <= cap.window <= timedelta(days=30)
    assert cap.window == timedelta(days=30) or cap.window <= timedelta(days=10)


# --- Hypothesis stays optional --------------------------------------------------------

# Runs in a fresh interpreter; "blocked" makes `import hypothesis` fail there.
IMPORT_SCRIPT = """
import json, sys
if sys.argv[1] == "blocked":
    sys.modules["hypothesis"] = None
import enrollpay.testing
report = {"kit": "FakeGateway" in dir(enrollpay.testing), "loaded": "hypothesis" in sys.modules}
try:
    import enrollpay.testing.strategies
except ImportError as error:
    report["error"] = str(error)
print(json.dumps(report))
"""


def import_in_child(mode: str) -> dict[str, object]:
    """What a fresh interpreter reports after importing the kit and then its strategies."""
    completed = subprocess.run(
        [sys.executable, "-I", "-c", IMPORT_SCRIPT, mode],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    report: dict[str, object] = json.loads(completed.stdout)
    return report


def test_the_test_kit_imports_without_hypothesis() -> None:
    """Without Hypothesis, enrollpay.testing imports and the strategies name the extra."""
    report = import_in_child("blocked")
    assert report["kit"] is True
    assert "pip install enrollpay[testing]" in str(report["error"])


def test_the_test_kit_does_not_load_hypothesis_until_asked() -> None:
    """With Hypothesis installed, import enrollpay.testing still leaves it unloaded."""
    report = import_in_child("installed")
    assert report == {"kit": True, "loaded": False}
