"""Admin operations: cancel with refund, manual payments, date changes, pause, waive.

Each one takes an ``actor``, asks the authorisation policy, validates
everything before writing, and writes its audit entry in the same
transaction as its effect. A refused call writes nothing (except the
"permission denied" entry when the policy says no).
"""

from __future__ import annotations

import contextlib
import logging
from datetime import date, timedelta

import attrs

from enrollpay.domain.lifecycle import (
    TERMINAL_ITEM_STATUSES,
    AttemptStatus,
    EnrollmentStatus,
    ItemStatus,
)
from enrollpay.domain.money import Money
from enrollpay.domain.records import (
    Enrollment,
    ManualMethod,
    Payment,
    PaymentAttempt,
    ScheduleItem,
)
from enrollpay.domain.refunds import RefundPolicy, RefundQuote, quote_refund
from enrollpay.errors import (
    EnrollmentNotFoundError,
    GatewayRequestError,
    GatewayUnavailableError,
    InvalidInputError,
    InvalidStateError,
    ItemNotPayableError,
    OverpaymentError,
    ProductNotFoundError,
    ScheduleItemNotFoundError,
)
from enrollpay.ports import StoreTransaction, SubscriptionGateway
from enrollpay.service.base import MAX_TEXT, check_date, check_money, check_text
from enrollpay.service.collection import is_open_checkout
from enrollpay.service.enrollment import EnrollmentMixin
from enrollpay.service.results import CancellationResult
from enrollpay.service.settlement import apply_charge_result

__all__ = ["MANUAL_METHODS", "AdminMixin"]

logger = logging.getLogger(__name__)

MANUAL_METHODS: frozenset[str] = frozenset({"cash", "check", "bank_transfer", "other"})
_PAUSABLE = frozenset({ItemStatus.SCHEDULED, ItemStatus.FAILED})
_RESCHEDULABLE = frozenset(
    {
        ItemStatus.SCHEDULED,
        ItemStatus.FAILED,
        ItemStatus.DEFAULTED,
        ItemStatus.REQUIRES_PAYMENT_METHOD,
        ItemStatus.PAUSED,
    }
)


