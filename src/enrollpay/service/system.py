"""The facade: :class:`PaymentSystem`, the product's methods over the use-case modules.

Each method delegates to one function of a use-case module
(:mod:`enrollpay.service.enroll`, :mod:`~enrollpay.service.collect`, ...),
passing the system's :class:`~enrollpay.service.context.Context`. The class
has no base class. The methods that change state are written here, but
for enrolling (:mod:`enrollpay.service.system_enroll`), rescheduling and
pausing, the saved-card flows, the sweep and reconcile
(:mod:`enrollpay.service.system_ops`), coupons and scholarships
(:mod:`enrollpay.service.system_discounts`), plan changes
(:mod:`enrollpay.service.system_planchange`) and seats
(:mod:`enrollpay.service.system_seats`); those that only read are written
in :mod:`enrollpay.service.system_reads` and, for receipts,
:mod:`enrollpay.service.system_receipts`. All are attached below by name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime

import attrs

from enrollpay.clock import SystemClock
from enrollpay.domain.calendar import Interval
from enrollpay.domain.money import Money
from enrollpay.domain.plans import PaymentPlan, PlanRule
from enrollpay.domain.records import (
    ManualMethod,
    Payment,
    Product,
    Refund,
)
from enrollpay.domain.refunds import RefundPolicy
from enrollpay.domain.retry import RetryPolicy
from enrollpay.gateways.ratelimit import TokenBucket
from enrollpay.ports import Clock, Gateway, PaymentSession, Store
from enrollpay.service import (
    cancel,
    checkout,
    collect,
    manual,
    products,
    refunds,
    system_discounts,
    system_enroll,
    system_ops,
    system_payers,
    system_planchange,
    system_reads,
    system_receipts,
    system_seats,
    webhooks,
)
from enrollpay.service.base import Authorizer, FaultHook, IdFactory, SystemConfig, uuid_ids
from enrollpay.service.context import Context
from enrollpay.service.results import (
    CancellationResult,
    CollectionReport,
    ItemOutcome,
    WebhookOutcome,
)

__all__ = ["PaymentSystem"]


class PaymentSystem:
    """Sell enrollments on payment plans over a store, a gateway and a clock.

    ``gateway=None`` runs without a payment gateway: enrollments and
    schedules are created and wait for manual payments. Every setting has a
    default; pass ``config=SystemConfig(...)`` or the common ones directly.
    ``faults`` is a test hook called at each named point of
    :data:`~enrollpay.service.base.FAULT_POINTS`; raising from it simulates a
    crash there. Webhook signatures are timed by ``wall_clock`` (default: real time).
    """

    def __init__(
        self,
        *,
        store: Store,
        gateway: Gateway | None = None,
        clock: Clock | None = None,
        wall_clock: Clock | None = None,
        config: SystemConfig | None = None,
        retry_policy: RetryPolicy | None = None,
        refund_policy: RefundPolicy | None = None,
        ids: IdFactory = uuid_ids,
        authorize: Authorizer | None = None,
        faults: FaultHook | None = None,
    ) -> None:
        base = config or SystemConfig()
        if retry_policy is not None or refund_policy is not None:
            base = attrs.evolve(base, retry_policy=retry_policy or base.retry_policy,
                                refund_policy=refund_policy or base.refund_policy)  # fmt: skip
        self._wall_clock = wall_clock or SystemClock()
        self._ctx = Context(
            store=store,
            gateway=gateway,
            clock=clock or SystemClock(),
            config=base,
            ids=ids,
            authorize=authorize,
            faults=faults,
        )

    def __repr__(self) -> str:
        gateway = "none" if self.gateway is None else type(self.gateway).__name__
        return f"PaymentSystem(store={type(self.store).__name__}, gateway={gateway})"

    @property
    def store(self) -> Store:
        """The store every use case writes through."""
        return self._ctx.store

    @property
    def gateway(self) -> Gateway | None:
        """The payment gateway (None: manual payments only)."""
        return self._ctx.gateway

    @property
    def clock(self) -> Clock:
        """The clock that says what time it is."""
        return self._ctx.clock

    @property
    def config(self) -> SystemConfig:
        """The settings."""
        return self._ctx.config

    def today(self, now: datetime | None = None) -> date:
        """The business date of ``now`` (default: the clock's)."""
        return self._ctx.today(now)

    def register_product(
        self,
        *,
        product_type: str,
        product_id: str,
        name: str,
        price: Money,
        auto_assign_payment_plan: bool = False,
        payment_plan: PaymentPlan | None = None,
        offered_plans: Sequence[PaymentPlan] = (),
        refund_policy: RefundPolicy | None = None,
        service_period: Interval | None = None,
        active: bool = True,
        actor: str = "system",
        prices: Sequence[Money] = (),
    ) -> Product:
        """Create or update the product the host app knows as ``(product_type, product_id)``.

        Idempotent: call it whenever a course is created or edited. Existing
        enrollments keep the price and plan they were sold with. ``prices``:
        explicit prices in other currencies, one per currency (a price list).
        """
        return products.register_product(
            self._ctx,
            product_type=product_type,
            product_id=product_id,
            name=name,
            price=price,
            auto_assign_payment_plan=auto_assign_payment_plan,
            payment_plan=payment_plan,
            offered_plans=offered_plans,
            refund_policy=refund_policy,
            service_period=service_period,
            active=active,
            actor=actor,
            prices=prices,
        )

    def deactivate_product(self, product_id: str, *, actor: str = "system") -> Product:
        """Stop selling a product (existing enrollments are untouched)."""
        return products.deactivate_product(self._ctx, product_id, actor=actor)

    def set_plan_rules(self, rules: Sequence[PlanRule], *, actor: str = "system") -> None:
        """Replace the automatic plan rules (tried by ascending priority)."""
        return products.set_plan_rules(self._ctx, rules, actor=actor)

    # -- enrolling (written in enrollpay.service.system_enroll) --
    enroll = system_enroll.enroll

    def start_payment(self, item_id: str) -> PaymentSession:
        """Open (or reopen) an on-session payment for an item the student pays now.

        An open on-session attempt for the item is reused (same key, same
        gateway payment), so clicking "pay" twice never makes two payments.
        """
        return checkout.start_payment(self._ctx, item_id)

    def collect_due(
        self,
        now: datetime | None = None,
        limit: int | None = None,
        *,
        progress: Callable[[ItemOutcome], None] | None = None,
        concurrency: int | None = None,
        rate_limit: float | TokenBucket | None = None,
        keep_outcomes: bool = True,
        sweep: bool = True,
    ) -> CollectionReport:
        """Charge every item that is due (retries included) off-session.

        Items are claimed in batches of ``config.batch_size`` with a lease, so
        several workers can run this at once without taking the same item.
        Paused and cancelled enrollments are not charged. Without a gateway
        there is nothing to charge and the report is empty. ``progress`` is
        called with each item's outcome as it is known (for progress bars).

        ``concurrency`` (default ``config.collect_concurrency``, 1) charges
        that many items at once from a thread pool; outcomes then arrive in
        the order they finish. ``rate_limit`` (default
        ``config.gateway_rate_limit``, none) caps the gateway requests of
        this run at that many per second, shared by all its threads (a
        :class:`~enrollpay.gateways.bucket.TokenBucket` may be passed to
        share one budget between runs). ``keep_outcomes=False`` reports
        only counts (``progress`` still sees every outcome), so a run over
        any number of items holds no per-item memory. ``sweep=False`` skips
        the :meth:`sweep` that runs first (``report.sweep`` is then None):
        for the shards of a fanned-out collection, after one sweep.
        """
        return collect.collect_due(
            self._ctx,
            now,
            limit,
            progress=progress,
            concurrency=concurrency,
            rate_limit=rate_limit,
            keep_outcomes=keep_outcomes,
            sweep_first=sweep,
        )

    def retry_now(self, item_id: str, *, actor: str = "customer") -> ItemOutcome:
        """Charge one failed, defaulted or card-less item immediately (once)."""
        return collect.retry_now(self._ctx, item_id, actor=actor)

    def handle_webhook(self, payload: bytes, headers: Mapping[str, str]) -> WebhookOutcome:
        """Verify, deduplicate and apply one gateway webhook.

        The gateway verifies the signature, its age by the wall clock
        (``WebhookSignatureError`` if it fails; nothing is written). The event
        id is recorded in the same transaction as the event's effects, so a
        redelivered event is a ``duplicate``; one that would move state
        backwards is ``stale``; events the library does not act on are ``ignored``.
        """
        return webhooks.handle_webhook(self._ctx, payload, headers, wall_clock=self._wall_clock)

    def cancel_enrollment(
        self,
        enrollment_id: str,
        *,
        reason: str,
        actor: str,
        refund_amount: Money | None = None,
        policy: RefundPolicy | None = None,
    ) -> CancellationResult:
        """Cancel, cancel every open item, and refund per policy (or ``refund_amount``).

        The refund defaults to :func:`~enrollpay.quote_refund` under the
        product's policy (else the system's). An explicit ``refund_amount``
        overrides it but may not exceed what was paid and not yet refunded
        (``RefundExceedsPaidError``, nothing written). Refunds go to the most
        recent payments first; gateway payments are refunded through the
        gateway with deterministic idempotency keys, manual ones are recorded
        as manual refunds.
        """
        return cancel.cancel_enrollment(
            self._ctx,
            enrollment_id,
            reason=reason,
            actor=actor,
            refund_amount=refund_amount,
            policy=policy,
        )

    def refund_payment(
        self, payment_id: str, amount: Money, *, actor: str, reason: str | None = None
    ) -> Refund:
        """Refund part or all of one payment (gateway payments through the gateway)."""
        return refunds.refund_payment(self._ctx, payment_id, amount, actor=actor, reason=reason)

    def record_manual_payment(
        self,
        item_id: str,
        *,
        method: ManualMethod,
        actor: str,
        reference: str | None = None,
        notes: str | None = None,
        amount: Money | None = None,
    ) -> Payment:
        """Record cash, a check or a bank transfer against a schedule item.

        ``amount`` defaults to what is outstanding; more is an
        ``OverpaymentError``. Paid, cancelled and waived items, and items with
        a charge in flight, are refused (``ItemNotPayableError``). An open
        card checkout for the item is cancelled at the gateway first, so the
        student cannot pay the same money twice; if they had just paid it,
        that payment is recorded and the manual one refused.
        """
        return manual.record_manual_payment(
            self._ctx,
            item_id,
            method=method,
            actor=actor,
            reference=reference,
            notes=notes,
            amount=amount,
        )

    # -- rescheduling, pausing, saved cards, the sweep, reconcile (system_ops) -------
    reschedule = system_ops.reschedule
    waive_item = system_ops.waive_item
    pause = system_ops.pause
    resume = system_ops.resume
    start_setup = system_ops.start_setup
    start_payment_method_update = system_ops.start_payment_method_update
    update_payment_method = system_ops.update_payment_method
    sweep = system_ops.sweep
    reconcile = system_ops.reconcile
    subscribe_at_gateway = system_ops.subscribe_at_gateway

    # -- coupons and scholarships (written in enrollpay.service.system_discounts) --
    create_coupon = system_discounts.create_coupon
    list_coupons = system_discounts.list_coupons
    deactivate_coupon = system_discounts.deactivate_coupon
    grant_scholarship = system_discounts.grant_scholarship
    list_scholarships = system_discounts.list_scholarships
    preview_discount = system_discounts.preview_discount

    # -- payers (written in enrollpay.service.system_payers) ------------------------
    add_payer = system_payers.add_payer
    get_payer = system_payers.get_payer
    list_payers = system_payers.list_payers
    set_payer_method = system_payers.set_payer_method
    payer_statement = system_payers.payer_statement
    # -- plan change (written in enrollpay.service.system_planchange) ---------------
    change_plan = system_planchange.change_plan
    preview_plan_change = system_planchange.preview_plan_change

    # -- read-only methods (written in enrollpay.service.system_reads) -------------
    get_product = system_reads.get_product
    find_product = system_reads.find_product
    list_products = system_reads.list_products
    list_plan_rules = system_reads.list_plan_rules
    eligible_plans = system_reads.eligible_plans
    preview_schedule = system_reads.preview_schedule
    quote_cancellation = system_reads.quote_cancellation
    has_access = system_reads.has_access
    payment_details = system_reads.payment_details
    get_enrollment = system_reads.get_enrollment
    get_schedule_item = system_reads.get_schedule_item
    list_enrollments = system_reads.list_enrollments
    list_schedule_items = system_reads.list_schedule_items
    list_disputes = system_reads.list_disputes
    stats = system_reads.stats
    revenue_report = system_reads.revenue_report
    status_report = system_reads.status_report
    product_report = system_reads.product_report
    aging_report = system_reads.aging_report
    forecast_report = system_reads.forecast_report
    recovery_report = system_reads.recovery_report
    audit_log = system_reads.audit_log
    verify_audit_chain = system_reads.verify_audit_chain
    audit_anchor = system_reads.audit_anchor
    list_events = system_reads.list_events
    dispatch_events = system_reads.dispatch_events

    # -- seats and waitlists (written in enrollpay.service.system_seats) ------------
    set_seat_limit = system_seats.set_seat_limit
    join_waitlist = system_seats.join_waitlist
    accept_seat_offer = system_seats.accept_seat_offer
    expire_seat_offers = system_seats.expire_seat_offers
    seats = system_seats.seats_of

    # -- receipts (written in enrollpay.service.system_receipts) -------------------
    get_receipt = system_receipts.get_receipt
    receipt_for_payment = system_receipts.receipt_for_payment
    list_receipts = system_receipts.list_receipts
    view_receipt = system_receipts.view_receipt
    receipt_html = system_receipts.receipt_html
    receipt_pdf = system_receipts.receipt_pdf
