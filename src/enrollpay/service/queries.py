"""Read-only views: payment details, listings, dashboard stats, the audit trail."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date

from enrollpay.audit import AuditAnchor, AuditVerification
from enrollpay.audit import verify_audit_chain as verify_entries
from enrollpay.domain.disputes import withheld
from enrollpay.domain.lifecycle import (
    OPEN_ITEM_STATUSES,
    EnrollmentStatus,
    ItemStatus,
)
from enrollpay.domain.lifecycle import has_access as status_has_access
from enrollpay.domain.money import Money
from enrollpay.domain.records import (
    AuditEntry,
    Dispute,
    Enrollment,
    Payment,
    Refund,
    ScheduleItem,
)
from enrollpay.domain.schedule import paid_through
from enrollpay.domain.statuses import DisputeStatus
from enrollpay.errors import (
    EnrollmentNotFoundError,
    InvalidInputError,
    InvalidStateError,
    ProductNotFoundError,
    ScheduleItemNotFoundError,
)
from enrollpay.ports import ItemQuery
from enrollpay.reports import (
    AgingRow,
    ForecastRow,
    Period,
    ProductRow,
    RecoveryRow,
    RevenueRow,
    StatusBreakdown,
)
from enrollpay.service.base import check_date, check_text
from enrollpay.service.context import Context
from enrollpay.service.results import PaymentDetails, Stats

__all__ = [
    "aging_report",
    "audit_anchor",
    "audit_log",
    "forecast_report",
    "get_enrollment",
    "get_schedule_item",
    "has_access",
    "list_disputes",
    "list_enrollments",
    "list_schedule_items",
    "payment_details",
    "product_report",
    "recovery_report",
    "revenue_report",
    "stats",
    "status_report",
    "verify_audit_chain",
]


def _statuses(
    value: str | Iterable[str] | None,
    kind: type[ItemStatus] | type[EnrollmentStatus] | type[DisputeStatus],
) -> frozenset[ItemStatus] | frozenset[EnrollmentStatus] | frozenset[DisputeStatus] | None:
    if value is None:
        return None
    names = [value] if isinstance(value, str) else list(value)
    try:
        return frozenset(kind(name) for name in names)  # type: ignore[return-value]
    except ValueError:
        raise InvalidInputError(f"unknown status in {names!r}") from None


def has_access(ctx: Context, enrollment: Enrollment) -> bool:
    """Whether the student may use the course (policy: ``past_due_access``)."""
    return status_has_access(enrollment.status, past_due_access=ctx.config.past_due_access)


def payment_details(ctx: Context, enrollment_id: str) -> PaymentDetails:
    """The enrollment with its product, schedule, attempts, payments and refunds."""
    today = ctx.today()
    with ctx.store.reader() as view:
        enrollment = view.get_enrollment(enrollment_id)
        if enrollment is None:
            raise EnrollmentNotFoundError(enrollment_id)
        product = view.get_product(enrollment.product_id)
        if product is None:
            raise ProductNotFoundError(enrollment.product_id)
        items = tuple(view.items_of(enrollment_id))
        attempts = tuple(a for i in items for a in view.attempts_of(i.id))
        payments = tuple(view.payments_of(enrollment_id))
        refunds = tuple(view.refunds_of(enrollment_id))
        disputes = tuple(view.disputes_of(enrollment_id))
    currency = enrollment.price.currency
    open_items = [i for i in items if i.status in OPEN_ITEM_STATUSES]
    return PaymentDetails(
        enrollment=enrollment,
        product=product,
        items=items,
        attempts=attempts,
        payments=payments,
        refunds=refunds,
        disputes=disputes,
        paid=Money(sum(p.amount.minor for p in payments), currency),
        refunded=Money(sum(r.amount.minor for r in refunds if r.status != "failed"), currency),
        disputed=withheld_from(payments, refunds, disputes, currency),
        outstanding=Money(sum(i.outstanding.minor for i in open_items), currency),
        overdue=Money(sum(i.outstanding.minor for i in open_items if i.due < today), currency),
        next_due=min(open_items, key=lambda i: (i.due, i.seq), default=None),
        has_access=has_access(ctx, enrollment),
        paid_through=paid_through(items),
    )


def withheld_from(
    payments: Iterable[Payment],
    refunds: Iterable[Refund],
    disputes: Iterable[Dispute],
    currency: str,
) -> Money:
    """What chargebacks withhold of these payments, in all (per payment, see ``withheld``)."""
    back: Counter[str] = Counter()
    for refund in refunds:
        if refund.status != "failed":
            back[refund.payment_id] += refund.amount.minor
    of: dict[str, list[Dispute]] = defaultdict(list)
    for dispute in disputes:
        of[dispute.payment_id].append(dispute)
    held = 0
    for payment in payments:
        if of[payment.id]:
            refunded = Money(back[payment.id], payment.amount.currency)
            held += withheld(payment.amount, refunded=refunded, disputes=of[payment.id]).minor
    return Money(held, currency)


def get_enrollment(ctx: Context, enrollment_id: str) -> Enrollment:
    """One enrollment."""
    with ctx.store.reader() as view:
        enrollment = view.get_enrollment(enrollment_id)
    if enrollment is None:
        raise EnrollmentNotFoundError(enrollment_id)
    return enrollment


def get_schedule_item(ctx: Context, item_id: str) -> ScheduleItem:
    """One schedule item (for a "pay this installment" page, say); its status is current."""
    check_text(item_id, "item_id")
    with ctx.store.reader() as view:
        item = view.get_item(item_id)
    if item is None:
        raise ScheduleItemNotFoundError(item_id)
    return item


def list_enrollments(
    ctx: Context,
    *,
    user_id: str | None = None,
    product_id: str | None = None,
    status: str | Iterable[str] | None = None,
) -> list[Enrollment]:
    """Enrollments filtered by user, product and status (one or several)."""
    statuses = _statuses(status, EnrollmentStatus)
    with ctx.store.reader() as view:
        return view.list_enrollments(user_id=user_id, product_id=product_id, statuses=statuses)  # type: ignore[arg-type]


def list_schedule_items(
    ctx: Context,
    *,
    status: str | Iterable[str] | None = None,
    due_from: date | None = None,
    due_to: date | None = None,
    product_id: str | None = None,
    user_id: str | None = None,
    enrollment_id: str | None = None,
    limit: int | None = None,
) -> list[ScheduleItem]:
    """Every schedule item matching the filters (the admin's view of all schedules)."""
    for day, name in ((due_from, "due_from"), (due_to, "due_to")):
        if day is not None:
            check_date(day, name)
    query = ItemQuery(
        statuses=_statuses(status, ItemStatus),  # type: ignore[arg-type]
        due_from=due_from,
        due_to=due_to,
        product_id=product_id,
        user_id=user_id,
        enrollment_id=enrollment_id,
        limit=limit,
    )
    with ctx.store.reader() as view:
        return view.list_items(query)


def list_disputes(ctx: Context, *, status: str | Iterable[str] | None = None) -> list[Dispute]:
    """Disputes of gateway payments, oldest first, optionally in some statuses."""
    statuses = _statuses(status, DisputeStatus)
    with ctx.store.reader() as view:
        return view.list_disputes(statuses=statuses)  # type: ignore[arg-type]


def stats(ctx: Context) -> Stats:
    """Dashboard figures: money per currency and counts per status."""
    today = ctx.today()
    collected: Counter[str] = Counter()
    refunded: Counter[str] = Counter()
    outstanding: Counter[str] = Counter()
    overdue: Counter[str] = Counter()
    disputed: Counter[str] = Counter()
    with ctx.store.reader() as view:
        enrollments = view.list_enrollments()
        by_status = Counter(e.status for e in enrollments)
        item_counts: Counter[str] = Counter()
        for enrollment in enrollments:
            payments = view.payments_of(enrollment.id)
            refunds = view.refunds_of(enrollment.id)
            for payment in payments:
                collected[payment.amount.currency] += payment.amount.minor
            for refund in refunds:
                if refund.status != "failed":
                    refunded[refund.amount.currency] += refund.amount.minor
            disputes = view.disputes_of(enrollment.id)
            if disputes:
                currency = enrollment.price.currency
                held = withheld_from(payments, refunds, disputes, currency)
                disputed[currency] += held.minor
            for item in view.items_of(enrollment.id):
                item_counts[item.status] += 1
                if item.status in OPEN_ITEM_STATUSES:
                    outstanding[item.amount.currency] += item.outstanding.minor
                    if item.due < today:
                        overdue[item.amount.currency] += item.outstanding.minor
    currencies = set(collected) | set(refunded) | set(outstanding)
    return Stats(
        today=today,
        collected={c: Money(collected[c], c) for c in sorted(currencies)},
        refunded={c: Money(refunded[c], c) for c in sorted(currencies)},
        net={c: Money(collected[c] - refunded[c] - disputed[c], c) for c in sorted(currencies)},
        outstanding={c: Money(outstanding[c], c) for c in sorted(currencies)},
        overdue={c: Money(overdue[c], c) for c in sorted(currencies)},
        enrollments_by_status={s: by_status.get(s, 0) for s in EnrollmentStatus},
        items_by_status=dict(item_counts),
        disputed={c: Money(disputed[c], c) for c in sorted(currencies)},
    )


def revenue_report(
    ctx: Context,
    *,
    by: Period = "month",
    date_from: date | None = None,
    date_to: date | None = None,
) -> list[RevenueRow]:
    """Gross, refunded and net money per period and currency."""
    if by not in ("day", "week", "month"):
        raise InvalidInputError(f"by must be day, week or month, got {by!r}")
    with ctx.store.reader() as view:
        return view.report_revenue(
            by=by, date_from=date_from, date_to=date_to, timezone=ctx.config.timezone
        )


def status_report(ctx: Context) -> StatusBreakdown:
    """Enrollments by status; schedule items by status and currency."""
    with ctx.store.reader() as view:
        return view.report_status()


def product_report(ctx: Context) -> list[ProductRow]:
    """Enrollments, outcomes, revenue, refund and default rates, plan mix per product."""
    with ctx.store.reader() as view:
        return view.report_products()


def aging_report(ctx: Context, *, as_of: date | None = None) -> list[AgingRow]:
    """Overdue amounts in 1-30, 31-60, 61-90 and 90+ day buckets (default: today)."""
    with ctx.store.reader() as view:
        return view.report_aging(as_of=as_of or ctx.today())


def forecast_report(
    ctx: Context, *, date_from: date | None = None, months: int = 12
) -> list[ForecastRow]:
    """Amounts scheduled per month from ``date_from`` (default: today)."""
    if isinstance(months, bool) or not isinstance(months, int) or months < 1:
        raise InvalidInputError(f"months must be a positive int, got {months!r}")
    with ctx.store.reader() as view:
        return view.report_forecast(date_from=date_from or ctx.today(), months=months)


def recovery_report(ctx: Context) -> list[RecoveryRow]:
    """Of the payments that failed, how many were recovered and on which retry."""
    with ctx.store.reader() as view:
        return view.report_recovery()


def audit_log(
    ctx: Context, *, entity_type: str | None = None, entity_id: str | None = None
) -> list[AuditEntry]:
    """Audit entries in chain order, optionally for one entity."""
    with ctx.store.reader() as view:
        return view.list_audit(entity_type=entity_type, entity_id=entity_id)


def verify_audit_chain(ctx: Context, *, anchor: AuditAnchor | None = None) -> AuditVerification:
    """Walk the whole audit chain (and check it still reaches ``anchor``)."""
    return verify_entries(audit_log(ctx), anchor=anchor)


def audit_anchor(ctx: Context) -> AuditAnchor:
    """The head of the intact audit chain; ``InvalidStateError`` if it is broken."""
    result = verify_audit_chain(ctx)
    if result.anchor is None:
        raise InvalidStateError(
            f"the audit chain is broken at entry {result.first_broken_seq} ({result.reason}); "
            "an anchor would vouch for it"
        )
    return result.anchor
