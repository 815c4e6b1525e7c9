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
- **product performance**: per product and currency (a product sold in
  several currencies, see :mod:`enrollpay.domain.price_lists`, has a row
  for each; an active product not sold yet has one in its default
  currency), enrollments and how many are completed, cancelled or
  suspended; net revenue (payments minus refunds minus what chargebacks
  withheld, see :func:`~enrollpay.domain.disputes.withheld`);
  ``refund_rate = refunded / gross`` and ``default_rate = enrollments with a
  defaulted item / enrollments`` (both rounded to 4 places); plan mix; the
  chargebacks of its payments (inquiries aside), the amount they disputed,
  and ``dispute_rate = chargebacks / payments through the gateway``.
- **aging** as of a date: unpaid amounts of open items by days overdue, in
  the buckets 1-30, 31-60, 61-90 and over 90 days.
- **forecast**: amounts still owed on open items due from a date on, per month.
- **recovery**: of the items with at least one off-session decline, how many
  were paid in the end, by which attempt after the first (1 = the first retry,
  collected or paid on-session) or by hand; how many defaulted or are open.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime
from zoneinfo import ZoneInfo

import attrs

from enrollpay.domain.disputes import CHARGEBACK_STATUSES, withheld
from enrollpay.domain.lifecycle import (
    OPEN_ITEM_STATUSES,
    AttemptStatus,
    EnrollmentStatus,
    ItemStatus,
)
from enrollpay.domain.money import Money
from enrollpay.domain.records import (
    Dispute,
    Enrollment,
    Payment,
    PaymentAttempt,
    Product,
    Refund,
    ScheduleItem,
)
from enrollpay.report_rows import (
    AGING_BUCKETS,
    AgingRow,
    ForecastRow,
    ItemStatusRow,
    Period,
    ProductRow,
    RecoveryRow,
    RecoveryTally,
    RevenueRow,
    StatusBreakdown,
    forecast_end,
    in_dates,
    month_number,
    period_start,
    product_row,
    ratio,
    revenue_rows,
)

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


@attrs.frozen
class ReportData:
    """Everything the reference implementations read (the in-memory store's rows)."""

    products: tuple[Product, ...]
    enrollments: tuple[Enrollment, ...]
    items: tuple[ScheduleItem, ...]
    attempts: tuple[PaymentAttempt, ...]
    payments: tuple[Payment, ...]
    refunds: tuple[Refund, ...]
    disputes: tuple[Dispute, ...] = ()


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
    for payment in data.payments:
        day = _local(payment.received_at, zone)
        if in_dates(day, date_from, date_to):
            cell = sums[(period_start(day, by), payment.amount.currency)]
            cell[0] += payment.amount.minor
            cell[2] += 1
    for refund in data.refunds:
        day = _local(refund.created_at, zone)
        if refund.status != "failed" and in_dates(day, date_from, date_to):
            cell = sums[(period_start(day, by), refund.amount.currency)]
            cell[1] += refund.amount.minor
            cell[3] += 1
    return revenue_rows(sums)


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
    """One row per product and currency it sold in (or, unsold and active, its default), by name.

    A product with a price list has a row per currency its enrollments
    were sold in: amounts in different currencies are never added.
    """
    by_key: dict[tuple[str, str], list[Enrollment]] = defaultdict(list)
    for enrollment in data.enrollments:
        by_key[(enrollment.product_id, enrollment.price.currency)].append(enrollment)
    defaulted = {i.enrollment_id for i in data.items if i.status == ItemStatus.DEFAULTED}
    key_of = {e.id: (e.product_id, e.price.currency) for e in data.enrollments}
    gross: dict[tuple[str, str], int] = defaultdict(int)
    refunded: dict[tuple[str, str], int] = defaultdict(int)
    refunded_payment: dict[str, int] = defaultdict(int)
    for refund in data.refunds:
        if refund.status != "failed":
            refunded[key_of[refund.enrollment_id]] += refund.amount.minor
            refunded_payment[refund.payment_id] += refund.amount.minor
    disputes_of: dict[str, list[Dispute]] = defaultdict(list)
    chargebacks: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for dispute in data.disputes:
        disputes_of[dispute.payment_id].append(dispute)
        if dispute.status in CHARGEBACK_STATUSES:
            cell = chargebacks[key_of[dispute.enrollment_id]]
            cell[0] += 1
            cell[1] += dispute.amount.minor
    card_payments: dict[tuple[str, str], int] = defaultdict(int)
    held: dict[tuple[str, str], int] = defaultdict(int)
    for payment in data.payments:
        key = key_of[payment.enrollment_id]
        gross[key] += payment.amount.minor
        card_payments[key] += payment.method == "gateway"
        back = Money(refunded_payment[payment.id], payment.amount.currency)
        held[key] += withheld(payment.amount, refunded=back, disputes=disputes_of[payment.id]).minor
    rows = []
    for product in sorted(data.products, key=lambda p: (p.name, p.id)):
        sold_in = sorted(currency for pid, currency in by_key if pid == product.id)
        if not sold_in and product.active:
            sold_in = [product.price.currency]
        for currency in sold_in:
            key = (product.id, currency)
            sold = by_key.get(key, [])
            mix: dict[str, int] = defaultdict(int)
            for enrollment in sold:
                mix[enrollment.plan.kind] += 1
            rows.append(
                product_row(
                    product_id=product.id,
                    name=product.name,
                    currency=currency,
                    enrollments=len(sold),
                    completed=sum(1 for e in sold if e.status == EnrollmentStatus.COMPLETED),
                    cancelled=sum(1 for e in sold if e.status == EnrollmentStatus.CANCELLED),
                    suspended=sum(1 for e in sold if e.status == EnrollmentStatus.SUSPENDED),
                    defaulted=sum(1 for e in sold if e.id in defaulted),
                    gross=gross[key],
                    refunded=refunded[key],
                    plan_mix=mix,
                    card_payments=card_payments[key],
                    disputes=chargebacks[key][0],
                    disputed=chargebacks[key][1],
                    withheld=held[key],
                )
            )
    return rows