class _DryRunDone(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised at the end of a dry run so its transaction rolls back."""


class AdminMixin(EnrollmentMixin):
    """Admin use cases."""

    # -- open card checkouts ---------------------------------------------------------

    def _open_checkout(self, item_id: str) -> PaymentAttempt | None:
        """The item's on-session payment a student could still complete, if any."""
        with self.store.transaction() as tx:
            attempts = tx.attempts_of(item_id)
        last = attempts[-1] if attempts else None
        return last if is_open_checkout(last) else None

    def _close_checkouts(self, item_ids: list[str], *, actor: str) -> None:
        """After an item stopped being owed, make sure no open checkout can still take money.

        Best effort: a payment completed meanwhile is recorded (and flagged as
        unapplied); a gateway that cannot be reached is noted in the audit
        trail, and a late payment would then be recorded and flagged the same way.
        """
        for item_id in item_ids:
            try:
                self.cancel_open_checkout(item_id, actor=actor)
            except ItemNotPayableError:
                continue  # the late payment is recorded and flagged
            except (GatewayUnavailableError, GatewayRequestError) as exc:
                with self.store.transaction() as tx:
                    self.audit(
                        tx,
                        actor="system",
                        action="payment.checkout_cancel_failed",
                        entity_type="schedule_item",
                        entity_id=item_id,
                        data={"message": str(exc)},
                    )

    def cancel_open_checkout(self, item_id: str, *, actor: str) -> None:
        """Cancel the item's open card checkout at the gateway, so it can never be paid.

        If the student completed it meanwhile, that payment is recorded and
        :class:`~enrollpay.errors.ItemNotPayableError` raised; if the gateway
        cannot be reached, ``GatewayUnavailableError`` propagates and nothing
        is written.
        """
        attempt = self._open_checkout(item_id)
        if attempt is None:
            return
        if attempt.gateway_payment_id is not None and self.gateway is not None:
            state = self.gateway.cancel_payment(
                gateway_payment_id=attempt.gateway_payment_id,
                idempotency_key=f"cancel:{attempt.id}",
            )
            if state.status == "succeeded":
                with self.store.transaction() as tx:
                    apply_charge_result(self, tx, attempt.id, state)
                raise ItemNotPayableError(item_id, "paid by card meanwhile")
        with self.store.transaction() as tx:
            current = self.lock_attempt(tx, attempt.id)
            if not self._mark_checkout_cancelled(
                tx, current, "checkout cancelled by an admin operation"
            ):
                return
            self.audit(
                tx,
                actor=actor,
                action="payment.checkout_cancelled",
                entity_type="schedule_item",
                entity_id=item_id,
                data={"attempt_id": attempt.id, "gateway_payment_id": attempt.gateway_payment_id},
            )

    # -- lookups shared by the operations ------------------------------------------

    def _enrollment(self, tx: StoreTransaction, enrollment_id: str) -> Enrollment:
        enrollment = tx.get_enrollment(enrollment_id, for_update=True)
        if enrollment is None:
            raise EnrollmentNotFoundError(enrollment_id)
        return enrollment

    def _item(self, tx: StoreTransaction, item_id: str) -> ScheduleItem:
        item = self.lock_item(tx, item_id)
        if item is None:
            raise ScheduleItemNotFoundError(item_id)
        return item

    def _in_flight(self, tx: StoreTransaction, item: ScheduleItem) -> bool:
        """An attempt is being charged right now or its outcome is unknown."""
        attempts = tx.attempts_of(item.id)
        if not attempts:
            return False
        last = attempts[-1]
        return last.status == AttemptStatus.UNKNOWN or (
            last.status == AttemptStatus.PENDING and last.mode == "off_session"
        )

    # -- cancellation --------------------------------------------------------------

    def quote_cancellation(
        self, enrollment_id: str, *, on: date | None = None, policy: RefundPolicy | None = None
    ) -> RefundQuote:
        """The refund a cancellation would give, with its line items (writes nothing)."""
        with self.store.transaction() as tx:
            enrollment = self._enrollment(tx, enrollment_id)
            day = self.today() if on is None else check_date(on, "on")
            return self._quote(tx, enrollment, day, policy)

    def _quote(
        self,
        tx: StoreTransaction,
        enrollment: Enrollment,
        on: date,
        policy: RefundPolicy | None,
    ) -> RefundQuote:
        product = tx.get_product(enrollment.product_id)
        if product is None:
            raise ProductNotFoundError(enrollment.product_id)
        refundable = self.refundable_by_payment(tx, enrollment.id)
        paid = Money(sum(m.minor for _, m in refundable), enrollment.price.currency)
        chosen = policy or product.refund_policy or self.config.refund_policy
        end = enrollment.start_date + product.service_period.times(1)
        return quote_refund(
            chosen,
            price=enrollment.price,
            paid=paid,
            service_start=enrollment.start_date,
            service_end=end,
            cancelled_on=on,
        )

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
        self.authorize(actor, "cancel", enrollment_id)
        check_text(reason, "reason", limit=MAX_TEXT)
        now = self.now()
        with self.store.transaction() as tx:
            enrollment = self._enrollment(tx, enrollment_id)
            if enrollment.status == EnrollmentStatus.CANCELLED:
                raise InvalidStateError(f"enrollment {enrollment_id!r} is already cancelled")
            quote: RefundQuote | None = None
            if refund_amount is None:
                quote = self._quote(tx, enrollment, self.today(now), policy)
                total = quote.refund
            else:
                if not isinstance(refund_amount, Money) or refund_amount.minor != 0:
                    check_money(refund_amount, "refund_amount", currency=enrollment.price.currency)
                total = refund_amount
            plan = self.plan_refunds(tx, enrollment_id, total) if total.minor else []
            cancelled_items = 0
            for item in tx.items_of(enrollment_id):
                if item.status in TERMINAL_ITEM_STATUSES or self._in_flight(tx, item):
                    continue
                self.set_item(
                    tx, item, status=ItemStatus.CANCELLED, lease_until=None, next_attempt_at=None
                )
                cancelled_items += 1
            updated = attrs.evolve(
                enrollment,
                status=EnrollmentStatus.CANCELLED,
                cancelled_at=now,
                cancel_reason=reason,
                updated_at=now,
            )
            tx.update_enrollment(updated)
            self.audit(
                tx,
                actor=actor,
                action="enrollment.cancelled",
                entity_type="enrollment",
                entity_id=enrollment_id,
                data={
                    "reason": reason,
                    "refund": total,
                    "items_cancelled": cancelled_items,
                    "quote": None if quote is None else quote.basis,
                },
            )
            refunds = self.write_refunds(tx, plan, actor=actor, reason=reason)
        logger.info(
            "enrollment %s cancelled by %s: refund %s in %d refund(s), %d item(s) cancelled",
            enrollment_id,
            actor,
            total,
            len(refunds),
            cancelled_items,
        )
        refunds = self.send_refunds(refunds)
        with self.store.transaction() as tx:
            item_ids = [i.id for i in tx.items_of(enrollment_id)]
        self._close_checkouts(item_ids, actor=actor)
        if updated.gateway_subscription_id is not None and self.gateway is not None:
            self._cancel_gateway_subscription(updated)
        return CancellationResult(updated, total, tuple(refunds), quote, cancelled_items)

    def _cancel_gateway_subscription(self, enrollment: Enrollment) -> None:
        gateway, subscription_id = self.gateway, enrollment.gateway_subscription_id
        if (
            gateway is None
            or not isinstance(gateway, SubscriptionGateway)
            or subscription_id is None
        ):
            return
        try:
            gateway.cancel_subscription(
                subscription_id,
                idempotency_key=f"cancel-subscription:{enrollment.id}",
            )
        except (GatewayUnavailableError, GatewayRequestError) as exc:
            with self.store.transaction() as tx:
                self.audit(
                    tx,
                    actor="system",
                    action="subscription.cancel_failed",
                    entity_type="enrollment",
                    entity_id=enrollment.id,
                    data={"message": str(exc)},
                )

    # -- manual payments -------------------------------------------------------------

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
        args = (item_id, method, actor, reference, notes, amount)
        if self._open_checkout(item_id) is not None:
            with contextlib.suppress(_DryRunDone):
                self._record_manual(*args, dry_run=True)  # refusals raise, nothing is kept
            self.cancel_open_checkout(item_id, actor=actor)
        return self._record_manual(*args, dry_run=False)

    def _record_manual(  # noqa: PLR0917 - private twin of the keyword-only public method
        self,
        item_id: str,
        method: ManualMethod,
        actor: str,
        reference: str | None,
        notes: str | None,
        amount: Money | None,
        *,
        dry_run: bool,
    ) -> Payment:
        self.authorize(actor, "record_manual_payment", item_id)
        if method not in MANUAL_METHODS:
            raise InvalidInputError(
                f"method must be one of {sorted(MANUAL_METHODS)}, got {method!r}"
            )
        check_text(reference, "reference", limit=MAX_TEXT, required=False)
        check_text(notes, "notes", limit=MAX_TEXT * 4, required=False)
        now = self.now()
        with self.store.transaction() as tx:
            item = self._item(tx, item_id)
            enrollment = self._enrollment(tx, item.enrollment_id)
            if enrollment.status == EnrollmentStatus.CANCELLED:
                raise ItemNotPayableError(item_id, "cancelled")
            if item.status in TERMINAL_ITEM_STATUSES:
                raise ItemNotPayableError(item_id, item.status)
            if self._in_flight(tx, item):
                raise ItemNotPayableError(item_id, "being charged")
            paying = (
                item.outstanding
                if amount is None
                else check_money(amount, "amount", currency=item.amount.currency)
            )
            if paying > item.outstanding:
                raise OverpaymentError(paying, item.outstanding)
            payment = Payment(
                id=self.new_id("pay"),
                enrollment_id=enrollment.id,
                item_id=item_id,
                amount=paying,
                method=method,
                received_at=now,
                reference=reference,
                notes=notes,
                actor=actor,
            )
            tx.add_payment(payment)
            paid = item.amount_paid + paying
            if paid == item.amount:
                self.set_item(
                    tx,
                    item,
                    status=ItemStatus.PAID,
                    amount_paid=paid,
                    paid_at=now,
                    lease_until=None,
                    next_attempt_at=None,
                )
            else:
                tx.update_item(attrs.evolve(item, amount_paid=paid, updated_at=now))
            self.audit(
                tx,
                actor=actor,
                action="payment.manual_recorded",
                entity_type="schedule_item",
                entity_id=item_id,
                data={
                    "payment_id": payment.id,
                    "method": method,
                    "amount": paying,
                    "reference": reference,
                },
            )
            self.refresh_enrollment(tx, enrollment.id, actor=actor)
            if dry_run:
                raise _DryRunDone  # every check passed; roll the writes back
        logger.info(
            "manual payment %s (%s, %s) recorded by %s for item %s",
            payment.id,
            method,
            paying,
            actor,
            item_id,
        )
        return payment

    # -- dates, pause, waive ----------------------------------------------------------

    def reschedule(self, item_id: str, new_due: date, *, actor: str) -> ScheduleItem:
        """Move an unpaid item's due date (not into the past); it is retried afresh."""
        self.authorize(actor, "reschedule", item_id)
        check_date(new_due, "new_due")
        today = self.today()
        if new_due < today:
            raise InvalidInputError(f"cannot reschedule into the past: {new_due} < {today}")
        with self.store.transaction() as tx:
            item = self._item(tx, item_id)
            if item.status not in _RESCHEDULABLE or self._in_flight(tx, item):
                raise InvalidStateError(
                    f"schedule item {item_id!r} is {item.status} and cannot be rescheduled"
                )
            status = ItemStatus.PAUSED if item.status == ItemStatus.PAUSED else ItemStatus.SCHEDULED
            updated = self.set_item(
                tx,
                item,
                due=new_due,
                status=status,
                failures=0,
                next_attempt_at=None,
                lease_until=None,
            )
            self.audit(
                tx,
                actor=actor,
                action="item.rescheduled",
                entity_type="schedule_item",
                entity_id=item_id,
                data={"from": item.due, "to": new_due},
            )
            self.refresh_enrollment(tx, item.enrollment_id, actor=actor)
        return updated

    def pause(self, enrollment_id: str, *, actor: str, reason: str | None = None) -> Enrollment:
        """Stop collection: scheduled and failed items wait until ``resume``."""
        self.authorize(actor, "pause", enrollment_id)
        check_text(reason, "reason", limit=MAX_TEXT, required=False)
        today = self.today()
        with self.store.transaction() as tx:
            enrollment = self._enrollment(tx, enrollment_id)
            if enrollment.status in (
                EnrollmentStatus.CANCELLED,
                EnrollmentStatus.COMPLETED,
                EnrollmentStatus.PAUSED,
            ):
                raise InvalidStateError(
                    f"enrollment {enrollment_id!r} is {enrollment.status} and cannot be paused"
                )
            paused = 0
            for item in tx.items_of(enrollment_id):
                if item.status in _PAUSABLE:
                    self.set_item(tx, item, status=ItemStatus.PAUSED, lease_until=None)
                    paused += 1
            updated = attrs.evolve(
                enrollment, status=EnrollmentStatus.PAUSED, paused_on=today, updated_at=self.now()
            )
            tx.update_enrollment(updated)
            self.audit(
                tx,
                actor=actor,
                action="enrollment.paused",
                entity_type="enrollment",
                entity_id=enrollment_id,
                data={"items": paused, "reason": reason},
            )
        return updated

    def resume(self, enrollment_id: str, *, actor: str) -> Enrollment:
        """Restart collection; unpaid paused items move later by the days paused."""
        self.authorize(actor, "resume", enrollment_id)
        today = self.today()
        with self.store.transaction() as tx:
            enrollment = self._enrollment(tx, enrollment_id)
            if enrollment.status != EnrollmentStatus.PAUSED or enrollment.paused_on is None:
                raise InvalidStateError(f"enrollment {enrollment_id!r} is not paused")
            shift = timedelta(days=max((today - enrollment.paused_on).days, 0))
            for item in tx.items_of(enrollment_id):
                if item.status == ItemStatus.PAUSED:
                    self.set_item(
                        tx,
                        item,
                        status=ItemStatus.SCHEDULED,
                        due=item.due + shift,
                        next_attempt_at=None,
                    )
            # The derived status takes over again from the items.
            interim = attrs.evolve(
                enrollment, status=EnrollmentStatus.ACTIVE, paused_on=None, updated_at=self.now()
            )
            tx.update_enrollment(interim)
            self.audit(
                tx,
                actor=actor,
                action="enrollment.resumed",
                entity_type="enrollment",
                entity_id=enrollment_id,
                data={"shifted_days": shift.days},
            )
            return self.refresh_enrollment(tx, enrollment_id, actor=actor)

    def waive_item(self, item_id: str, *, actor: str, reason: str | None = None) -> ScheduleItem:
        """Forgive an unpaid item: it is no longer owed."""
        self.authorize(actor, "waive", item_id)
        check_text(reason, "reason", limit=MAX_TEXT, required=False)
        with self.store.transaction() as tx:
            item = self._item(tx, item_id)
            if item.status in TERMINAL_ITEM_STATUSES or self._in_flight(tx, item):
                raise ItemNotPayableError(item_id, item.status)
            updated = self.set_item(
                tx, item, status=ItemStatus.WAIVED, lease_until=None, next_attempt_at=None
            )
            self.audit(
                tx,
                actor=actor,
                action="item.waived",
                entity_type="schedule_item",
                entity_id=item_id,
                data={"amount": item.outstanding, "reason": reason},
            )
            self.refresh_enrollment(tx, item.enrollment_id, actor=actor)
        self._close_checkouts([item_id], actor=actor)
        return updated
