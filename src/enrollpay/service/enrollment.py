"""Enrolling: plan choice, schedule, the first on-session payment, card updates."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import date
from typing import Literal

import attrs

from enrollpay.domain.lifecycle import (
    AttemptStatus,
    EnrollmentStatus,
    ItemState,
    ItemStatus,
    derive_enrollment_status,
)
from enrollpay.domain.plans import PaymentPlan, Subscription, detect_plan
from enrollpay.domain.records import Customer, Enrollment, PaymentAttempt, ScheduleItem
from enrollpay.domain.schedule import build_schedule
from enrollpay.errors import (
    DuplicateEnrollmentError,
    GatewayUnavailableError,
    InvalidInputError,
    InvalidStateError,
    ItemNotPayableError,
    ProductInactiveError,
    ProductNotFoundError,
    ScheduleItemNotFoundError,
)
from enrollpay.ports import Gateway, PaymentSession, StoreTransaction
from enrollpay.service.base import check_date, check_text
from enrollpay.service.collection import (
    CollectionMixin,
    attempt_key,
    is_open_checkout,
)
from enrollpay.service.results import EnrollmentResult, ItemOutcome
from enrollpay.service.settlement import apply_charge_result

__all__ = ["EnrollmentMixin", "check_payment_method_id", "customer_key"]

# Logs enrollment, item and gateway payment ids; never client secrets or card data.
logger = logging.getLogger(__name__)

_CARD_LIKE = re.compile(r"^[\d\s-]{12,23}$")
_METHOD_ID = re.compile(r"^[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]{1,200}$")
#: Runs of digits, single spaces or dashes allowed between them (how card numbers are written).
_DIGIT_RUN = re.compile(r"\d(?:[ -]?\d)*")
#: Like Stripe's limit on metadata keys: a host cannot store an unbounded mapping.
MAX_METADATA_KEYS = 50
_PAYABLE_NOW = frozenset(
    {
        ItemStatus.SCHEDULED,
        ItemStatus.FAILED,
        ItemStatus.REQUIRES_ACTION,
        ItemStatus.REQUIRES_PAYMENT_METHOD,
        ItemStatus.DEFAULTED,
        ItemStatus.PROCESSING,
    }
)


def customer_key(user_id: str) -> str:
    """The idempotency key that creates a user's gateway customer exactly once."""
    return f"customer:{user_id}"


def _luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _holds_card_number(value: str) -> bool:
    """True if ``value`` contains 13-19 digits (spaces or dashes between) passing Luhn."""
    for run in _DIGIT_RUN.findall(value):
        digits = re.sub(r"\D", "", run)
        if 13 <= len(digits) <= 19 and _luhn_valid(digits):
            return True
    return False


def check_payment_method_id(value: object) -> str:
    """A gateway payment-method id such as ``pm_1Nx...``; card numbers are refused."""
    if not isinstance(value, str):
        raise InvalidInputError("payment_method_id must be a string")
    digits = re.sub(r"[\s-]", "", value)
    if (_CARD_LIKE.match(value) and digits.isdigit()) or _holds_card_number(value):
        # Never echo it back: it may be a real card number.
        raise InvalidInputError(
            "payment_method_id looks like a card number; enrollpay never accepts card data, "
            "pass the gateway's payment method id"
        )
    if not _METHOD_ID.match(value):
        raise InvalidInputError("payment_method_id is not a gateway payment method id")
    return value


