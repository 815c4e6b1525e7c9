"""The fake's payments: customers, payment intents, refunds and card updates.

:class:`FakePayments` holds the money side of the fake (customers and
their saved methods, intents, refunds, setup flows) and its verbs, each
idempotent by key as Stripe's are. :class:`~enrollpay.gateways.fake.FakeGateway`
forwards the port's verbs here; every call goes through the fake's call log
and scripts first (``enter``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from enrollpay.domain.money import Money
from enrollpay.errors import GatewayRequestError, GatewayUnavailableError
from enrollpay.gateways.fake.intents import (
    Intent,
    apply_outcome,
    charge_object,
    intent_object,
    intent_result,
)
from enrollpay.gateways.fake.records import FakeCall, FakeCharge, FakeIds
from enrollpay.gateways.fake.scripts import Outcome, as_outcome
from enrollpay.ports import ChargeResult, GatewayRefund, PaymentSession

__all__ = ["FakePayments"]


class FakePayments:
    """Customers, intents, refunds and setup flows, and the verbs that change them.

    ``enter`` records a call and returns its scripted outcome; ``emit``
    creates a webhook event; ``strict`` says whether unknown customers and
    payment methods are refused (read at each call). ``calls`` and
    ``charges`` are the fake's public logs, shared.
    """

    def __init__(
        self,
        *,
        lock: threading.RLock,
        ids: FakeIds,
        enter: Callable[..., Outcome],
        emit: Callable[[str, Mapping[str, Any]], None],
        strict: Callable[[], bool],
        calls: list[FakeCall],
        charges: list[FakeCharge],
        disputed: Callable[[str], bool] = lambda _intent_id: False,
    ) -> None:
        self._lock = lock
        #: Whether a chargeback of a payment intent refuses its refunds.
        self._disputed = disputed
        self._ids = ids
        self._enter = enter
        self._emit = emit
        self._strict = strict
        self._calls = calls
        self._charges = charges
        self._memo: dict[tuple[str, str], Any] = {}
        #: Keys of charges in flight: a concurrent request with one is refused, as Stripe does.
        self._charging: set[str] = set()
        self._intents: dict[str, Intent] = {}
        self._customers: dict[str, list[str]] = {}
        self._refunds: dict[str, list[GatewayRefund]] = {}
        #: Setup flows by client secret, as Stripe-shaped SetupIntent objects.
        self._setups: dict[str, dict[str, Any]] = {}

    # -- customers --------------------------------------------------------------

    def ensure_customer(self, user_id: str, *, idempotency_key: str) -> str:
        """Create the customer once per key."""
        with self._lock:
            memo = self._memo.get(("customer", idempotency_key))
            self._enter("ensure_customer", user_id=user_id, idempotency_key=idempotency_key)
            if memo is not None:
                return str(memo)
            customer_id = self._ids.new("cus")
            self._customers[customer_id] = []
            self._memo[("customer", idempotency_key)] = customer_id
            return customer_id

    def attach_payment_method(self, customer_id: str, payment_method_id: str) -> None:
        """Save a payment method on a customer (what a completed checkout does)."""
        with self._lock:
            methods = self._customers.setdefault(customer_id, [])
            if payment_method_id not in methods:
                methods.append(payment_method_id)

    def check_customer(self, customer_id: str) -> None:
        """Refuse an unknown customer (a lenient fake makes any customer it is asked about)."""
        if customer_id not in self._customers:
            if self._strict():
                raise GatewayRequestError("No such customer", param="customer")
            self._customers[customer_id] = []

    # -- payments ----------------------------------------------------------------

    def start_payment(
        self,
        *,
        customer_id: str,
        amount: Money,
        idempotency_key: str,
        metadata: Mapping[str, str],
        description: str = "",
    ) -> PaymentSession:
        """Create (once per key) a payment intent the customer completes."""
        with self._lock:
            memo = self._memo.get(("start", idempotency_key))
            self._enter(
                "start_payment",
                customer_id=customer_id,
                amount=amount,
                idempotency_key=idempotency_key,
                metadata=dict(metadata),
            )
            if memo is not None:
                intent = self._intents[memo]
            else:
                intent = self._create_intent(customer_id, amount, metadata, idempotency_key)
                self._memo[("start", idempotency_key)] = intent.id
            return PaymentSession(intent.id, intent.client_secret, "requires_payment_method")

    def _create_intent(
        self, customer_id: str, amount: Money, metadata: Mapping[str, str], key: str | None
    ) -> Intent:
        self.check_customer(customer_id)
        intent_id = self._ids.new("pi")
        intent = Intent(
            intent_id,
            amount,
            customer_id,
            dict(metadata),
            f"{intent_id}_secret_{self._ids.count}",
            key,
        )
        self._intents[intent_id] = intent
        return intent

    def charge_off_session(
        self,
        *,
        customer_id: str,
        payment_method_id: str,
        amount: Money,
        idempotency_key: str,
        metadata: Mapping[str, str],
        description: str = "",
    ) -> ChargeResult:
        """Charge a saved method; the outcome follows the script (default: success)."""
        with self._lock:
            memo = self._memo.get(("charge", idempotency_key))
            if memo is not None:
                self._note_charge(idempotency_key, "replay")
                return intent_result(self._intents[memo])
            if idempotency_key in self._charging:
                # Stripe answers 409 to a request whose key another request is
                # still using; to the caller the outcome is unknown.
                self._note_charge(idempotency_key, "in_use")
                raise GatewayUnavailableError(
                    "another request with this idempotency key is in progress"
                )
            self._charging.add(idempotency_key)
        try:
            outcome = self._enter(
                "charge_off_session",
                customer_id=customer_id,
                payment_method_id=payment_method_id,
                amount=amount,
                idempotency_key=idempotency_key,
                metadata=dict(metadata),
            )
            with self._lock:
                if not payment_method_id.startswith("pm_"):
                    raise GatewayRequestError("Invalid payment method id", param="payment_method")
                if not self._strict():
                    # A lenient fake trusts ids it has never seen (a fresh process
                    # working on a database that a previous run filled).
                    self._customers.setdefault(customer_id, [])
                    self.attach_payment_method(customer_id, payment_method_id)
                if payment_method_id not in self._customers.get(customer_id, []):
                    raise GatewayRequestError(
                        "The payment method is not attached to this customer",
                        param="payment_method",
                    )
                intent = self._create_intent(customer_id, amount, metadata, idempotency_key)
                intent.payment_method = payment_method_id
                self._memo[("charge", idempotency_key)] = intent.id
                self._apply(intent, outcome)
                result = intent_result(intent)
        finally:
            with self._lock:
                self._charging.discard(idempotency_key)
        if outcome.kind == "timeout_after":
            raise GatewayUnavailableError("timeout after the charge was made")
        return result

    def _note_charge(self, key: str, why: str) -> None:
        """Log a charge answered without a new intent (a ``replay``, a key ``in_use``)."""
        self._calls.append(FakeCall("charge_off_session", {"idempotency_key": key, why: True}))

    def complete_payment(
        self,
        payment: str,
        outcome: Outcome | str = "succeed",
        *,
        payment_method: str = "pm_card_visa",
    ) -> ChargeResult:
        """Act as the customer confirming an on-session payment (by id or client secret)."""
        with self._lock:
            intent = self._find_intent(payment)
            chosen = as_outcome(outcome)
            intent.payment_method = payment_method
            if chosen.kind == "succeed":
                self.attach_payment_method(intent.customer_id, payment_method)
            self._apply(intent, chosen)
            return intent_result(intent)

    def settle(self, payment: str, outcome: Outcome | str = "succeed") -> ChargeResult:
        """Finish a ``processing`` payment (or an authentication) with ``outcome``."""
        with self._lock:
            intent = self._find_intent(payment)
            chosen = as_outcome(outcome)
            self._apply(intent, chosen)
            return intent_result(intent)

    def succeeded_intent(self, payment: str) -> Intent:
        """A succeeded intent, by id or client secret (what a cardholder can dispute)."""
        with self._lock:
            intent = self._find_intent(payment)
            if intent.status != "succeeded":
                raise GatewayRequestError("No succeeded payment to dispute", param="payment_intent")
            return intent

    def _find_intent(self, payment: str) -> Intent:
        for intent in self._intents.values():
            if payment in (intent.id, intent.client_secret):
                return intent
        raise GatewayRequestError("No such payment_intent", param="payment_intent")

    def _apply(self, intent: Intent, outcome: Outcome) -> None:
        event_type = apply_outcome(intent, outcome)
        if intent.status == "succeeded":
            self._charges.append(
                FakeCharge(intent.id, intent.amount, intent.customer_id, intent.idempotency_key)
            )
        if event_type is not None:
            self._emit(event_type, intent_object(intent))

    def payment_status(
        self, *, gateway_payment_id: str | None, idempotency_key: str, amount: Money
    ) -> ChargeResult | None:
        """The current state of a payment, found by id or by the key that created it."""
        with self._lock:
            self._enter(
                "payment_status",
                gateway_payment_id=gateway_payment_id,
                idempotency_key=idempotency_key,
            )
            intent_id = gateway_payment_id
            if intent_id is None:
                intent_id = self._memo.get(("charge", idempotency_key)) or self._memo.get(
                    ("start", idempotency_key)
                )
            if intent_id is None or intent_id not in self._intents:
                return None
            return intent_result(self._intents[intent_id])

    def cancel_payment(self, *, gateway_payment_id: str, idempotency_key: str) -> ChargeResult:
        """Cancel an intent that has not succeeded; a succeeded one is returned as it is."""
        with self._lock:
            self._enter(
                "cancel_payment",
                gateway_payment_id=gateway_payment_id,
                idempotency_key=idempotency_key,
            )
            intent = self._find_intent(gateway_payment_id)
            if intent.status not in ("succeeded", "canceled"):
                intent.status = "canceled"
                self._emit("payment_intent.canceled", intent_object(intent))
            return intent_result(intent)

    # -- refunds ------------------------------------------------------------------

    def refund(
        self,
        *,
        gateway_payment_id: str,
        amount: Money,
        idempotency_key: str,
        reference: str,
        reason: str | None = None,
    ) -> GatewayRefund:
        """Refund part or all of a succeeded payment, once per key."""
        with self._lock:
            memo = self._memo.get(("refund", idempotency_key))
            outcome = self._enter(
                "refund",
                gateway_payment_id=gateway_payment_id,
                amount=amount,
                idempotency_key=idempotency_key,
                reference=reference,
            )
            if memo is not None:
                return memo  # type: ignore[no-any-return]
            intent = self._intents.get(gateway_payment_id)
            if intent is None or intent.status != "succeeded":
                raise GatewayRequestError("No succeeded payment to refund", param="payment_intent")
            if self._disputed(intent.id):
                raise GatewayRequestError(
                    "This charge has been disputed", param="charge", code="charge_disputed"
                )
            done = sum(r.amount.minor for r in self._refunds.get(intent.id, []))
            if amount.minor <= 0 or done + amount.minor > intent.amount.minor:
                raise GatewayRequestError("Refund amount exceeds the charge", param="amount")
            refund = self._add_refund(intent, amount, reference)
            self._memo[("refund", idempotency_key)] = refund
        if outcome.kind == "timeout_after":
            raise GatewayUnavailableError("timeout after the refund was made")
        return refund

    def refund_from_dashboard(self, gateway_payment_id: str, amount: Money) -> GatewayRefund:
        """A refund made outside the library (by staff in the gateway's dashboard)."""
        with self._lock:
            return self._add_refund(self._intents[gateway_payment_id], amount, None)

    def _add_refund(self, intent: Intent, amount: Money, reference: str | None) -> GatewayRefund:
        """Refund ``amount`` of a succeeded intent and emit ``charge.refunded``."""
        refund = GatewayRefund(self._ids.new("re"), intent.id, amount, "succeeded", reference)
        self._refunds.setdefault(intent.id, []).append(refund)
        self._emit("charge.refunded", charge_object(intent, self._refunds[intent.id]))
        return refund

    def refunds_for(self, gateway_payment_id: str) -> list[GatewayRefund]:
        """Refunds the fake made for a payment."""
        return list(self._refunds.get(gateway_payment_id, []))

    # -- card updates -------------------------------------------------------------

    def start_payment_method_update(
        self,
        *,
        customer_id: str,
        idempotency_key: str,
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        """Open a setup flow for off-session use, once per key; :meth:`complete_setup` ends it.

        Like Stripe's SetupIntent: it belongs to the customer, keeps
        ``metadata`` for its webhook, and a repeated key returns the first
        flow's client secret. Scripted like the other verbs
        (``timeout_before``, ``timeout_after``: the flow exists, the answer is lost).
        """
        with self._lock:
            outcome = self._enter(
                "start_payment_method_update",
                customer_id=customer_id,
                idempotency_key=idempotency_key,
                metadata=dict(metadata or {}),
            )
            secret = self._memo.get(("setup", idempotency_key))
            if secret is None:
                self.check_customer(customer_id)
                setup_id = self._ids.new("seti")
                secret = f"{setup_id}_secret"
                self._setups[secret] = {
                    "id": setup_id,
                    "object": "setup_intent",
                    "customer": customer_id,
                    "usage": "off_session",
                    "status": "requires_payment_method",
                    "metadata": dict(metadata or {}),
                }
                self._memo[("setup", idempotency_key)] = secret
            if outcome.kind == "timeout_after":
                raise GatewayUnavailableError("timeout after the setup flow was created")
            return str(secret)

    def complete_setup(
        self, client_secret: str, payment_method: str = "pm_card_mastercard"
    ) -> None:
        """Act as the customer saving a card in the setup flow (``setup_intent.succeeded``).

        A flow that succeeded already is refused, as Stripe refuses to
        confirm a succeeded SetupIntent again.
        """
        with self._lock:
            setup = self._setups.get(client_secret)
            if setup is None:
                raise GatewayRequestError("No such setup_intent", param="setup_intent")
            if setup["status"] == "succeeded":
                raise GatewayRequestError(
                    "This SetupIntent has already succeeded", param="setup_intent"
                )
            self.attach_payment_method(setup["customer"], payment_method)
            setup.update(status="succeeded", payment_method=payment_method)
            self._emit("setup_intent.succeeded", dict(setup))
