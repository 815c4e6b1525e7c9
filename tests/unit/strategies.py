"""Hypothesis strategies for the pure domain: currencies, money, intervals, plans, dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from hypothesis import strategies as st

from enrollpay.domain.calendar import Interval, IntervalUnit
from enrollpay.domain.money import Money, known_currencies
from enrollpay.domain.plans import Deposit, FullPayment, Installments, PaymentPlan, Subscription

#: Every currency babel knows, current and historic, in a stable order.
CURRENCIES: tuple[str, ...] = tuple(sorted(known_currencies()))
UNITS: tuple[IntervalUnit, ...] = ("day", "week", "month", "year")

currencies = st.sampled_from(CURRENCIES)
granularities = st.sampled_from((1, 1, 1, 5, 10, 25, 50, 100))
dates = st.dates(min_value=date(1990, 1, 1), max_value=date(2200, 12, 31))
intervals = st.builds(Interval, st.sampled_from(UNITS), st.integers(min_value=1, max_value=12))
#: Time zones with whole-minute offsets, UTC included.
time_zones = st.just(UTC) | st.builds(
    timezone, st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timedelta(minutes=m))
)
aware_datetimes = st.datetimes(
    # Hypothesis takes naive bounds; timezones= makes every value aware.
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - naive bound, see above
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001 - naive bound, see above
    timezones=time_zones,
)


def relative_steps(unit: str, steps: int) -> relativedelta:
    """``steps`` units as a relativedelta, built without :meth:`Interval.times`."""
    deltas = {
        "day": relativedelta(days=steps),
        "week": relativedelta(weeks=steps),
        "month": relativedelta(months=steps),
        "year": relativedelta(years=steps),
    }
    return deltas[unit]


def money(
    currency: str | st.SearchStrategy[str] | None = None,
    *,
    min_minor: int = -(10**12),
    max_minor: int = 10**12,
) -> st.SearchStrategy[Money]:
    """Money in ``currency`` (any known one by default) between the given minor bounds."""
    codes = currencies if currency is None else currency
    if isinstance(codes, str):
        codes = st.just(codes)
    return st.builds(Money, st.integers(min_value=min_minor, max_value=max_minor), codes)


@st.composite
def prices(
    draw: st.DrawFn, currency: str | None = None, *, granularity: int = 1, min_units: int = 1
) -> Money:
    """A positive price that is a multiple of ``granularity`` and has at least ``min_units``."""
    code = draw(currencies) if currency is None else currency
    units = draw(st.integers(min_value=min_units, max_value=max(min_units, 10**9)))
    return Money(units * granularity, code)


percents = st.decimals(
    min_value=Decimal("0.01"), max_value=Decimal("99.99"), places=2, allow_nan=False
)


def deposits(currency: str) -> st.SearchStrategy[Deposit]:
    """Percent deposits, or fixed deposits in ``currency``."""
    return st.builds(Deposit.percent, percents) | st.builds(
        Deposit.fixed, money(currency, min_minor=1, max_minor=10**9)
    )


def plans(currency: str) -> st.SearchStrategy[PaymentPlan]:
    """Any plan of any kind, amounts in ``currency`` (not every one fits every price)."""
    installments = st.builds(
        Installments,
        st.integers(min_value=1, max_value=60),
        intervals,
        st.none() | deposits(currency),
    )
    subscriptions = st.builds(
        Subscription,
        intervals,
        amount=st.none() | money(currency, min_minor=1, max_minor=10**9),
        cycles=st.none() | st.integers(min_value=1, max_value=36),
        trial_days=st.integers(min_value=0, max_value=60),
    )
    return st.just(FullPayment()) | installments | subscriptions


@st.composite
def any_plans(draw: st.DrawFn) -> PaymentPlan:
    """A plan whose money is in a currency drawn from every known currency."""
    return draw(plans(draw(currencies)))