def _bucket(days_overdue: int) -> str:
    for label, first, last in AGING_BUCKETS:
        if days_overdue >= first and (last is None or days_overdue <= last):
            return label
    raise AssertionError(days_overdue)  # pragma: no cover - callers pass days >= 1


def _expected(data: ReportData) -> Iterator[ScheduleItem]:
    """Open items of enrollments that are not cancelled: what is still expected."""
    cancelled = {e.id for e in data.enrollments if e.status == EnrollmentStatus.CANCELLED}
    for item in data.items:
        if item.status in OPEN_ITEM_STATUSES and item.enrollment_id not in cancelled:
            yield item


def aging(data: ReportData, *, as_of: date) -> list[AgingRow]:
    """Overdue open items (due before ``as_of``) by currency and bucket."""
    cells: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for item in _expected(data):
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
    end = forecast_end(date_from, months)
    cells: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0])
    for item in _expected(data):
        if item.due < date_from or month_number(item.due) >= end:
            continue
        cell = cells[(item.due.replace(day=1), item.amount.currency)]
        cell[0] += 1
        cell[1] += item.outstanding.minor
    return [
        ForecastRow(month, currency, n, Money(amount, currency))
        for (month, currency), (n, amount) in sorted(cells.items())
    ]


def recovery(data: ReportData) -> list[RecoveryRow]:
    """Dunning recovery per currency (items with at least one off-session decline)."""
    attempts: dict[str, list[PaymentAttempt]] = defaultdict(list)
    for attempt in data.attempts:
        attempts[attempt.item_id].append(attempt)
    tallies: dict[str, RecoveryTally] = defaultdict(RecoveryTally)
    for item in data.items:
        tries = attempts.get(item.id, [])
        if not any(a.status == AttemptStatus.FAILED and a.mode == "off_session" for a in tries):
            continue
        won = min((a.number for a in tries if a.status == AttemptStatus.SUCCEEDED), default=None)
        retries = None if won is None else sum(1 for a in tries if a.number < won)
        tallies[item.amount.currency].add(item.status, item.amount.minor, retries)
    return [t.row(currency) for currency, t in sorted(tallies.items())]