class EnrollmentMixin(CollectionMixin):
    """``enroll``, ``start_payment`` and the card-update flow."""

    def enroll(
        self,
        *,
        user_id: str,
        product_id: str,
        plan: PaymentPlan | None = None,
        start: date | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> EnrollmentResult:
        """Enroll ``user_id`` in a product and open the first payment if one is due.

        The enrollment, its schedule, the first attempt (with its idempotency
        key) and the audit entry are written in one transaction *before* the
        gateway is called. Raises ``ProductNotFoundError``,
        ``ProductInactiveError``, ``DuplicateEnrollmentError`` (with
        ``existing_id``), ``PlanNotOffered`` or ``PlanError``; nothing is
        written then.
        """
        check_text(user_id, "user_id")
        check_text(product_id, "product_id")
        if metadata is not None and not isinstance(metadata, Mapping):
            raise InvalidInputError(f"metadata must be a mapping, got {type(metadata).__name__}")
        if len(metadata or {}) > MAX_METADATA_KEYS:
            raise InvalidInputError(f"metadata has more than {MAX_METADATA_KEYS} keys")
        meta = {
            check_text(k, "metadata key"): check_text(v, "metadata value", required=False)
            for k, v in (metadata or {}).items()
        }
        now = self.now()
        today = self.today(now)
        start_date = today if start is None else check_date(start, "start")
        if start_date < today:
            raise InvalidInputError(f"start {start_date} is in the past (today is {today})")
        gateway = self.gateway
        with self.store.transaction() as tx:
            product = tx.get_product(product_id)
            if product is None:
                raise ProductNotFoundError(product_id)
            if not product.active:
                raise ProductInactiveError(product_id)
            existing = tx.find_open_enrollment(user_id, product.id)
            if existing is not None:
                raise DuplicateEnrollmentError(user_id, product.id, existing.id)
            chosen = detect_plan(product, tx.list_plan_rules(), plan)
            currency = product.price.currency
            lines = build_schedule(
                chosen,
                product.price,
                start_date,
                granularity=1 if gateway is None else gateway.amount_granularity(currency),
                minimum=None if gateway is None else gateway.minimum_charge(currency),
                horizon=self.config.subscription_horizon,
            )
            enrollment_id = self.new_id("enr")
            items = [self.item_from_line(enrollment_id, line, now) for line in lines]
            first = items[0] if items[0].due <= today else None
            attempt: PaymentAttempt | None = None
            if first is not None and gateway is not None:
                attempt = self._new_attempt(first, number=1, mode="on_session")
                # The lease is the checkout window: once it runs out, collection
                # cancels the abandoned payment and charges a saved card.
                items[0] = attrs.evolve(
                    first,
                    status=ItemStatus.PROCESSING,
                    lease_until=now + self.config.checkout_window,
                )
            status = derive_enrollment_status(
                (ItemState(i.status, i.due) for i in items),
                today=today,
                open_ended=isinstance(chosen, Subscription) and chosen.cycles is None,
            )
            enrollment = Enrollment(
                id=enrollment_id,
                user_id=user_id,
                product_id=product.id,
                status=status,
                plan=chosen,
                price=product.price,
                start_date=start_date,
                created_at=now,
                updated_at=now,
                metadata=meta,
            )
            tx.add_enrollment(enrollment)
            tx.add_items(items)
            customer: Customer | None = None
            if attempt is not None:
                tx.add_attempt(attempt)
                customer = tx.get_customer(user_id)
            self.audit(
                tx,
                actor=user_id,
                action="enrollment.created",
                entity_type="enrollment",
                entity_id=enrollment_id,
                data={
                    "product_id": product.id,
                    "plan": chosen.kind,
                    "price": product.price,
                    "items": len(items),
                    "first_attempt": None if attempt is None else attempt.id,
                },
            )
        result = EnrollmentResult(
            enrollment_id=enrollment_id,
            enrollment=enrollment,
            payment_plan=chosen,
            schedule=tuple(items),
            requires_immediate_payment=first is not None,
            payment_item_id=None if first is None else first.id,
        )
        logger.info(
            "enrollment %s created in product %s (%s, %d item(s))",
            enrollment_id,
            product.id,
            chosen.kind,
            len(items),
        )
        if attempt is None or gateway is None:
            return result
        self.checkpoint("after_attempt_written")
        try:
            session = self._open_session(
                gateway, tx_user=user_id, attempt=attempt, customer=customer, customer_read=True
            )
        except GatewayUnavailableError as exc:
            return attrs.evolve(result, payment_error=f"gateway unavailable: {exc}")
        return attrs.evolve(result, client_secret=session.client_secret)

    def _new_attempt(
        self, item: ScheduleItem, *, number: int, mode: str, payment_method_id: str | None = None
    ) -> PaymentAttempt:
        now = self.now()
        return PaymentAttempt(
            id=self.new_id("att"),
            item_id=item.id,
            enrollment_id=item.enrollment_id,
            number=number,
            idempotency_key=attempt_key(item.id, number),
            status=AttemptStatus.PENDING,
            amount=item.outstanding,
            mode=mode,  # type: ignore[arg-type]
            created_at=now,
            updated_at=now,
            payment_method_id=payment_method_id,
        )

    def ensure_customer(self, gateway: Gateway, user_id: str) -> Customer:
        """The user's gateway customer, created once (the key makes it idempotent)."""
        with self.store.transaction() as tx:
            customer = tx.get_customer(user_id)
        if customer is not None:
            return customer
        customer_id = gateway.ensure_customer(user_id, idempotency_key=customer_key(user_id))
        with self.store.transaction() as tx:
            return self._record_customer(tx, user_id, customer_id)

    def _record_customer(self, tx: StoreTransaction, user_id: str, customer_id: str) -> Customer:
        """Store the gateway customer just created for a user (unless it was stored meanwhile)."""
        existing = tx.get_customer(user_id)
        if existing is not None:
            return existing
        customer = Customer(user_id, customer_id)
        tx.put_customer(customer)
        self.audit(
            tx,
            actor="system",
            action="customer.created",
            entity_type="customer",
            entity_id=user_id,
            data={"gateway_customer_id": customer_id},
        )
        return customer

    def _open_session(
        self,
        gateway: Gateway,
        *,
        tx_user: str,
        attempt: PaymentAttempt,
        customer: Customer | None = None,
        customer_read: bool = False,
    ) -> PaymentSession:
        """Start the on-session payment of ``attempt`` and record its gateway id.

        ``customer`` is the user's stored customer when the caller read it
        (``customer_read``: the caller read it, and None means the user has
        none yet). Without one the gateway customer is created (idempotently,
        by the user's key) and stored in the same transaction as the
        session, so a new student's first payment costs one transaction
        after the gateway calls, not three.
        """
        if customer is None and not customer_read:
            with self.store.transaction() as tx:
                customer = tx.get_customer(tx_user)
        new_customer_id: str | None = None
        if customer is not None:
            customer_id = customer.gateway_customer_id
        else:
            customer_id = new_customer_id = gateway.ensure_customer(
                tx_user, idempotency_key=customer_key(tx_user)
            )
        session = gateway.start_payment(
            customer_id=customer_id,
            amount=attempt.amount,
            idempotency_key=attempt.idempotency_key,
            metadata={
                "enrollment_id": attempt.enrollment_id,
                "item_id": attempt.item_id,
                "attempt_id": attempt.id,
            },
            description=f"enrollment {attempt.enrollment_id}",
        )
        with self.store.transaction() as tx:
            if new_customer_id is not None:
                self._record_customer(tx, tx_user, new_customer_id)
            current = tx.get_attempt(attempt.id)
            assert current is not None  # noqa: S101
            if current.gateway_payment_id != session.gateway_payment_id:
                tx.update_attempt(
                    attrs.evolve(
                        current,
                        gateway_payment_id=session.gateway_payment_id,
                        updated_at=self.now(),
                    )
                )
                self.audit(
                    tx,
                    actor="system",
                    action="payment.session_opened",
                    entity_type="schedule_item",
                    entity_id=attempt.item_id,
                    data={
                        "attempt_id": attempt.id,
                        "gateway_payment_id": session.gateway_payment_id,
                    },
                )
        return session

    def start_payment(self, item_id: str) -> PaymentSession:
        """Open (or reopen) an on-session payment for an item the student pays now.

        An open on-session attempt for the item is reused (same key, same
        gateway payment), so clicking "pay" twice never makes two payments.
        """
        gateway = self.require_gateway()
        with self.store.transaction() as tx:
            item, attempt = self._payable_attempt(tx, item_id)
        if attempt.gateway_payment_id is not None:
            # Reopen the very payment the customer (or collection) started:
            # a second payment for the same item could be paid twice.
            state = gateway.payment_status(
                gateway_payment_id=attempt.gateway_payment_id,
                idempotency_key=attempt.idempotency_key,
                amount=attempt.amount,
            )
            if state is not None and state.status == "canceled":
                # Cancelled at the gateway (an abandoned checkout, or by staff):
                # it can never be paid, so the customer gets a new payment.
                with self.store.transaction() as tx:
                    current = self.lock_attempt(tx, attempt.id)
                    self._mark_checkout_cancelled(
                        tx, current, "the payment was canceled at the gateway"
                    )
                    renewed_item, renewed = self._payable_attempt(tx, item_id)
                user = self._user_of(renewed_item)
                return self._open_session(gateway, tx_user=user, attempt=renewed)
            if state is not None and state.client_secret:
                if state.status == "succeeded":
                    with self.store.transaction() as tx:
                        apply_charge_result(self, tx, attempt.id, state)
                    raise ItemNotPayableError(item_id, "paid")
                status: Literal["requires_action", "requires_payment_method"] = (
                    "requires_action"
                    if state.status == "requires_action"
                    else "requires_payment_method"
                )
                return PaymentSession(attempt.gateway_payment_id, state.client_secret, status)
        return self._open_session(gateway, tx_user=self._user_of(item), attempt=attempt)

    def _user_of(self, item: ScheduleItem) -> str:
        with self.store.transaction() as tx:
            enrollment = tx.get_enrollment(item.enrollment_id)
        assert enrollment is not None  # noqa: S101
        return enrollment.user_id

    def _payable_attempt(
        self, tx: StoreTransaction, item_id: str
    ) -> tuple[ScheduleItem, PaymentAttempt]:
        item = self.lock_item(tx, item_id)
        if item is None:
            raise ScheduleItemNotFoundError(item_id)
        enrollment = tx.get_enrollment(item.enrollment_id)
        assert enrollment is not None  # noqa: S101
        if enrollment.status in (EnrollmentStatus.CANCELLED, EnrollmentStatus.PAUSED):
            raise InvalidStateError(f"enrollment {enrollment.id!r} is {enrollment.status}")
        if item.status not in _PAYABLE_NOW:
            raise ItemNotPayableError(item_id, item.status)
        attempts = tx.attempts_of(item_id)
        last = attempts[-1] if attempts else None
        if last is not None and last.status == AttemptStatus.UNKNOWN:
            raise ItemNotPayableError(item_id, "awaiting reconciliation")
        if last is not None and last.mode == "off_session" and last.status == AttemptStatus.PENDING:
            raise ItemNotPayableError(item_id, "being charged")
        if last is not None and is_open_checkout(last):
            if item.status == ItemStatus.PROCESSING:
                # The customer is back at the checkout: give them the full window.
                tx.update_item(
                    attrs.evolve(item, lease_until=self.now() + self.config.checkout_window)
                )
            return item, last
        if last is not None and last.status == AttemptStatus.REQUIRES_ACTION:
            return item, last
        attempt = self._new_attempt(item, number=len(attempts) + 1, mode="on_session")
        tx.add_attempt(attempt)
        self.set_item(
            tx,
            item,
            status=ItemStatus.PROCESSING,
            lease_until=self.now() + self.config.checkout_window,
            next_attempt_at=None,
        )
        self.audit(
            tx,
            actor="customer",
            action="attempt.created",
            entity_type="schedule_item",
            entity_id=item_id,
            data={"attempt_id": attempt.id, "mode": "on_session"},
        )
        # No status refresh here: a past-due or suspended enrollment stays so while
        # the payment is open (opening the checkout must not restore access); the
        # outcome refreshes it.
        return item, attempt

    def start_payment_method_update(self, user_id: str) -> str:
        """A client secret for the card-update form (a setup flow at the gateway)."""
        gateway = self.require_gateway()
        check_text(user_id, "user_id")
        customer = self.ensure_customer(gateway, user_id)
        # A setup flow moves no money, so each request may open a new one.
        return gateway.start_payment_method_update(
            customer_id=customer.gateway_customer_id,
            idempotency_key=f"setup:{user_id}:{self.new_id('set')}",
        )

    def update_payment_method(
        self, user_id: str, payment_method_id: str, *, actor: str = "customer"
    ) -> list[ItemOutcome]:
        """Make a new saved card the default and charge waiting items once each.

        Items that need a new payment method (hard declines, defaulted items)
        are retried immediately, one attempt each.
        """
        check_text(user_id, "user_id")
        method = check_payment_method_id(payment_method_id)
        gateway = self.require_gateway()
        customer = self.ensure_customer(gateway, user_id)
        with self.store.transaction() as tx:
            tx.put_customer(attrs.evolve(customer, payment_method_id=method))
            self.audit(
                tx,
                actor=actor,
                action="customer.payment_method_updated",
                entity_type="customer",
                entity_id=user_id,
            )
            waiting = [
                i.id
                for e in tx.list_enrollments(user_id=user_id)
                if e.status not in (EnrollmentStatus.CANCELLED, EnrollmentStatus.PAUSED)
                for i in tx.items_of(e.id)
                if i.status in (ItemStatus.REQUIRES_PAYMENT_METHOD, ItemStatus.DEFAULTED)
            ]
        return [self.retry_now(item_id, actor=actor) for item_id in waiting]
