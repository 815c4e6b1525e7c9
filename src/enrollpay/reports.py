"""Reports: revenue, status breakdown, product performance, aging, forecast, recovery.

Each report is a list of frozen rows, per currency (amounts in different
currencies are never added together). The SQL store computes them with
aggregating queries, the in-memory store with the reference functions here;
a contract test checks both give the same rows. What each number means:

- **revenue**: payments by the business date they were received, refunds by
  the date they were made (failed refunds excluded); ``net = gross -
  refunded``. Periods start on the day, the ISO week's Monday, or the first
  of the month.
- **status breakdown**: enrollments per status; schedule items per status
  and currency with their count, total amount and amount still owed.
- **product performance**: per product, enrollments and how many are
  completed, cancelled or suspended; net revenue (payments minus refunds);
  ``refund_rate = refunded / gross`` and ``default_rate = enrollments with a
  defaulted item / enrollments`` (both rounded to 4 places); plan mix.
- **aging** as of a date: unpaid amounts of open items by days overdue, in
  the buckets 1-30, 31-60, 61-90 and over 90 days.
- **forecast**: amounts still owed on open items due from a date on, per month.
- **recovery**: of the items with at least one off-session decline, how many
  were paid in the end, by which attempt after the first (1 = the first retry,
  collected or paid on-session) or by hand; how many defaulted or are open.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal
from zoneinfo import ZoneInfo

import attrs

from enrollpay.domain.lifecycle import (
    OPEN_ITEM_STATUSES,
    AttemptStatus,
    EnrollmentStatus,
    ItemStatus,
)
from enrollpay.domain.money import Money
from enrollpay.domain.records import (
    Enrollment,
    Payment,
    PaymentAttempt,
    Product,
    Refund,
    ScheduleItem,
)
from enrollpay.errors import InvalidInputError

__all__ = [
    "AGING_BUCKETS",
    "AgingRow",
    "ForecastRow",
    "ItemStatusRow",
    "Period",
    "ProductRow",
    "RecoveryRow",
    "ReportData",
    "RevenueRow",
    "StatusBreakdown",
    "aging",
    "forecast",
    "period_start",
    "product_performance",
    "ratio",
    "recovery",
    "revenue",
    "status_breakdown",
]

Period = Literal["day", "week", "month"]
#: Aging buckets: (label, first day overdue, last day overdue or None).
AGING_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("1-30", 1, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("90+", 91, None),
)


def period_start(day: date, by: Period) -> date:
    """The first day of the ``by`` period that contains ``day``."""
    if by == "day":
        return day
    if by == "week":
        return day - timedelta(days=day.weekday())
    if by == "month":
        return day.replace(day=1)
    raise InvalidInputError(f"period must be day, week or month, got {by!r}")


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


@attrs.frozen
class ReportData:
    """Everything the reference implementations read (the in-memory store's rows)."""

    products: tuple[Product, ...]
    enrollments: tuple[Enrollment, ...]
    items: tuple[ScheduleItem, ...]
    attempts: tuple[PaymentAttempt, ...]
    payments: tuple[Payment, ...]
    refunds: tuple[Refund, ...]


def _local(at: datetime, zone: ZoneInfo) -> date:
    return at.astimezone(zone).date()


def revenue(
    data: ReportData,
    *,
    by: Period,
    date_from: date | None,
    date_to: date | None,
    timezone: str = "UTC",
) -> list[RevenueRow]:
    """Revenue rows ordered by period then currency (reference implementation)."""
    zone = ZoneInfo(timezone)
    sums: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])

    def keep(day: date) -> bool:
        return (date_from is None or day >= date_from) and (date_to is None or day <= date_to)

    for payment in data.payments:
        day = _local(payment.received_at, zone)
        if keep(day):
            cell = sums[(period_start(day, by), payment.amount.currency)]
            cell[0] += payment.amount.minor
            cell[2] += 1
    for refund in data.refunds:
        day = _local(refund.created_at, zone)
        if refund.status != "failed" and keep(day):
            cell = sums[(period_start(day, by), refund.amount.currency)]
            cell[1] += refund.amount.minor
            cell[3] += 1
    return [
        RevenueRow(
            period, currency, Money(g, currency), Money(r, currency), Money(g - r, currency), n, m
        )
        for (period, currency), (g, r, n, m) in sorted(sums.items())
    ]


