"""The read-side methods of :class:`~enrollpay.PaymentSystem`: lookups, listings, reports, quotes.

Also the outbox's two methods, which hand out what the other methods wrote:
``list_events`` and ``dispatch_events``.

Each is a function of the system (``self``) that delegates to its use-case
module with the system's context; :mod:`enrollpay.service.system` attaches
them to the class by name, beside the methods that change state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import TYPE_CHECKING

from enrollpay.audit import AuditAnchor, AuditVerification
from enrollpay.domain.events import DomainEvent
from enrollpay.domain.plans import PaymentPlan, PlanRule
from enrollpay.domain.records import AuditEntry, Dispute, Enrollment, Product, ScheduleItem
from enrollpay.domain.refunds import RefundPolicy, RefundQuote
from enrollpay.domain.schedule import ScheduleLine
from enrollpay.reports import (
    AgingRow,
    ForecastRow,
    Period,
    ProductRow,
    RecoveryRow,
    RevenueRow,
    StatusBreakdown,
)
from enrollpay.service import cancel, outbox, products, queries
from enrollpay.service.results import PaymentDetails, Stats

if TYPE_CHECKING:
    from enrollpay.service.system import PaymentSystem

__all__ = [
    "aging_report",
    "audit_anchor",
    "audit_log",
    "dispatch_events",
    "eligible_plans",
    "find_product",
    "forecast_report",
    "get_enrollment",
    "get_product",
    "get_schedule_item",
    "has_access",
    "list_disputes",
    "list_enrollments",
    "list_events",
    "list_plan_rules",
    "list_products",
    "list_schedule_items",
    "payment_details",
    "preview_schedule",
    "product_report",
    "quote_cancellation",
    "recovery_report",
    "revenue_report",
    "stats",
    "status_report",
    "verify_audit_chain",
]


def get_product(self: PaymentSystem, product_id: str) -> Product:
    """A product by its internal id."""
    return products.get_product(self._ctx, product_id)


def find_product(self: PaymentSystem, product_type: str, product_id: str) -> Product:
    """A product by the host app's ``(product_type, product_id)``."""
    return products.find_product(self._ctx, product_type, product_id)


def list_products(self: PaymentSystem, *, active: bool | None = None) -> list[Product]:
    """Products by name."""
    return products.list_products(self._ctx, active=active)


def list_plan_rules(self: PaymentSystem) -> list[PlanRule]:
    """The plan rules in the order given."""
    return products.list_plan_rules(self._ctx)


def eligible_plans(
    self: PaymentSystem, product_id: str, *, currency: str | None = None
) -> tuple[PaymentPlan, ...]:
    """Every plan a checkout page may offer for a product, the default first.

    ``currency``: the student's (None: the product's default price's).
    """
    return products.eligible_plans(self._ctx, product_id, currency=currency)


def preview_schedule(
    self: PaymentSystem,
    product_id: str,
    plan: PaymentPlan,
    *,
    start: date | None = None,
    currency: str | None = None,
) -> tuple[ScheduleLine, ...]:
    """The schedule ``plan`` would give for a product, at its price in ``currency``."""
    return products.preview_schedule(self._ctx, product_id, plan, start=start, currency=currency)


def quote_cancellation(
    self: PaymentSystem,
    enrollment_id: str,
    *,
    on: date | None = None,
    policy: RefundPolicy | None = None,
) -> RefundQuote:
    """The refund a cancellation would give, with its line items (writes nothing)."""
    return cancel.quote_cancellation(self._ctx, enrollment_id, on=on, policy=policy)


def has_access(self: PaymentSystem, enrollment: Enrollment) -> bool:
    """Whether the student may use the course (policy: ``past_due_access``)."""
    return queries.has_access(self._ctx, enrollment)


def payment_details(self: PaymentSystem, enrollment_id: str) -> PaymentDetails:
    """The enrollment with its product, schedule, attempts, payments and refunds."""
    return queries.payment_details(self._ctx, enrollment_id)


def get_enrollment(self: PaymentSystem, enrollment_id: str) -> Enrollment:
    """One enrollment."""
    return queries.get_enrollment(self._ctx, enrollment_id)


def get_schedule_item(self: PaymentSystem, item_id: str) -> ScheduleItem:
    """One schedule item (for a "pay this installment" page, say); its status is current."""
    return queries.get_schedule_item(self._ctx, item_id)


def list_enrollments(
    self: PaymentSystem,
    *,
    user_id: str | None = None,
    product_id: str | None = None,
    status: str | Iterable[str] | None = None,
) -> list[Enrollment]:
    """Enrollments filtered by user, product and status (one or several)."""
    return queries.list_enrollments(
        self._ctx, user_id=user_id, product_id=product_id, status=status
    )


