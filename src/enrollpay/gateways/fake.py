"""A deterministic, in-memory, scriptable payment gateway.

``FakeGateway`` behaves like Stripe where the library depends on it:
idempotency keys (the same key returns the first result and moves no more
money), payment intents that the customer completes on-session, saved
payment methods for off-session charges, partial refunds, and signed
webhook events in Stripe's shapes. Tests script what happens next (a soft or
hard decline, authentication, a timeout before or after the money moved, a
rate limit, latency) and assert on what it recorded.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Literal, Protocol

import attrs

from enrollpay.clock import SystemClock
from enrollpay.domain.money import Money
from enrollpay.domain.retry import classify_decline
from enrollpay.errors import (
    GatewayRequestError,
    GatewayUnavailableError,
    WebhookPayloadError,
    WebhookSignatureError,
)
from enrollpay.gateways.events import normalise_event
from enrollpay.gateways.signing import (
    check_tolerance,
    header_value,
    sign_payload,
    verify_signature,
)
from enrollpay.ports import ChargeResult, Clock, GatewayEvent, GatewayRefund, PaymentSession

__all__ = ["FakeCall", "FakeCharge", "FakeGateway", "Outcome", "SignedWebhook"]

OutcomeKind = Literal[
    "succeed",
    "decline",
    "requires_action",
    "processing",
    "timeout_before",
    "timeout_after",
    "rate_limited",
]
Verb = Literal[
    "charge_off_session",
    "start_payment",
    "refund",
    "ensure_customer",
    "payment_status",
    "cancel_payment",
]

SIGNATURE_HEADER = "Stripe-Signature"


@attrs.frozen
class Outcome:
    """What the fake does on one scripted call."""

    kind: OutcomeKind = "succeed"
    decline_code: str | None = None
    latency: float = 0.0


@attrs.frozen
class FakeCall:
    """One call the fake received."""

    verb: str
    params: Mapping[str, Any] = attrs.field(hash=False)


@attrs.frozen
class FakeCharge:
    """Money the fake actually moved (a succeeded payment intent)."""

    gateway_payment_id: str
    amount: Money
    customer_id: str
    idempotency_key: str | None


@attrs.frozen
class SignedWebhook:
    """A webhook as it would arrive over HTTP: raw body and headers."""

    payload: bytes
    headers: Mapping[str, str] = attrs.field(hash=False)
    event_id: str
    event_type: str


class _WebhookReceiver(Protocol):
    def handle_webhook(self, payload: bytes, headers: Mapping[str, str]) -> Any: ...


@attrs.define
class _Intent:
    id: str
    amount: Money
    customer_id: str
    metadata: dict[str, str]
    client_secret: str
    idempotency_key: str | None
    status: str = "requires_payment_method"
    payment_method: str | None = None
    last_error: dict[str, Any] | None = None


class FakeGateway:
    """An in-memory :class:`~enrollpay.ports.Gateway` for tests and demos."""

    name = "fake"

    def __init__(
        self,
        *,
        webhook_secret: str = "whsec_fake_secret",  # noqa: S107 - a test secret by design
        clock: Clock | None = None,
        livemode: bool = False,
        tolerance: float = 300,
        granularity: Mapping[str, int] | None = None,
        minimums: Mapping[str, Money] | None = None,
        latency: float = 0.0,
        rate_limit: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_event: Callable[[SignedWebhook], None] | None = None,
        strict: bool = True,
        id_namespace: str = "fake",
    ) -> None:
        self._secret = webhook_secret
        self._clock: Clock = clock or SystemClock()
        self.livemode = livemode
        # Like the Stripe adapter: the signature check cannot be switched off.
        self.tolerance = check_tolerance(tolerance)
        self._granularity = dict(granularity or {})
        self._minimums = dict(minimums or {})
        self.latency = latency
        self.rate_limit = rate_limit
        self._sleep = sleep
        self._on_event = on_event
        #: With ``strict=False`` unknown customers and payment methods are accepted.
        self.strict = strict
        #: The middle part of every id the fake makes (``pi_fake_000001``). Processes
        #: that share one database need different namespaces, or a later process's
        #: ``pi_fake_000001`` collides with an earlier one's.
        self.id_namespace = id_namespace
        self._lock = threading.RLock()
        self._scripts: dict[str, deque[Outcome]] = {}
        self._memo: dict[tuple[str, str], Any] = {}
        #: Keys of charges in flight: a concurrent request with one is refused, as Stripe does.
        self._charging: set[str] = set()
        self._intents: dict[str, _Intent] = {}
        self._customers: dict[str, list[str]] = {}
        self._refunds: dict[str, list[GatewayRefund]] = {}
        self._setups: dict[str, str] = {}
        self._recent: deque[float] = deque()
        self._counter = 0
        self.calls: list[FakeCall] = []
        self.charges: list[FakeCharge] = []
        self._pending: list[tuple[bytes, str, str]] = []

    def __repr__(self) -> str:
        return f"FakeGateway(charges={len(self.charges)}, livemode={self.livemode})"

    # -- scripting --------------------------------------------------------------

    def script(self, *outcomes: Outcome | str, verb: Verb = "charge_off_session") -> None:
        """Queue outcomes for the next calls of ``verb`` (then: succeed)."""
        queue = self._scripts.setdefault(verb, deque())
        for outcome in outcomes:
            queue.append(Outcome(outcome) if isinstance(outcome, str) else outcome)  # type: ignore[arg-type]

    def script_method(self, payment_method_id: str, *outcomes: Outcome | str) -> None:
        """Queue outcomes for off-session charges of one saved payment method.

        They take precedence over :meth:`script`'s queue, so a simulation can
        give each student's card its own story.
        """
        queue = self._scripts.setdefault(f"method:{payment_method_id}", deque())
        for outcome in outcomes:
            queue.append(Outcome(outcome) if isinstance(outcome, str) else outcome)  # type: ignore[arg-type]

    def clear_scripts(self) -> None:
        """Forget every queued outcome (the next calls succeed)."""
        with self._lock:
            self._scripts.clear()

    @staticmethod
    def decline(code: str = "insufficient_funds") -> Outcome:
        """A decline with ``code`` (soft or hard by the code's class)."""
        return Outcome("decline", decline_code=code)

    def _next(self, verb: str, method: str | None = None) -> Outcome:
        for key in (f"method:{method}", verb):
            queue = self._scripts.get(key)
            if queue:
                return queue.popleft()
        return Outcome()

    def _enter(self, verb: str, **params: Any) -> Outcome:
        self.calls.append(FakeCall(verb, dict(params)))
        outcome = self._next(verb, params.get("payment_method_id"))
        delay = self.latency + outcome.latency
        if delay:
            self._sleep(delay)
        if self.rate_limit is not None:
            self._check_rate()
        if outcome.kind == "rate_limited":
            raise GatewayUnavailableError("rate limited (429)", retry_after=1.0)
        if outcome.kind == "timeout_before":
            raise GatewayUnavailableError(f"timeout before {verb} reached the gateway")
        return outcome

    def _check_rate(self) -> None:
        assert self.rate_limit is not None  # noqa: S101 - caller checked
        now = time.monotonic()
        while self._recent and now - self._recent[0] >= 1.0:
            self._recent.popleft()
        if len(self._recent) >= self.rate_limit:
            raise GatewayUnavailableError("rate limited (429)", retry_after=1.0)
        self._recent.append(now)

    def _new_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}_{self.id_namespace}_{self._counter:06d}"

    # -- capabilities -----------------------------------------------------------

    def amount_granularity(self, currency: str) -> int:
        """Minor units every charge must be a multiple of (configurable; default 1)."""
        return self._granularity.get(currency.upper(), 1)

    def minimum_charge(self, currency: str) -> Money | None:
        """The configured minimum charge for ``currency`` (default: none)."""
        return self._minimums.get(currency.upper())

    # -- customers --------------------------------------------------------------

    def ensure_customer(self, user_id: str, *, idempotency_key: str) -> str:
        """Create the customer once per key."""
        with self._lock:
            memo = self._memo.get(("customer", idempotency_key))
            self._enter("ensure_customer", user_id=user_id, idempotency_key=idempotency_key)
            if memo is not None:
                return str(memo)
            customer_id = self._new_id("cus")
            self._customers[customer_id] = []
            self._memo[("customer", idempotency_key)] = customer_id
            return customer_id

    def attach_payment_method(self, customer_id: str, payment_method_id: str) -> None:
        """Save a payment method on a customer (what a completed checkout does)."""
        with self._lock:
            methods = self._customers.setdefault(customer_id, [])
            if payment_method_id not in methods:
                methods.append(payment_method_id)

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
    ) -> _Intent:
        if customer_id not in self._customers:
            if self.strict:
                raise GatewayRequestError("No such customer", param="customer")
            self._customers[customer_id] = []
        intent_id = self._new_id("pi")
        intent = _Intent(
            intent_id,
            amount,
            customer_id,
            dict(metadata),
            f"{intent_id}_secret_{self._counter}",
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
                self.calls.append(
                    FakeCall(
                        "charge_off_session", {"idempotency_key": idempotency_key, "replay": True}
                    )
                )
                return self._result(self._intents[memo])
            if idempotency_key in self._charging:
                # Stripe answers 409 to a request whose key another request is
                # still using; to the caller the outcome is unknown.
                self.calls.append(
                    FakeCall(
                        "charge_off_session", {"idempotency_key": idempotency_key, "in_use": True}
                    )
                )
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
                if not self.strict:
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
                result = self._result(intent)
        finally:
            with self._lock:
                self._charging.discard(idempotency_key)
        if outcome.kind == "timeout_after":
            raise GatewayUnavailableError("timeout after the charge was made")
        return result

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
            chosen = Outcome(outcome) if isinstance(outcome, str) else outcome  # type: ignore[arg-type]
            intent.payment_method = payment_method
            if chosen.kind == "succeed":
                self.attach_payment_method(intent.customer_id, payment_method)
            self._apply(intent, chosen)
            return self._result(intent)

    def settle(self, payment: str, outcome: Outcome | str = "succeed") -> ChargeResult:
        """Finish a ``processing`` payment (or an authentication) with ``outcome``."""
        with self._lock:
            intent = self._find_intent(payment)
            chosen = Outcome(outcome) if isinstance(outcome, str) else outcome  # type: ignore[arg-type]
            self._apply(intent, chosen)
            return self._result(intent)

    def _find_intent(self, payment: str) -> _Intent:
        for intent in self._intents.values():
            if payment in (intent.id, intent.client_secret):
                return intent
        raise GatewayRequestError("No such payment_intent", param="payment_intent")

    def _apply(self, intent: _Intent, outcome: Outcome) -> None:
        if intent.status == "canceled":
            raise GatewayRequestError(
                "This PaymentIntent was canceled and cannot be confirmed", param="payment_intent"
            )
        if intent.status == "succeeded":
            raise GatewayRequestError(
                "This PaymentIntent has already succeeded", param="payment_intent"
            )
        if outcome.kind in ("succeed", "timeout_after"):
            intent.status = "succeeded"
            intent.last_error = None
            self.charges.append(
                FakeCharge(intent.id, intent.amount, intent.customer_id, intent.idempotency_key)
            )
            self._emit("payment_intent.succeeded", self._intent_object(intent))
        elif outcome.kind == "decline":
            code = outcome.decline_code or "generic_decline"
            intent.status = "requires_payment_method"
            intent.last_error = {
                "type": "card_error",
                "code": "card_declined" if code != "authentication_required" else code,
                "decline_code": code,
                "message": f"Your card was declined ({code}).",
            }
            self._emit("payment_intent.payment_failed", self._intent_object(intent))
        elif outcome.kind == "requires_action":
            intent.status = "requires_action"
            self._emit("payment_intent.requires_action", self._intent_object(intent))
        elif outcome.kind == "processing":
            intent.status = "processing"
        else:  # pragma: no cover - rate_limited/timeout_before never reach here
            raise AssertionError(outcome.kind)

    def _result(self, intent: _Intent) -> ChargeResult:
        code = None if intent.last_error is None else intent.last_error["decline_code"]
        if intent.status == "succeeded":
            status: Any = "succeeded"
        elif intent.status == "canceled":
            status = "canceled"
        elif intent.status == "requires_action":
            status = "requires_action"
        elif intent.last_error is not None:
            status = "failed"
        else:
            status = "processing"
        return ChargeResult(
            status=status,
            gateway_payment_id=intent.id,
            amount=intent.amount,
            decline_code=code,
            decline_class=None if code is None else classify_decline(code),
            message=None if intent.last_error is None else intent.last_error["message"],
            payment_method_id=intent.payment_method,
            customer_id=intent.customer_id,
            client_secret=intent.client_secret,
        )

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
            return self._result(self._intents[intent_id])

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
                self._emit("payment_intent.canceled", self._intent_object(intent))
            return self._result(intent)

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
            done = sum(r.amount.minor for r in self._refunds.get(intent.id, []))
            if amount.minor <= 0 or done + amount.minor > intent.amount.minor:
                raise GatewayRequestError("Refund amount exceeds the charge", param="amount")
            refund = GatewayRefund(self._new_id("re"), intent.id, amount, "succeeded", reference)
            self._refunds.setdefault(intent.id, []).append(refund)
            self._memo[("refund", idempotency_key)] = refund
            self._emit("charge.refunded", self._charge_object(intent))
        if outcome.kind == "timeout_after":
            raise GatewayUnavailableError("timeout after the refund was made")
        return refund

    def refund_from_dashboard(self, gateway_payment_id: str, amount: Money) -> GatewayRefund:
        """A refund made outside the library (by staff in the gateway's dashboard)."""
        with self._lock:
            intent = self._intents[gateway_payment_id]
            refund = GatewayRefund(self._new_id("re"), intent.id, amount, "succeeded", None)
            self._refunds.setdefault(intent.id, []).append(refund)
            self._emit("charge.refunded", self._charge_object(intent))
            return refund

    def refunds_for(self, gateway_payment_id: str) -> list[GatewayRefund]:
        """Refunds the fake made for a payment."""
        return list(self._refunds.get(gateway_payment_id, []))

    # -- card updates -------------------------------------------------------------

    def start_payment_method_update(self, *, customer_id: str, idempotency_key: str) -> str:
        """Open a setup flow; :meth:`complete_setup` finishes it."""
        with self._lock:
            memo = self._memo.get(("setup", idempotency_key))
            if memo is not None:
                return str(memo)
            secret = f"{self._new_id('seti')}_secret"
            self._setups[secret] = customer_id
            self._memo[("setup", idempotency_key)] = secret
            return secret

    def complete_setup(
        self, client_secret: str, payment_method: str = "pm_card_mastercard"
    ) -> None:
        """Act as the customer saving a new card."""
        with self._lock:
            customer_id = self._setups.get(client_secret)
            if customer_id is None:
                raise GatewayRequestError("No such setup_intent", param="setup_intent")
            self.attach_payment_method(customer_id, payment_method)
            self._emit(
                "setup_intent.succeeded",
                {
                    "id": client_secret.removesuffix("_secret"),
                    "object": "setup_intent",
                    "customer": customer_id,
                    "payment_method": payment_method,
                    "status": "succeeded",
                    "metadata": {},
                },
            )

    # -- webhooks -----------------------------------------------------------------

    def _intent_object(self, intent: _Intent) -> dict[str, Any]:
        return {
            "id": intent.id,
            "object": "payment_intent",
            "amount": intent.amount.minor,
            "currency": intent.amount.currency.lower(),
            "customer": intent.customer_id,
            "payment_method": intent.payment_method,
            "status": intent.status,
            "metadata": dict(intent.metadata),
            "last_payment_error": intent.last_error,
        }

    def _charge_object(self, intent: _Intent) -> dict[str, Any]:
        refunds = self._refunds.get(intent.id, [])
        return {
            "id": intent.id.replace("pi_", "ch_", 1),
            "object": "charge",
            "amount": intent.amount.minor,
            "amount_refunded": sum(r.amount.minor for r in refunds),
            "currency": intent.amount.currency.lower(),
            "customer": intent.customer_id,
            "payment_intent": intent.id,
            "metadata": dict(intent.metadata),
            "refunds": {
                "object": "list",
                "data": [
                    {
                        "id": r.gateway_refund_id,
                        "object": "refund",
                        "amount": r.amount.minor,
                        "currency": r.amount.currency.lower(),
                        "payment_intent": intent.id,
                        "status": r.status,
                        "metadata": {}
                        if r.reference is None
                        else {"enrollpay_refund_id": r.reference},
                    }
                    for r in refunds
                ],
            },
        }

    def _event_body(
        self, event_type: str, obj: Mapping[str, Any], at: datetime, event_id: str | None
    ) -> tuple[bytes, str]:
        with self._lock:
            body = {
                "id": event_id or self._new_id("evt"),
                "object": "event",
                "type": event_type,
                "created": int(at.timestamp()),
                "livemode": self.livemode,
                "data": {"object": dict(obj)},
            }
        return json.dumps(body, separators=(",", ":")).encode(), str(body["id"])

    def sign(
        self, payload: bytes, *, at: datetime | None = None, secret: str | None = None
    ) -> dict[str, str]:
        """Signature headers for ``payload`` as the gateway would send them at ``at``."""
        when = at or self._clock.now()
        header = sign_payload(payload, secret or self._secret, int(when.timestamp()))
        return {SIGNATURE_HEADER: header}

    def webhook(
        self,
        event_type: str,
        obj: Mapping[str, Any],
        *,
        at: datetime | None = None,
        event_id: str | None = None,
        secret: str | None = None,
    ) -> SignedWebhook:
        """Build and sign an event as the gateway would send it (not queued)."""
        when = at or self._clock.now()
        payload, ident = self._event_body(event_type, obj, when, event_id)
        return SignedWebhook(payload, self.sign(payload, at=when, secret=secret), ident, event_type)

    def _emit(self, event_type: str, obj: Mapping[str, Any]) -> None:
        # Like Stripe, the event is created now but signed when it is delivered.
        payload, ident = self._event_body(event_type, obj, self._clock.now(), None)
        self._pending.append((payload, ident, event_type))
        if self._on_event is not None:
            for hook in self.take_events():
                self._on_event(hook)

    @property
    def outbox(self) -> list[tuple[bytes, str, str]]:
        """Events created but not delivered yet: (payload, event id, type)."""
        return list(self._pending)

    def take_events(self) -> list[SignedWebhook]:
        """Remove and return the queued webhooks, oldest first, signed as of now."""
        with self._lock:
            pending, self._pending = self._pending, []
        return [SignedWebhook(p, self.sign(p), ident, kind) for p, ident, kind in pending]

    def deliver(
        self, receiver: _WebhookReceiver, *, reverse: bool = False, times: int = 1
    ) -> list[Any]:
        """Send every queued webhook to ``receiver.handle_webhook`` (``times`` each)."""
        events = self.take_events()
        ordered: Iterable[SignedWebhook] = reversed(events) if reverse else events
        outcomes = []
        for hook in ordered:
            for _ in range(times):
                outcomes.append(receiver.handle_webhook(hook.payload, hook.headers))
        return outcomes

    def parse_webhook(
        self, payload: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> GatewayEvent:
        """Verify the signature (strictly) and normalise the event."""
        verify_signature(
            payload,
            header_value(headers, SIGNATURE_HEADER),
            [self._secret],
            now=now,
            tolerance=self.tolerance,
        )
        try:
            data = json.loads(payload)
        except ValueError:
            raise WebhookPayloadError("webhook body is not JSON") from None
        if not isinstance(data, dict):
            raise WebhookPayloadError("webhook body is not a JSON object")
        if bool(data.get("livemode", False)) != self.livemode:
            raise WebhookSignatureError("event livemode does not match the gateway's mode")
        return normalise_event(data, to_money=Money)
