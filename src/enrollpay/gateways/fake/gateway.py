"""``FakeGateway``: a deterministic, in-memory, scriptable payment gateway.

It behaves like Stripe where the library depends on it (idempotency keys,
on-session intents, saved payment methods, partial refunds, subscriptions,
invoices, signed Stripe-shaped webhooks, listings of its record); tests
script what happens next and assert on what it recorded. This class holds
the call log and the scripts and forwards each verb to the module of its
concept (see :mod:`enrollpay.gateways.fake`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from enrollpay.clock import SystemClock
from enrollpay.domain.money import Money
from enrollpay.errors import GatewayUnavailableError
from enrollpay.gateways.fake import billing_verbs, debits, invoicing, ledger, webhooks
from enrollpay.gateways.fake.billing import FakeBilling
from enrollpay.gateways.fake.disputes import FakeDisputes
from enrollpay.gateways.fake.payments import FakePayments
from enrollpay.gateways.fake.records import FakeCall, FakeCharge, FakeIds
from enrollpay.gateways.fake.scripts import Outcome, RateWindow, ScriptBook, Verb
from enrollpay.gateways.fake.webhooks import SignedWebhook, WebhookOutbox, WebhookReceiver
from enrollpay.gateways.signing import check_tolerance
from enrollpay.ports import (
    ChargeResult,
    Clock,
    GatewayEvent,
    GatewayRefund,
    PaymentSession,
)

__all__ = ["FakeGateway"]


class FakeGateway:
    """An in-memory :class:`~enrollpay.ports.Gateway` for tests and demos.

    Also a :class:`~enrollpay.ports.SubscriptionGateway`, an
    :class:`~enrollpay.ports.InvoiceGateway`, an :class:`~enrollpay.ports.ItemInvoiceGateway`,
    a :class:`~enrollpay.ports.LedgerGateway`
    and :class:`~enrollpay.ports.LivemodeAware` (``livemode`` defaults to
    ``False``), like :class:`~enrollpay.gateways.stripe.StripeGateway`.
    ``clock`` dates charges and events; ``wall_clock`` (default: the system
    clock) stamps webhook signatures, as real time stamps Stripe's.
    :attr:`disputes` lets a test play the cardholder and the bank.
    """

    name = "fake"

    def __init__(
        self,
        *,
        webhook_secret: str = "whsec_fake_secret",  # noqa: S107 - a test secret by design
        clock: Clock | None = None,
        wall_clock: Clock | None = None,
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
        #: With ``strict=False`` unknown customers and payment methods are accepted.
        self.strict = strict
        #: The fake's ids, in one namespace (see :attr:`id_namespace`).
        self._ids = FakeIds(id_namespace, now=self._clock.now)
        self._lock = threading.RLock()
        self._scripts = ScriptBook()
        self._window = RateWindow()
        self.calls: list[FakeCall] = []
        self.charges: list[FakeCharge] = []
        self._outbox = WebhookOutbox(secret=webhook_secret, clock=self._clock,
                                     wall_clock=wall_clock or SystemClock(), new_id=self._ids.new,
                                     lock=self._lock, on_event=on_event)  # fmt: skip
        self._payments = FakePayments(
            lock=self._lock,
            ids=self._ids,
            enter=self._enter,
            emit=self._emit,
            strict=lambda: self.strict,
            calls=self.calls,
            charges=self.charges,
            # Late-bound: the disputes below need the payments' intents.
            disputed=lambda intent_id: self.disputes.refuses_refund(intent_id),  # noqa: PLW0108
        )
        #: Disputes, then ``billing``: subscriptions and invoices (modules of the same names).
        self.disputes = FakeDisputes(lock=self._lock, new_id=self._ids.new, emit=self._emit,
                                     clock=self._clock, refunds=self._payments.refunds_for,
                                     intent=self._payments.succeeded_intent)  # fmt: skip
        self.billing = FakeBilling(lock=self._lock, enter=self._enter, new_id=self._ids.new,
                                   emit=self._emit, check_customer=self._payments.check_customer,
                                   granularity=self.amount_granularity,
                                   clock=self._clock)  # fmt: skip
        #: Per-item invoices by id, as Stripe's ``invoice`` objects (invoicing.py).
        self.item_invoices: dict[str, dict[str, Any]] = {}
        self._invoice_keys: dict[str, str] = {}
        self._invoice_payments: set[str] = set()

    @property
    def id_namespace(self) -> str:
        """The middle part of every id the fake makes (``pi_fake_000001``).

        Processes sharing one database need different ones, or their ids collide.
        """
        return self._ids.namespace

    def __repr__(self) -> str:
        return f"FakeGateway(charges={len(self.charges)}, livemode={self.livemode})"

    # -- scripting (scripts.py) -----------------------------------------------------

    def script(self, *outcomes: Outcome | str, verb: Verb = "charge_off_session") -> None:
        """Queue outcomes for the next calls of ``verb`` (then: succeed)."""
        self._scripts.add_for_verb(verb, outcomes)

    def script_method(self, payment_method_id: str, *outcomes: Outcome | str) -> None:
        """Queue outcomes for off-session charges of one saved payment method.

        They take precedence over :meth:`script`'s queue, so a simulation can
        give each student's card its own story.
        """
        self._scripts.add_for_method(payment_method_id, outcomes)

    def clear_scripts(self) -> None:
        """Forget every queued outcome (the next calls succeed)."""
        with self._lock:
            self._scripts.clear()

    @staticmethod
    def decline(code: str = "insufficient_funds") -> Outcome:
        """A decline with ``code`` (soft or hard by the code's class)."""
        return Outcome("decline", decline_code=code)

    def _enter(self, verb: str, **params: Any) -> Outcome:
        """Record a call; wait its latency; raise for a rate limit or an early timeout.

        The rate limit counts a call when it is made, as a server counts a
        request when it arrives (a fixed network delay after it was sent),
        not when the calling thread wakes from its latency: that wake-up
        moves with the machine's scheduler, which no real gateway sees. A
        refused call still takes its latency to answer.
        """
        self.calls.append(FakeCall(verb, dict(params)))
        outcome = self._scripts.next(verb, params.get("payment_method_id"))
        refused = self.rate_limit is not None and not self._window.admit(self.rate_limit)
        delay = self.latency + outcome.latency
        if delay:
            self._sleep(delay)
        if refused or outcome.kind == "rate_limited":
            raise GatewayUnavailableError("rate limited (429)", retry_after=1.0)
        if outcome.kind == "timeout_before":
            raise GatewayUnavailableError(f"timeout before {verb} reached the gateway")
        return outcome

    def _emit(self, event_type: str, obj: Mapping[str, Any]) -> None:
        self._outbox.emit(event_type, obj, livemode=self.livemode)

    # -- capabilities -----------------------------------------------------------

    def amount_granularity(self, currency: str) -> int:
        """Minor units every charge must be a multiple of (configurable; default 1)."""
        return self._granularity.get(currency.upper(), 1)

    def minimum_charge(self, currency: str) -> Money | None:
        """The configured minimum charge for ``currency`` (default: none)."""
        return self._minimums.get(currency.upper())

    # -- customers, payments, refunds, card updates (payments.py) ----------------

    def ensure_customer(self, user_id: str, *, idempotency_key: str) -> str:
        """Create the customer once per key."""
        return self._payments.ensure_customer(user_id, idempotency_key=idempotency_key)

    def attach_payment_method(self, customer_id: str, payment_method_id: str) -> None:
        """Save a payment method on a customer (what a completed checkout does)."""
        self._payments.attach_payment_method(customer_id, payment_method_id)

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
        return self._payments.start_payment(
            customer_id=customer_id,
            amount=amount,
            idempotency_key=idempotency_key,
            metadata=metadata,
            description=description,
        )

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
        return self._payments.charge_off_session(
            customer_id=customer_id,
            payment_method_id=payment_method_id,
            amount=amount,
            idempotency_key=idempotency_key,
            metadata=metadata,
            description=description,
        )

    def complete_payment(
        self,
        payment: str,
        outcome: Outcome | str = "succeed",
        *,
        payment_method: str = "pm_card_visa",
    ) -> ChargeResult:
        """Act as the customer confirming an on-session payment (by id or client secret)."""
        return self._payments.complete_payment(payment, outcome, payment_method=payment_method)

    def settle(self, payment: str, outcome: Outcome | str = "succeed") -> ChargeResult:
        """Finish a ``processing`` payment (or an authentication) with ``outcome``."""
        return self._payments.settle(payment, outcome)

    def payment_status(
        self, *, gateway_payment_id: str | None, idempotency_key: str, amount: Money
    ) -> ChargeResult | None:
        """The current state of a payment, found by id or by the key that created it."""
        return self._payments.payment_status(
            gateway_payment_id=gateway_payment_id, idempotency_key=idempotency_key, amount=amount
        )

    def cancel_payment(self, *, gateway_payment_id: str, idempotency_key: str) -> ChargeResult:
        """Cancel an intent that has not succeeded; a succeeded one is returned as it is."""
        return self._payments.cancel_payment(
            gateway_payment_id=gateway_payment_id, idempotency_key=idempotency_key
        )

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
        return self._payments.refund(
            gateway_payment_id=gateway_payment_id,
            amount=amount,
            idempotency_key=idempotency_key,
            reference=reference,
            reason=reason,
        )

    def start_payment_method_update(
        self, *, customer_id: str, idempotency_key: str, metadata: Mapping[str, str] | None = None
    ) -> str:
        """Open a setup flow (once per key, scriptable); :meth:`complete_setup` finishes it."""
        return self._payments.start_payment_method_update(
            customer_id=customer_id, idempotency_key=idempotency_key, metadata=metadata
        )

    def complete_setup(
        self, client_secret: str, payment_method: str = "pm_card_mastercard"
    ) -> None:
        """Act as the customer saving a card in a setup flow (once, as Stripe allows)."""
        self._payments.complete_setup(client_secret, payment_method)

    # -- bank debits that settle days later (debits.py) -----------------------------
    debit = staticmethod(debits.debit)
    advance = debits.advance

    # -- its own record: the dashboard's refunds, and listings (ledger.py) ----------
    refund_from_dashboard = ledger.refund_from_dashboard
    refunds_for = ledger.refunds_for
    list_payments = ledger.list_payments
    list_refunds = ledger.list_refunds
    list_disputes = ledger.list_disputes

    # -- subscriptions and invoices (billing.py, attached from billing_verbs.py) ---------
    create_subscription = billing_verbs.create_subscription
    cancel_subscription = billing_verbs.cancel_subscription
    create_invoice = billing_verbs.create_invoice
    # -- an item collected as an invoice (invoicing.py) -----------------------------
    invoice_item = invoicing.invoice_item
    pay_invoice = invoicing.pay_invoice

    # -- webhooks (webhooks.py) -----------------------------------------------------

    def sign(
        self, payload: bytes, *, at: datetime | None = None, secret: str | None = None
    ) -> dict[str, str]:
        """Signature headers for ``payload`` as the gateway would send them at ``at``."""
        return self._outbox.sign(payload, at=at, secret=secret)

    def webhook(
        self,
        event_type: str,
        obj: Mapping[str, Any],
        *,
        at: datetime | None = None,
        event_id: str | None = None,
        secret: str | None = None,
    ) -> SignedWebhook:
        """An event sent at ``at`` (default: dated by the clock, signed by the wall clock)."""
        payload, ident = self._outbox.body(event_type, obj, at=at or self._clock.now(),
                                           event_id=event_id, livemode=self.livemode)  # fmt: skip
        return SignedWebhook(payload, self.sign(payload, at=at, secret=secret), ident, event_type)

    @property
    def outbox(self) -> list[tuple[bytes, str, str]]:
        """Events created but not delivered yet: (payload, event id, type)."""
        return self._outbox.pending

    def take_events(self) -> list[SignedWebhook]:
        """Remove and return the queued webhooks, oldest first, signed as of now."""
        return self._outbox.take()

    def deliver(
        self, receiver: WebhookReceiver, *, reverse: bool = False, times: int = 1
    ) -> list[Any]:
        """Send every queued webhook to ``receiver.handle_webhook`` (``times`` each)."""
        return webhooks.deliver(self.take_events(), receiver, reverse=reverse, times=times)

    def parse_webhook(
        self, payload: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> GatewayEvent:
        """Verify the signature (strictly) and normalise the event."""
        return webhooks.parse_webhook(
            payload,
            headers,
            now=now,
            secret=self._secret,
            tolerance=self.tolerance,
            livemode=self.livemode,
        )