def status_breakdown(data: ReportData) -> StatusBreakdown:
    """Counts per enrollment status and per item status and currency."""
    enrollments = dict.fromkeys(EnrollmentStatus, 0)
    for enrollment in data.enrollments:
        enrollments[enrollment.status] += 1
    cells: dict[tuple[ItemStatus, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for item in data.items:
        cell = cells[(item.status, item.amount.currency)]
        cell[0] += 1
        cell[1] += item.amount.minor
        cell[2] += item.outstanding.minor if item.status in OPEN_ITEM_STATUSES else 0
    rows = tuple(
        ItemStatusRow(status, currency, n, Money(a, currency), Money(o, currency))
        for (status, currency), (n, a, o) in sorted(cells.items())
    )
    return StatusBreakdown(enrollments, rows)


def product_performance(data: ReportData) -> list[ProductRow]:
    """One row per product that has enrollments or is active, by name."""
    by_product: dict[str, list[Enrollment]] = defaultdict(list)
    for enrollment in data.enrollments:
        by_product[enrollment.product_id].append(enrollment)
    defaulted = {i.enrollment_id for i in data.items if i.status == ItemStatus.DEFAULTED}
    enrollment_product = {e.id: e.product_id for e in data.enrollments}
    gross: dict[str, int] = defaultdict(int)
    refunded: dict[str, int] = defaultdict(int)
    for payment in data.payments:
        gross[enrollment_product[payment.enrollment_id]] += payment.amount.minor
    for refund in data.refunds:
        if refund.status != "failed":
            refunded[enrollment_product[refund.enrollment_id]] += refund.amount.minor
    rows = []
    for product in sorted(data.products, key=lambda p: (p.name, p.id)):
        sold = by_product.get(product.id, [])
        if not sold and not product.active:
            continue
        currency = product.price.currency
        mix: dict[str, int] = defaultdict(int)
        for enrollment in sold:
            mix[enrollment.plan.kind] += 1
        g, r = gross[product.id], refunded[product.id]
        rows.append(
            ProductRow(
                product_id=product.id,
                name=product.name,
                currency=currency,
                enrollments=len(sold),
                completed=sum(1 for e in sold if e.status == EnrollmentStatus.COMPLETED),
                cancelled=sum(1 for e in sold if e.status == EnrollmentStatus.CANCELLED),
                suspended=sum(1 for e in sold if e.status == EnrollmentStatus.SUSPENDED),
                gross=Money(g, currency),
                refunded=Money(r, currency),
                net=Money(g - r, currency),
                refund_rate=ratio(r, g),
                default_rate=ratio(sum(1 for e in sold if e.id in defaulted), len(sold)),
                plan_mix=dict(sorted(mix.items())),
            )
        )
    return rows


def _bucket(days_overdue: int) -> str:
    for label, first, last in AGING_BUCKETS:
        if days_overdue >= first and (last is None or days_overdue <= last):
            return label
    raise AssertionError(days_overdue)  # pragma: no cover - callers pass days >= 1


def aging(data: ReportData, *, as_of: date) -> list[AgingRow]:
    """Overdue open items (due before ``as_of``) by currency and bucket."""
    cells: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    cancelled = {e.id for e in data.enrollments if e.status == EnrollmentStatus.CANCELLED}
    for item in data.items:
        if item.status not in OPEN_ITEM_STATUSES or item.enrollment_id in cancelled:
            continue
        overdue = (as_of - item.due).days
        if overdue < 1:
            continue
        cell = cells[(item.amount.currency, _bucket(overdue))]
        cell[0] += 1
        cell[1] += item.outstanding.minor
    order = {label: index for index, (label, _, _) in enumerate(AGING_BUCKETS)}
    return [
        AgingRow(currency, bucket, n, Money(amount, currency))
        for (currency, bucket), (n, amount) in sorted(
            cells.items(), key=lambda kv: (kv[0][0], order[kv[0][1]])
        )
    ]


def forecast(data: ReportData, *, date_from: date, months: int = 12) -> list[ForecastRow]:
    """What open items due from ``date_from`` on should bring in, per month."""
    if months < 1:
        raise InvalidInputError(f"months must be at least 1, got {months}")
    first = date_from.replace(day=1)
    last_month = first.year * 12 + first.month - 1 + months
    cells: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0])
    cancelled = {e.id for e in data.enrollments if e.status == EnrollmentStatus.CANCELLED}
    for item in data.items:
        if item.status not in OPEN_ITEM_STATUSES or item.enrollment_id in cancelled:
            continue
        if item.due < date_from or item.due.year * 12 + item.due.month - 1 >= last_month:
            continue
        cell = cells[(item.due.replace(day=1), item.amount.currency)]
        cell[0] += 1
        cell[1] += item.outstanding.minor
    return [
        ForecastRow(month, currency, n, Money(amount, currency))
        for (month, currency), (n, amount) in sorted(cells.items())
    ]


@attrs.define
class _RecoveryTally:
    failed: int = 0
    recovered: int = 0
    by_retry: dict[int, int] = attrs.Factory(dict)
    manual: int = 0
    defaulted: int = 0
    still_open: int = 0
    amount: int = 0


def recovery(data: ReportData) -> list[RecoveryRow]:
    """Dunning recovery per currency (items with at least one off-session decline)."""
    attempts: dict[str, list[PaymentAttempt]] = defaultdict(list)
    for attempt in data.attempts:
        attempts[attempt.item_id].append(attempt)
    tallies: dict[str, _RecoveryTally] = defaultdict(_RecoveryTally)
    for item in data.items:
        tries = sorted(attempts.get(item.id, []), key=lambda a: a.number)
        if not any(a.status == AttemptStatus.FAILED and a.mode == "off_session" for a in tries):
            continue
        tally = tallies[item.amount.currency]
        tally.failed += 1
        if item.status == ItemStatus.PAID:
            tally.recovered += 1
            tally.amount += item.amount.minor
            won = next((a for a in tries if a.status == AttemptStatus.SUCCEEDED), None)
            if won is None:
                tally.manual += 1
            else:
                retry = sum(1 for a in tries if a.number < won.number)
                tally.by_retry[retry] = tally.by_retry.get(retry, 0) + 1
        elif item.status == ItemStatus.DEFAULTED:
            tally.defaulted += 1
        elif item.status in OPEN_ITEM_STATUSES:
            tally.still_open += 1
    return [
        RecoveryRow(
            currency=currency,
            failed_items=t.failed,
            recovered=t.recovered,
            recovered_by_retry=dict(sorted(t.by_retry.items())),
            recovered_manually=t.manual,
            defaulted=t.defaulted,
            still_open=t.still_open,
            recovered_amount=Money(t.amount, currency),
        )
        for currency, t in sorted(tallies.items())
    ]