def list_schedule_items(
    self: PaymentSystem,
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
    return queries.list_schedule_items(
        self._ctx,
        status=status,
        due_from=due_from,
        due_to=due_to,
        product_id=product_id,
        user_id=user_id,
        enrollment_id=enrollment_id,
        limit=limit,
    )


def list_disputes(
    self: PaymentSystem, *, status: str | Iterable[str] | None = None
) -> list[Dispute]:
    """Disputes (chargebacks and inquiries), oldest first; ``status``: one or several.

    ``list_disputes(status=["open", "funds_withdrawn"])`` lists those still
    to answer, each with its ``evidence_due_by``.
    """
    return queries.list_disputes(self._ctx, status=status)


def stats(self: PaymentSystem) -> Stats:
    """Dashboard figures: money per currency and counts per status."""
    return queries.stats(self._ctx)


def revenue_report(
    self: PaymentSystem,
    *,
    by: Period = "month",
    date_from: date | None = None,
    date_to: date | None = None,
) -> list[RevenueRow]:
    """Gross, refunded and net money per period and currency."""
    return queries.revenue_report(self._ctx, by=by, date_from=date_from, date_to=date_to)


def status_report(self: PaymentSystem) -> StatusBreakdown:
    """Enrollments by status; schedule items by status and currency."""
    return queries.status_report(self._ctx)


def product_report(self: PaymentSystem) -> list[ProductRow]:
    """Enrollments, outcomes, revenue, refund and default rates, plan mix per product."""
    return queries.product_report(self._ctx)


def aging_report(self: PaymentSystem, *, as_of: date | None = None) -> list[AgingRow]:
    """Overdue amounts in 1-30, 31-60, 61-90 and 90+ day buckets (default: today)."""
    return queries.aging_report(self._ctx, as_of=as_of)


def forecast_report(
    self: PaymentSystem, *, date_from: date | None = None, months: int = 12
) -> list[ForecastRow]:
    """Amounts scheduled per month from ``date_from`` (default: today)."""
    return queries.forecast_report(self._ctx, date_from=date_from, months=months)


def recovery_report(self: PaymentSystem) -> list[RecoveryRow]:
    """Of the payments that failed, how many were recovered and on which retry."""
    return queries.recovery_report(self._ctx)


def audit_log(
    self: PaymentSystem, *, entity_type: str | None = None, entity_id: str | None = None
) -> list[AuditEntry]:
    """Audit entries in chain order, optionally for one entity."""
    return queries.audit_log(self._ctx, entity_type=entity_type, entity_id=entity_id)


def verify_audit_chain(
    self: PaymentSystem, *, anchor: AuditAnchor | None = None
) -> AuditVerification:
    """Walk the whole audit chain; the result names the first broken entry.

    With ``anchor`` (from :meth:`audit_anchor`, kept where the database's
    writers cannot reach), entries deleted from the end and a chain
    rewritten up to the anchor are found too.
    """
    return queries.verify_audit_chain(self._ctx, anchor=anchor)


def audit_anchor(self: PaymentSystem) -> AuditAnchor:
    """The audit chain's head now (entry count and last hash), after verifying it.

    Raises ``InvalidStateError`` when the chain is already broken.
    """
    return queries.audit_anchor(self._ctx)


# -- the outbox: events the other methods wrote, handed to the host application ----------


def list_events(
    self: PaymentSystem, *, delivered: bool | None = None, limit: int | None = None
) -> list[DomainEvent]:
    """Domain events in the order they occurred (``delivered``: only those, or only the others)."""
    return outbox.list_events(self._ctx.store, delivered=delivered, limit=limit)


def dispatch_events(
    self: PaymentSystem, handler: Callable[[DomainEvent], object], *, limit: int | None = None
) -> int:
    """Hand undelivered domain events to ``handler`` in order; return how many were delivered.

    Each event is marked delivered right after ``handler`` returns for it. A
    handler that raises stops the run: that event and every later one stay
    for the next call, and the exception propagates. Delivery is at least
    once (a crash between the handler's return and the mark delivers again),
    so handlers dedupe by ``event.id``. One dispatcher runs at a time: a call
    made while another holds the store's dispatch lease (or while another
    call of this system runs) returns 0 at once.

    A call that ends in an exception may not have released the lease (the
    database went away under it); the system's next call then dispatches
    as the same holder, so it takes its own lease back at once instead of
    waiting for it to expire.
    """
    ctx = self._ctx
    fresh = ctx.new_id("dsp")  # drawn every call, used or not: later ids stay as they were
    if not ctx.dispatch_turn.acquire(blocking=False):
        return 0
    try:
        holder = ctx.unreleased_dispatch or fresh
        try:
            delivered = outbox.dispatch_events(
                ctx.store, handler, now=ctx.now, holder=holder, limit=limit
            )
        except BaseException:
            ctx.unreleased_dispatch = holder
            raise
        ctx.unreleased_dispatch = None
        return delivered
    finally:
        ctx.dispatch_turn.release()
