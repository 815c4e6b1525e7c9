"""The report rows, and the rules that turn counts and sums into them.

Both report implementations build their rows here: the reference functions
of :mod:`enrollpay.reports` (over the in-memory store's records) and the
SQL store's aggregating queries (:mod:`enrollpay.storage.sql.reports`). So
net amounts, rates, periods, buckets and the dunning tallies are defined
once; :mod:`enrollpay.reports` re-exports the rows and says what each
number means.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

import attrs

from enrollpay.domain.lifecycle import OPEN_ITEM_STATUSES, EnrollmentStatus, ItemStatus
from enrollpay.domain.money import Money
from enrollpay.errors import InvalidInputError

__all__ = [
    "AGING_BUCKETS",
    "AgingRow",
    "ForecastRow",
    "ItemStatusRow",
    "Period",
    "ProductRow",
    "RecoveryRow",
    "RecoveryTally",
    "RevenueRow",
    "StatusBreakdown",
    "check_period",
    "forecast_end",
    "in_dates",
    "month_number",
    "period_start",
    "product_row",
    "ratio",
    "revenue_rows",
]

Period = Literal["day", "week", "month"]
#: Aging buckets: (label, first day overdue, last day overdue or None).
AGING_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("1-30", 1, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("90+", 91, None),
)


def check_period(by: str) -> None:
    """Refuse a period other than day, week or month (``InvalidInputError``)."""
    if by not in ("day", "week", "month"):
        raise InvalidInputError(f"period must be day, week or month, got {by!r}")


def period_start(day: date, by: Period) -> date:
    """The first day of the ``by`` period that contains ``day``."""
    check_period(by)
    if by == "week":
        return day - timedelta(days=day.weekday())
    if by == "month":
        return day.replace(day=1)
    return day


def ratio(part: int, whole: int) -> Decimal:
    """``part / whole`` rounded half-up to 4 places (0 when ``whole`` is 0)."""
    if whole == 0:
        return Decimal("0.0000")
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


@attrs.frozen
class RevenueRow:
    """Money in and out during one period, in one currency."""

    period: date
    currency: str
    gross: Money
    refunded: Money
    net: Money
    payments: int
    refunds: int


@attrs.frozen
class ItemStatusRow:
    """Schedule items in one status and currency."""

    status: ItemStatus
    currency: str
    count: int
    amount: Money
    outstanding: Money


@attrs.frozen
class StatusBreakdown:
    """Enrollments by status, and schedule items by status and currency."""

    enrollments: Mapping[EnrollmentStatus, int] = attrs.field(hash=False)
    items: tuple[ItemStatusRow, ...]


@attrs.frozen
class ProductRow:
    """How one product sells and collects."""

    product_id: str
    name: str
    currency: str
    enrollments: int
    completed: int
    cancelled: int
    suspended: int
    gross: Money
    refunded: Money
    net: Money
    refund_rate: Decimal
    default_rate: Decimal
    plan_mix: Mapping[str, int] = attrs.field(hash=False)
    #: Chargebacks of the product's payments (inquiries not counted), whatever their outcome.
    disputes: int
    #: The amount those chargebacks disputed.
    disputed: Money
    #: What chargebacks took and did not give back (funds withdrawn, or lost): out of ``net``.
    withheld: Money
    #: ``disputes / payments through the gateway`` (a payment by hand cannot be disputed).
    dispute_rate: Decimal


@attrs.frozen
class AgingRow:
    """Overdue amounts in one currency and bucket."""

    currency: str
    bucket: str
    items: int
    amount: Money


@attrs.frozen
class ForecastRow:
    """Amounts scheduled to come in during one month, in one currency."""

    month: date
    currency: str
    items: int
    amount: Money


@attrs.frozen
class RecoveryRow:
    """Dunning results in one currency."""

    currency: str
    failed_items: int
    recovered: int
    recovered_by_retry: Mapping[int, int] = attrs.field(hash=False)
    recovered_manually: int
    defaulted: int
    still_open: int
    recovered_amount: Money


def in_dates(day: date, date_from: date | None, date_to: date | None) -> bool:
    """Whether ``day`` is in ``date_from..date_to`` (both included; None: open-ended)."""
    return (date_from is None or day >= date_from) and (date_to is None or day <= date_to)


def revenue_rows(cells: Mapping[tuple[date, str], Sequence[int]]) -> list[RevenueRow]:
    """Rows from sums per (period, currency): gross, refunded, payments, refunds."""
    return [
        RevenueRow(
            period, currency, Money(g, currency), Money(r, currency), Money(g - r, currency), n, m
        )
        for (period, currency), (g, r, n, m) in sorted(cells.items())
    ]


def product_row(
    *,
    product_id: str,
    name: str,
    currency: str,
    enrollments: int,
    completed: int,
    cancelled: int,
    suspended: int,
    defaulted: int,
    gross: int,
    refunded: int,
    plan_mix: Mapping[str, int],
    card_payments: int,
    disputes: int,
    disputed: int,
    withheld: int,
) -> ProductRow:
    """A product's row from its counts and sums (minor units): net and rates derived here.

    ``net = gross - refunded - withheld``; ``card_payments`` are the
    payments made through the gateway (the dispute rate's denominator).
    """
    return ProductRow(
        product_id=product_id,
        name=name,
        currency=currency,
        enrollments=enrollments,
        completed=completed,
        cancelled=cancelled,
        suspended=suspended,
        gross=Money(gross, currency),
        refunded=Money(refunded, currency),
        net=Money(gross - refunded - withheld, currency),
        refund_rate=ratio(refunded, gross),
        default_rate=ratio(defaulted, enrollments),
        plan_mix=dict(sorted(plan_mix.items())),
        disputes=disputes,
        disputed=Money(disputed, currency),
        withheld=Money(withheld, currency),
        dispute_rate=ratio(disputes, card_payments),
    )


def month_number(day: date) -> int:
    """Months since year 0 up to ``day``'s month (``year * 12 + month - 1``)."""
    return day.year * 12 + day.month - 1


def forecast_end(date_from: date, months: int) -> int:
    """The :func:`month_number` of the first month after a forecast of ``months`` months."""
    if months < 1:
        raise InvalidInputError(f"months must be at least 1, got {months}")
    return month_number(date_from) + months


@attrs.define
class RecoveryTally:
    """One currency's dunning counts as :func:`recovery` adds them up (amount in minor units)."""

    failed: int = 0
    recovered: int = 0
    by_retry: dict[int, int] = attrs.Factory(dict)
    manual: int = 0
    defaulted: int = 0
    still_open: int = 0
    amount: int = 0

    def add(self, status: ItemStatus, amount: int, retries: int | None, count: int = 1) -> None:
        """Count ``count`` declined items now in ``status``, of ``amount`` in all.

        ``retries``: for a paid item, the attempts before the one that paid
        it (None: paid by hand).
        """
        self.failed += count
        if status == ItemStatus.PAID:
            self.recovered += count
            self.amount += amount
            if retries is None:
                self.manual += count
            else:
                self.by_retry[retries] = self.by_retry.get(retries, 0) + count
        elif status == ItemStatus.DEFAULTED:
            self.defaulted += count
        elif status in OPEN_ITEM_STATUSES:
            self.still_open += count

    def row(self, currency: str) -> RecoveryRow:
        """The report row of these counts."""
        return RecoveryRow(
            currency=currency,
            failed_items=self.failed,
            recovered=self.recovered,
            recovered_by_retry=dict(sorted(self.by_retry.items())),
            recovered_manually=self.manual,
            defaulted=self.defaulted,
            still_open=self.still_open,
            recovered_amount=Money(self.amount, currency),
        )
