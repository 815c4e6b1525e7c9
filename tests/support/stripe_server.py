"""A local stand-in for the Stripe API, for driving the real SDK over real HTTP.

``StripeServer`` is a threaded ``http.server`` on 127.0.0.1 that records
every request and answers with JSON shaped as Stripe documents it. Behind
it, ``FakeStripe`` keeps just enough state to behave like Stripe where the
library depends on it: customers, PaymentIntents (on-session, off-session
with declines and ``authentication_required``), search by metadata,
partial and capped refunds, lists of PaymentIntents, Refunds and Disputes (with
``created[gte]``, ``limit``, ``starting_after`` and ``has_more`` as Stripe
documents them), SetupIntents, subscriptions, invoices, disputes
(:mod:`tests.support.stripe_disputes`), and idempotency keys (the same key
and parameters replay the first answer; the same key with other parameters
is an ``idempotency_error``). It emits
events signed with the SDK's own ``WebhookSignature`` helper.

Tests can also script raw answers (a 500 before or after the request is
processed, a 429, a dropped connection) for the next matching requests.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qs, urlsplit

import attrs
import pytest
import stripe

from enrollpay.gateways.stripe import StripeGateway
from tests.support.stripe_billing import StripeBilling, new_subscription
from tests.support.stripe_disputes import StripeDisputes

__all__ = [
    "API_KEY",
    "WEBHOOK_SECRET",
    "FakeStripe",
    "FastRetryHTTPClient",
    "RecordedRequest",
    "SignedEvent",
    "StripeServer",
    "isolate_sdk_config",
    "running_server",
    "sign",
]

API_KEY = "sk_test_enrollpay_local"
WEBHOOK_SECRET = "whsec_enrollpay_local"

_ZERO_DECIMAL = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)
_THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])
_MINIMUMS = {"usd": 50, "eur": 50, "gbp": 30, "jpy": 50}
_SEARCH = re.compile(r"^metadata\['(?P<key>[^']+)'\]:'(?P<value>(?:[^'\\]|\\.)*)'$")


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """A ``Stripe-Signature`` header made by the SDK's own helper."""
    return str(
        stripe.WebhookSignature.generate_signature_header(payload.decode(), secret, timestamp)
    )


class FastRetryHTTPClient(stripe.RequestsClient):
    """The SDK's requests-based client, without the back-off sleeps between retries."""

    def _sleep_time_seconds(self, num_retries: int) -> float:
        return 0.0


@attrs.frozen
class RecordedRequest:
    """One HTTP request the server received."""

    method: str
    path: str
    query: Mapping[str, list[str]] = attrs.field(hash=False)
    headers: Mapping[str, str] = attrs.field(hash=False)
    body: str

    @property
    def form(self) -> dict[str, list[str]]:
        """The form-encoded body, decoded with ``parse_qs``."""
        return parse_qs(self.body, keep_blank_values=True)

    def param(self, name: str) -> str | None:
        """The first value of a form field (``metadata[item_id]`` style names)."""
        values = self.form.get(name) or self.query.get(name)
        return None if not values else values[0]

    @property
    def idempotency_key(self) -> str | None:
        """The ``Idempotency-Key`` header, if sent."""
        return self.headers.get("idempotency-key")


@attrs.frozen
class SignedEvent:
    """An event as Stripe would deliver it: raw body and headers."""

    payload: bytes
    headers: Mapping[str, str] = attrs.field(hash=False)
    event_id: str
    event_type: str


@attrs.define
class _Script:
    status: int
    body: dict[str, Any]
    method: str | None
    path: str | None
    when: Literal["before", "after"]
    drop: bool
    headers: dict[str, str]


def _unflatten(form: Mapping[str, list[str]]) -> dict[str, Any]:
    """``{"a[b]": ["1"], "l[0]": ["x"]}`` -> ``{"a": {"b": "1"}, "l": ["x"]}``."""
    root: dict[str, Any] = {}
    for raw_key, values in form.items():
        parts = re.findall(r"[^\[\]]+", raw_key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = values[-1]

    def lists(value: Any) -> Any:
        if isinstance(value, dict):
            if value and all(k.isdigit() for k in value):
                return [lists(value[k]) for k in sorted(value, key=int)]
            return {k: lists(v) for k, v in value.items()}
        return value

    return lists(root)  # type: ignore[no-any-return]


class _StripeAnswer(Exception):  # noqa: N818 - a control-flow signal, not an error
    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(error.get("message"))
        self.status = status
        self.error = error


def _payment_method(method_id: str | None) -> dict[str, Any] | None:
    """The PaymentMethod a payment error names: a card whose brand is in its test id.

    Stripe's test cards name their brand (``pm_card_visa``, ``pm_card_mastercard``).
    """
    if method_id is None:
        return None
    brand = next(
        (b for b in ("visa", "mastercard", "amex") if method_id.startswith(f"pm_card_{b}")),
        "unknown",
    )
    return {"id": method_id, "object": "payment_method", "type": "card", "card": {"brand": brand}}


#: Bank debit types a test method's id names (``pm_sepa_debit``); any other method is a card.
_DEBIT_TYPES = ("sepa_debit", "us_bank_account", "bacs_debit")


def _method_type(method_id: str) -> str:
    rest = method_id.removeprefix("pm_")
    return next((t for t in _DEBIT_TYPES if rest == t or rest.startswith(f"{t}_")), "card")


def _expanded_method(method_id: str) -> dict[str, Any]:
    """A PaymentMethod as ``expand[]=payment_method`` shows it (its ``type`` by its test id)."""
    kind = _method_type(method_id)
    method: dict[str, Any] = {"id": method_id, "object": "payment_method", "type": kind}
    if kind == "card":
        method["card"] = (_payment_method(method_id) or {}).get("card")
    else:
        method[kind] = {}
    return method


def _invalid(message: str, *, param: str | None = None, code: str | None = None) -> _StripeAnswer:
    error: dict[str, Any] = {"type": "invalid_request_error", "message": message}
    if param is not None:
        error["param"] = param
    if code is not None:
        error["code"] = code
    return _StripeAnswer(400, error)


def _missing(kind: str, ident: str, param: str) -> _StripeAnswer:
    return _StripeAnswer(
        404,
        {
            "type": "invalid_request_error",
            "code": "resource_missing",
            "param": param,
            "message": f"No such {kind}: '{ident}'",
        },
    )


class FakeStripe(StripeDisputes, StripeBilling):
    """The state behind the server: just enough of the Stripe API."""

    def __init__(
        self,
        *,
        clock: Callable[[], datetime],
        webhook_secret: str,
        livemode: bool = False,
        signing_clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._clock = clock
        # What stamps signatures: real Stripe signs with the real time, whatever
        # the test's business clock says; by default this stand-in uses ``clock``.
        self._signing_clock = signing_clock or clock
        self.webhook_secret = webhook_secret
        self.livemode = livemode
        self.lock = threading.RLock()
        self._ids = itertools.count(1)
        self.customers: dict[str, dict[str, Any]] = {}
        self.attached: dict[str, list[str]] = {}
        self.intents: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.setup_intents: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.invoice_items: dict[str, dict[str, Any]] = {}
        self.disputes: dict[str, dict[str, Any]] = {}
        self.disputes_name_intents = True
        self._idempotency: dict[str, tuple[tuple[Any, ...], int, dict[str, Any]]] = {}
        self.charge_outcomes: deque[str] = deque()
        #: Processing debits: intent id -> (when it settles, Unix time; its outcome).
        self.debits: dict[str, tuple[int, str]] = {}
        self.outbox: list[SignedEvent] = []
        #: Put the full refund list on charges in events (API versions before 2022-11-15).
        self.refunds_in_events = False

    # -- helpers for tests ---------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        """A Stripe-looking id."""
        return f"{prefix}_local{next(self._ids):08d}"

    def now(self) -> int:
        """The clock's time as a Unix timestamp."""
        return int(self._clock().timestamp())

    def script_charge(self, *outcomes: str) -> None:
        """Queue the outcomes of the next off-session confirmations.

        Each is ``succeed``, ``processing``, a decline code, or ``authentication_required``.
        """
        with self.lock:
            self.charge_outcomes.extend(outcomes)

    def script_debit(self, *, after_days: int, outcome: str = "succeed") -> None:
        """Queue a debit for the next off-session confirmation: ``processing``, then settled.

        It settles as ``outcome`` (``succeed`` or a decline code) when
        :meth:`advance` runs ``after_days`` days (by the clock) after it was made.
        """
        with self.lock:
            self.charge_outcomes.append(f"debit:{after_days}:{outcome}")

    def advance(self) -> list[str]:
        """Settle the processing debits whose day has come, as the bank does; their intent ids."""
        with self.lock:
            due = [i for i, (at, _outcome) in self.debits.items() if at <= self.now()]
            for intent_id in due:
                _at, outcome = self.debits.pop(intent_id)
                self._settle(self.intents[intent_id], outcome)
            return due

    def attach(self, customer_id: str, payment_method: str) -> None:
        """Save a payment method on a customer."""
        with self.lock:
            methods = self.attached.setdefault(customer_id, [])
            if payment_method not in methods:
                methods.append(payment_method)

    def complete_payment(
        self, intent_id: str, *, payment_method: str = "pm_card_visa", outcome: str = "succeed"
    ) -> dict[str, Any]:
        """Act as the customer confirming an on-session PaymentIntent in the browser."""
        with self.lock:
            intent = self.intents[intent_id]
            intent["payment_method"] = payment_method
            self._settle(intent, outcome)
            if intent["status"] == "succeeded" and intent.get("setup_future_usage"):
                self.attach(intent["customer"], payment_method)
            return dict(intent)

    def complete_setup(
        self, setup_id: str, *, payment_method: str = "pm_card_visa"
    ) -> dict[str, Any]:
        """Act as the customer confirming a SetupIntent in the browser (``confirmSetup``).

        As Stripe does: the method is attached to the SetupIntent's customer,
        the intent ``succeeded`` and ``setup_intent.succeeded`` is emitted
        with its metadata.
        """
        with self.lock:
            setup = self.setup_intents[setup_id]
            if setup["status"] == "succeeded":
                raise ValueError(f"SetupIntent {setup_id} has already succeeded")
            setup.update(status="succeeded", payment_method=payment_method)
            if setup.get("customer"):
                self.attach(setup["customer"], payment_method)
            self._emit("setup_intent.succeeded", setup)
            return dict(setup)

    def succeeded_charges(self) -> list[dict[str, Any]]:
        """Charges that moved money."""
        with self.lock:
            return [c for c in self.charges.values() if c["status"] == "succeeded"]

    def take_events(self) -> list[SignedEvent]:
        """Remove and return the emitted events, oldest first."""
        with self.lock:
            events, self.outbox = self.outbox, []
            return events

    def event(self, event_type: str, obj: Mapping[str, Any], *, at: int | None = None,
              livemode: bool | None = None, secret: str | None = None) -> SignedEvent:  # fmt: skip
        """Build and sign an event (not queued); ``at`` dates and signs it."""
        timestamp = self.now() if at is None else at
        signed_at = int(self._signing_clock().timestamp()) if at is None else at
        body = {
            "id": self.new_id("evt"),
            "object": "event",
            "api_version": stripe.api_version,
            "created": timestamp,
            "livemode": self.livemode if livemode is None else livemode,
            "pending_webhooks": 1,
            "type": event_type,
            "data": {"object": dict(obj)},
        }
        payload = json.dumps(body, separators=(",", ":")).encode()
        header = sign(payload, secret or self.webhook_secret, signed_at)
        return SignedEvent(payload, {"Stripe-Signature": header}, str(body["id"]), event_type)

    def _emit(self, event_type: str, obj: Mapping[str, Any]) -> None:
        self.outbox.append(self.event(event_type, json.loads(json.dumps(obj))))

    def _not_found(self, kind: str, ident: str, param: str) -> Exception:
        return _missing(kind, ident, param)

    # -- request handling ----------------------------------------------------------------

    def handle(
        self, method: str, path: str, params: dict[str, Any], key: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Answer one API request (idempotency included)."""
        with self.lock:
            fingerprint = (method, path, json.dumps(params, sort_keys=True))
            if key is not None and method in ("POST", "DELETE"):
                stored = self._idempotency.get(key)
                if stored is not None:
                    if stored[0] != fingerprint:
                        return 400, {"error": {
                            "type": "idempotency_error",
                            "message": "Keys for idempotent requests can only be used with the "
                                       "same parameters they were first used with.",
                        }}, {}  # fmt: skip
                    return stored[1], stored[2], {"Idempotent-Replayed": "true"}
            try:
                status, body = 200, self._route(method, path, params)
            except _StripeAnswer as answer:
                status, body = answer.status, {"error": answer.error}
            if key is not None and method in ("POST", "DELETE"):
                self._idempotency[key] = (fingerprint, status, body)
            return status, json.loads(json.dumps(body)), {}

    def _route(self, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        parts = path.strip("/").split("/")
        if parts[:1] != ["v1"]:
            raise _missing("route", path, "path")
        resource, rest = parts[1] if len(parts) > 1 else "", parts[2:]
        routes: dict[tuple[str, str, int], Callable[..., dict[str, Any]]] = {
            ("POST", "customers", 0): self._create_customer,
            ("POST", "payment_intents", 0): self._create_intent,
            ("GET", "payment_intents", 0): self._list_intents,
            ("GET", "payment_intents", 1): self._get_intent,
            ("POST", "refunds", 0): self._create_refund,
            ("GET", "refunds", 0): self._list_refunds,
            ("POST", "setup_intents", 0): self._create_setup_intent,
            ("POST", "subscriptions", 0): self._create_subscription,
            ("DELETE", "subscriptions", 1): self._cancel_subscription,
            ("POST", "invoices", 0): self._create_invoice,
            ("POST", "invoiceitems", 0): self._create_invoice_item,
            ("GET", "invoices", 1): self._get_invoice,
            ("GET", "charges", 1): self._get_charge,
            ("GET", "disputes", 0): self._list_disputes,
            ("GET", "disputes", 1): self._get_dispute,
        }
        if method == "GET" and resource == "payment_intents" and rest == ["search"]:
            return self._search_intents(params)
        if method == "POST" and resource == "payment_intents" and rest[1:] == ["cancel"]:
            return self._cancel_intent(params, rest[0])
        if method == "POST" and resource == "invoices" and rest[1:] == ["finalize"]:
            return self._finalize_invoice(params, rest[0])
        if method == "POST" and resource == "invoices" and rest[1:] == ["pay"]:
            return self._pay_invoice(params, rest[0])
        if method == "POST" and resource == "disputes" and rest[1:] == ["close"]:
            return self._close_dispute(params, rest[0])
        handler = routes.get((method, resource, len(rest)))
        if handler is None:
            raise _invalid(f"Unrecognized request URL ({method}: {path}).")
        return handler(params, *rest)

    # customers

    def _create_customer(self, params: dict[str, Any]) -> dict[str, Any]:
        customer = {"id": self.new_id("cus"), "object": "customer", "created": self.now(),
                    "livemode": self.livemode, "metadata": params.get("metadata", {}),
                    "email": params.get("email")}  # fmt: skip
        self.customers[customer["id"]] = customer
        return customer

    # payment intents

    def _check_amount(self, amount: int, currency: str) -> None:
        if amount <= 0:
            raise _invalid("This value must be greater than or equal to 1.", param="amount")
        if currency in _THREE_DECIMAL and amount % 10:
            raise _invalid(
                "Invalid amount: amounts in three-decimal currencies must end in 0.",
                param="amount",
                code="invalid_amount",
            )
        if currency == "isk" and amount % 100:
            raise _invalid("ISK amounts must be divisible by 100.", param="amount",
                           code="invalid_amount")  # fmt: skip
        minimum = _MINIMUMS.get(currency)
        if minimum is not None and amount < minimum:
            raise _invalid("Amount must be at least the minimum charge amount.",
                           param="amount", code="amount_too_small")  # fmt: skip

    def _create_intent(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            amount = int(params["amount"])
            currency = str(params["currency"])
        except (KeyError, ValueError):
            raise _invalid("Missing required param: amount.", param="amount") from None
        if currency != currency.lower():
            raise _invalid("Invalid currency.", param="currency")
        self._check_amount(amount, currency)
        customer = params.get("customer")
        if customer is not None and customer not in self.customers:
            raise _missing("customer", customer, "customer")
        intent_id = self.new_id("pi")
        intent: dict[str, Any] = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_received": 0,
            "currency": currency,
            "customer": customer,
            "client_secret": f"{intent_id}_secret_{self.new_id('cs')[3:]}",
            "created": self.now(),
            "livemode": self.livemode,
            "metadata": params.get("metadata", {}),
            "description": params.get("description"),
            "payment_method": params.get("payment_method"),
            "setup_future_usage": params.get("setup_future_usage"),
            "automatic_payment_methods": params.get("automatic_payment_methods"),
            # With automatic payment methods Stripe lists every type the account
            # enabled (here: cards and SEPA debits), so the list names no one type.
            "payment_method_types": params.get(
                "payment_method_types",
                ["card", "sepa_debit"] if params.get("automatic_payment_methods") else ["card"],
            ),
            "status": "requires_payment_method",
            "last_payment_error": None,
            "latest_charge": None,
            "cancellation_reason": None,
        }
        if params.get("confirm") != "true":
            self.intents[intent_id] = intent
            return intent
        method = params.get("payment_method")
        if not method:
            raise _invalid("You must provide a payment method to confirm.", param="payment_method")
        if customer is None or method not in self.attached.get(customer, []):
            raise _invalid(
                f"The payment method {method} is not attached to customer {customer}.",
                param="payment_method",
                code="resource_missing",
            )
        self.intents[intent_id] = intent
        outcome = self.charge_outcomes.popleft() if self.charge_outcomes else "succeed"
        if outcome.startswith("debit:"):
            _debit, days, then = outcome.split(":", 2)
            self.debits[intent_id] = (self.now() + int(days) * 86400, then)
            outcome = "processing"
        self._settle(intent, outcome)
        if intent["last_payment_error"] is not None:
            error = dict(intent["last_payment_error"])
            error["payment_intent"] = dict(intent)
            raise _StripeAnswer(402, error)
        return intent

    def _settle(self, intent: dict[str, Any], outcome: str) -> None:
        if intent["status"] == "succeeded":
            raise _invalid("This PaymentIntent has already succeeded.", param="intent")
        charge = {
            "id": self.new_id("ch"),
            "object": "charge",
            "amount": intent["amount"],
            "amount_refunded": 0,
            "currency": intent["currency"],
            "customer": intent["customer"],
            "payment_intent": intent["id"],
            "payment_method": intent["payment_method"],
            "metadata": intent["metadata"],
            "refunded": False,
            "livemode": self.livemode,
            "created": self.now(),
            "status": "succeeded",
        }
        intent["latest_charge"] = charge["id"]
        if outcome == "succeed":
            self.charges[charge["id"]] = charge
            intent.update(status="succeeded", amount_received=intent["amount"],
                          last_payment_error=None)  # fmt: skip
            self._emit("payment_intent.succeeded", intent)
        elif outcome == "processing":
            intent["status"] = "processing"
            self._emit("payment_intent.processing", intent)
        else:
            auth = outcome == "authentication_required"
            self.charges[charge["id"]] = {**charge, "status": "failed"}
            intent.update(status="requires_payment_method", last_payment_error={
                "type": "card_error",
                "code": "authentication_required" if auth else "card_declined",
                "decline_code": outcome,
                "message": "This payment requires authentication." if auth
                else "Your card was declined.",
                "charge": charge["id"],
                "payment_method": _payment_method(intent["payment_method"]),
            })  # fmt: skip
            self._emit("payment_intent.payment_failed", intent)

    def _get_intent(self, params: dict[str, Any], intent_id: str) -> dict[str, Any]:
        intent = self.intents.get(intent_id)
        if intent is None:
            raise _missing("payment_intent", intent_id, "intent")
        if "payment_method" in (params.get("expand") or []) and intent.get("payment_method"):
            return {**intent, "payment_method": _expanded_method(intent["payment_method"])}
        return intent

    def _cancel_intent(self, params: dict[str, Any], intent_id: str) -> dict[str, Any]:
        intent = self._get_intent(params, intent_id)
        if intent["status"] in ("succeeded", "canceled", "processing"):
            raise _invalid(
                "You cannot cancel this PaymentIntent because it has a status of "
                f"{intent['status']}.",
                code="payment_intent_unexpected_state",
            )
        intent.update(status="canceled", cancellation_reason=params.get("cancellation_reason"))
        self._emit("payment_intent.canceled", intent)
        return intent

    def _search_intents(self, params: dict[str, Any]) -> dict[str, Any]:
        match = _SEARCH.match(str(params.get("query", "")))
        if match is None:
            raise _invalid("Unsupported search query.", param="query")
        value = re.sub(r"\\(.)", r"\1", match["value"])
        found = [i for i in self.intents.values()
                 if (i.get("metadata") or {}).get(match["key"]) == value]  # fmt: skip
        found.sort(key=lambda i: i["created"], reverse=True)
        return {"object": "search_result", "url": "/v1/payment_intents/search",
                "has_more": False, "next_page": None, "data": found}  # fmt: skip

    # refunds

    def _create_refund(self, params: dict[str, Any]) -> dict[str, Any]:
        intent = self.intents.get(str(params.get("payment_intent")))
        if intent is None or intent["status"] != "succeeded":
            raise _invalid("This PaymentIntent does not have a successful charge to refund.",
                           param="payment_intent")  # fmt: skip
        charge = self.charges[intent["latest_charge"]]
        if self.charge_disputed(charge["id"]):
            raise _invalid(f"Charge {charge['id']} has been charged back; cannot issue a refund.",
                           code="charge_disputed")  # fmt: skip
        left = charge["amount"] - charge["amount_refunded"]
        amount = int(params.get("amount", left))
        if left == 0:
            raise _invalid(f"Charge {charge['id']} has already been refunded.",
                           code="charge_already_refunded")  # fmt: skip
        if amount <= 0 or amount > left:
            raise _invalid(
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                param="amount",
                code="amount_too_large",
            )
        refund = {
            "id": self.new_id("re"),
            "object": "refund",
            "amount": amount,
            "currency": charge["currency"],
            "charge": charge["id"],
            "payment_intent": intent["id"],
            "metadata": params.get("metadata", {}),
            "reason": params.get("reason"),
            "status": "succeeded",
            "created": self.now(),
        }
        self.refunds[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        event_charge = dict(charge)
        if self.refunds_in_events:
            event_charge["refunds"] = {"object": "list", "has_more": False,
                                       "data": self._refunds_of(charge["id"])}  # fmt: skip
        self._emit("charge.refunded", event_charge)
        return refund

    def _refunds_of(self, charge_id: str) -> list[dict[str, Any]]:
        mine = [r for r in self.refunds.values() if r["charge"] == charge_id]
        return sorted(mine, key=lambda r: r["id"], reverse=True)  # newest first

    def refund_from_dashboard(self, intent_id: str, amount: int) -> dict[str, Any]:
        """Act as staff refunding in the dashboard: no metadata, ``charge.refunded`` emitted."""
        with self.lock:
            return self._create_refund({"payment_intent": intent_id, "amount": str(amount)})

    def _list_refunds(self, params: dict[str, Any]) -> dict[str, Any]:
        charge_id = params.get("charge")
        refunds = self._refunds_of(str(charge_id)) if charge_id else list(self.refunds.values())
        intent = params.get("payment_intent")
        if intent:
            refunds = [r for r in refunds if r.get("payment_intent") == intent]
        return self._page(refunds, params, "/v1/refunds")

    def _list_intents(self, params: dict[str, Any]) -> dict[str, Any]:
        customer = params.get("customer")
        intents = [i for i in self.intents.values() if customer in (None, i["customer"])]
        return self._page(intents, params, "/v1/payment_intents")

    @staticmethod
    def _page(objects: list[dict[str, Any]], params: dict[str, Any], url: str) -> dict[str, Any]:
        """A list page as Stripe's list endpoints answer: newest first, ``created`` filters.

        ``created`` is an exact timestamp or a map of ``gt``/``gte``/``lt``/``lte``;
        ``starting_after`` names the last object of the page before; ``limit``
        is 1..100 (default 10); ``has_more`` says another page follows.
        """
        created = params.get("created")
        bounds = created if isinstance(created, dict) else (
            {} if created is None else {"gte": created, "lte": created})  # fmt: skip
        tests = {"gt": int.__gt__, "gte": int.__ge__, "lt": int.__lt__, "lte": int.__le__}
        unknown = set(bounds) - set(tests)
        if unknown:
            raise _invalid(f"Received unknown parameter: created[{min(unknown)}]", param="created")
        chosen = [
            o
            for o in objects
            if all(tests[op](int(o.get("created") or 0), int(v)) for op, v in bounds.items())
        ]
        # Objects a test put in by hand may lack ``created``: they sort as the oldest.
        chosen.sort(key=lambda o: (int(o.get("created") or 0), o["id"]), reverse=True)
        after = params.get("starting_after")
        if after:
            ids = [o["id"] for o in chosen]
            if after not in ids:
                raise _missing("object", str(after), "starting_after")
            chosen = chosen[ids.index(after) + 1 :]
        limit = int(params.get("limit", 10))
        if not 1 <= limit <= 100:
            raise _invalid("This value must be between 1 and 100.", param="limit")
        return {"object": "list", "url": url, "data": chosen[:limit],
                "has_more": len(chosen) > limit}  # fmt: skip

    # setup intents, subscriptions, invoices

    def _create_setup_intent(self, params: dict[str, Any]) -> dict[str, Any]:
        customer = params.get("customer")
        if customer is not None and customer not in self.customers:
            raise _missing("customer", customer, "customer")
        setup_id = self.new_id("seti")
        setup = {"id": setup_id, "object": "setup_intent", "customer": customer,
                 "client_secret": f"{setup_id}_secret_{self.new_id('cs')[3:]}",
                 "status": "requires_payment_method", "usage": params.get("usage"),
                 "livemode": self.livemode, "metadata": params.get("metadata", {})}  # fmt: skip
        self.setup_intents[setup_id] = setup
        return setup

    def _create_subscription(self, params: dict[str, Any]) -> dict[str, Any]:
        customer = str(params.get("customer"))
        if customer not in self.customers:
            raise _missing("customer", customer, "customer")
        items = params.get("items") or []
        if not items or not str(items[0].get("price", "")).startswith("price_"):
            raise _missing(
                "price", str(items[0].get("price") if items else None), "items[0][price]"
            )
        invoice = self._new_invoice(customer, "charge_automatically", {})
        invoice_secret = f"{invoice['id']}_secret_{self.new_id('cs')[3:]}"
        invoice["confirmation_secret"] = {"client_secret": invoice_secret, "type": "payment_intent"}
        sub = new_subscription(self.new_id("sub"), customer, str(items[0]["price"]),
                               now=self.now(), trial_days=int(params.get("trial_period_days", 0)),
                               livemode=self.livemode, metadata=params.get("metadata", {}),
                               latest_invoice=invoice["id"])  # fmt: skip
        self.subscriptions[sub["id"]] = sub
        self._emit("customer.subscription.created", sub)
        expand = params.get("expand") or []
        if "latest_invoice.confirmation_secret" in expand or "latest_invoice" in expand:
            return {**sub, "latest_invoice": invoice}
        return sub

    def _cancel_subscription(self, params: dict[str, Any], sub_id: str) -> dict[str, Any]:
        sub = self.subscriptions.get(sub_id)
        if sub is None:
            raise _missing("subscription", sub_id, "id")
        if sub["status"] != "canceled":
            sub.update(status="canceled", canceled_at=self.now(), ended_at=self.now())
            self._emit("customer.subscription.deleted", sub)
        return sub

    def _new_invoice(
        self, customer: str, collection: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        invoice = {"id": self.new_id("in"), "object": "invoice", "customer": customer,
                   "status": "draft", "collection_method": collection,
                   "currency": params.get("currency", "usd"), "amount_due": 0, "amount_paid": 0,
                   "hosted_invoice_url": None, "metadata": params.get("metadata", {}),
                   "auto_advance": params.get("auto_advance") == "true",
                   "days_until_due": params.get("days_until_due"),
                   "default_payment_method": params.get("default_payment_method"),
                   "pending_invoice_items_behavior": params.get("pending_invoice_items_behavior"),
                   "description": params.get("description"), "attempt_count": 0,
                   "payment_intent_id": None, "lines": {"object": "list", "data": []},
                   "livemode": self.livemode}  # fmt: skip
        self.invoices[invoice["id"]] = invoice
        return invoice

    def _create_invoice(self, params: dict[str, Any]) -> dict[str, Any]:
        customer = str(params.get("customer"))
        if customer not in self.customers:
            raise _missing("customer", customer, "customer")
        collection = str(params.get("collection_method", "charge_automatically"))
        if collection == "send_invoice" and not params.get("days_until_due"):
            raise _invalid("days_until_due is required with send_invoice.",
                           param="days_until_due")  # fmt: skip
        return self._new_invoice(customer, collection, params)

    def _create_invoice_item(self, params: dict[str, Any]) -> dict[str, Any]:
        invoice = self.invoices.get(str(params.get("invoice")))
        if invoice is None:
            raise _missing("invoice", str(params.get("invoice")), "invoice")
        amount = int(params["amount"])
        item = {"id": self.new_id("ii"), "object": "invoiceitem", "invoice": invoice["id"],
                "customer": params.get("customer"), "amount": amount,
                "currency": params.get("currency"), "description": params.get("description"),
                "metadata": params.get("metadata", {})}  # fmt: skip
        self.invoice_items[item["id"]] = item
        invoice["amount_due"] += amount
        return item

    # per-item invoices: finalised (a PaymentIntent made, the page given), then paid

    def _shown(self, invoice: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        """The invoice as Stripe answers it: ``payments`` only when expanded (it is includable)."""
        shown = {k: v for k, v in invoice.items() if k != "payment_intent_id"}
        intent_id = invoice["payment_intent_id"]
        if "payments" in (params.get("expand") or []):
            data = [] if intent_id is None else [
                {"object": "invoice_payment", "is_default": True,
                 "payment": {"type": "payment_intent", "payment_intent": intent_id},
                 "status": "paid" if invoice["status"] == "paid" else "open"}]  # fmt: skip
            shown["payments"] = {"object": "list", "data": data}
        return shown

    def _invoice(self, invoice_id: str) -> dict[str, Any]:
        invoice = self.invoices.get(invoice_id)
        if invoice is None:
            raise _missing("invoice", invoice_id, "invoice")
        return invoice

    def _get_invoice(self, params: dict[str, Any], invoice_id: str) -> dict[str, Any]:
        return self._shown(self._invoice(invoice_id), params)

    def _finalize_invoice(self, params: dict[str, Any], invoice_id: str) -> dict[str, Any]:
        invoice = self._invoice(invoice_id)
        if invoice["status"] != "draft":
            raise _invalid("This invoice is already finalized.", code="invoice_not_editable")
        made = {
            "amount": invoice["amount_due"],
            "currency": invoice["currency"],
            "customer": invoice["customer"],
            "payment_method": invoice["default_payment_method"],
        }
        intent = self._create_intent(made)
        invoice.update(status="open", payment_intent_id=intent["id"],
                       auto_advance=params.get("auto_advance") == "true",
                       hosted_invoice_url=f"https://invoice.local/i/{invoice_id}",
                       number=f"LOCAL-{invoice_id[-4:]}")  # fmt: skip
        self._emit("invoice.finalized", self._shown(invoice, {"expand": ["payments"]}))
        return self._shown(invoice, params)

    def _pay_invoice(self, params: dict[str, Any], invoice_id: str) -> dict[str, Any]:
        """Confirm the invoice's one PaymentIntent again, as Stripe does on each try."""
        invoice = self._invoice(invoice_id)
        if invoice["status"] == "paid":
            raise _invalid("Invoice is already paid", code="invoice_already_paid")
        if invoice["status"] != "open":
            raise _invalid("This invoice can no longer be paid.", code="invoice_not_open")
        intent = self.intents[invoice["payment_intent_id"]]
        method = params.get("payment_method") or invoice["default_payment_method"]
        if method not in self.attached.get(invoice["customer"], []):
            raise _invalid(f"The payment method {method} is not attached to customer "
                           f"{invoice['customer']}.", param="payment_method",
                           code="resource_missing")  # fmt: skip
        intent["payment_method"] = method
        outcome = self.charge_outcomes.popleft() if self.charge_outcomes else "succeed"
        invoice["attempt_count"] += 1
        self._settle(intent, outcome)
        error = intent["last_payment_error"]
        if error is None:
            invoice.update(status="paid", amount_paid=invoice["amount_due"])
            self._emit("invoice.paid", self._shown(invoice, {"expand": ["payments"]}))
            return self._shown(invoice, params)
        self._emit("invoice.payment_failed", {**self._shown(invoice, {"expand": ["payments"]}),
                                              "last_finalization_error": error})  # fmt: skip
        raise _StripeAnswer(402, {**error, "payment_intent": dict(intent)})


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        self.server.owner.dispatch(self)

    def do_POST(self) -> None:
        self.server.owner.dispatch(self)

    def do_DELETE(self) -> None:
        self.server.owner.dispatch(self)

    def log_message(self, format: str, *args: Any) -> None:
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: StripeServer


class StripeServer:
    """The HTTP front: records requests, plays scripts, then asks :class:`FakeStripe`."""

    valid_key_prefixes: ClassVar[tuple[str, ...]] = ("sk_test_", "sk_live_", "rk_test_", "rk_live_")

    def __init__(self, *, clock: Callable[[], datetime] | None = None,
                 webhook_secret: str = WEBHOOK_SECRET, livemode: bool = False,
                 signing_clock: Callable[[], datetime] | None = None) -> None:  # fmt: skip
        self.stripe = FakeStripe(clock=clock or (lambda: datetime.now(UTC)),
                                 webhook_secret=webhook_secret, livemode=livemode,
                                 signing_clock=signing_clock)  # fmt: skip
        self.requests: list[RecordedRequest] = []
        self.revoked_keys: set[str] = set()
        self._scripts: list[_Script] = []
        self._lock = threading.Lock()
        self._http = _Server(("127.0.0.1", 0), _Handler)
        self._http.owner = self
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._request_ids = itertools.count(1)

    @property
    def url(self) -> str:
        """The base address to give the SDK (``base_addresses={"api": url}``)."""
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=5)

    # -- scripting -------------------------------------------------------------------

    def reply(self, status: int, body: dict[str, Any] | None = None, *, method: str | None = None,
              path: str | None = None, times: int = 1, when: Literal["before", "after"] = "before",
              headers: Mapping[str, str] | None = None) -> None:  # fmt: skip
        """Answer the next ``times`` matching requests with ``status`` and ``body``.

        ``when="before"``: the request never reaches the API state;
        ``when="after"``: it is processed (and its idempotent result kept),
        then this answer replaces the real one.
        """
        error = body or {"error": {"type": "api_error", "message": "An unknown error occurred"}}
        with self._lock:
            for _ in range(times):
                self._scripts.append(_Script(status, error, method, path, when, False,
                                             dict(headers or {})))  # fmt: skip

    def drop(self, *, method: str | None = None, path: str | None = None, times: int = 1,
             when: Literal["before", "after"] = "before") -> None:  # fmt: skip
        """Close the connection without answering the next ``times`` matching requests."""
        with self._lock:
            for _ in range(times):
                self._scripts.append(_Script(0, {}, method, path, when, True, {}))

    def _script_for(self, method: str, path: str) -> _Script | None:
        with self._lock:
            for index, script in enumerate(self._scripts):
                if (script.method in (None, method)) and (
                    script.path is None or path.startswith(script.path)
                ):
                    return self._scripts.pop(index)
        return None

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        """The recorded requests with this method and path (query excluded)."""
        return [r for r in self.requests if r.method == method and r.path == path]

    # -- clients -----------------------------------------------------------------------

    def client(
        self, *, api_key: str = API_KEY, max_network_retries: int = 2
    ) -> stripe.StripeClient:
        """A real SDK client talking to this server, retrying without back-off sleeps."""
        return stripe.StripeClient(
            api_key,
            base_addresses={"api": self.url},
            max_network_retries=max_network_retries,
            http_client=FastRetryHTTPClient(timeout=10),
        )

    def gateway(self, **options: Any) -> StripeGateway:
        """A :class:`StripeGateway` on :meth:`client`, verifying this server's events."""
        retries = options.pop("max_network_retries", 2)
        api_key = options.pop("api_key", API_KEY)
        secrets = options.pop("webhook_secrets", [self.stripe.webhook_secret])
        client = self.client(api_key=api_key, max_network_retries=retries)
        return StripeGateway(client, secrets, **options)

    # -- serving -------------------------------------------------------------------------

    def dispatch(self, handler: BaseHTTPRequestHandler) -> None:
        """Handle one HTTP request."""
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length).decode() if length else ""
        split = urlsplit(handler.path)
        headers = {k.lower(): v for k, v in handler.headers.items()}
        method = handler.command
        recorded = RecordedRequest(method, split.path, parse_qs(split.query), headers, body)
        with self._lock:
            self.requests.append(recorded)
        script = self._script_for(method, split.path)
        if script is not None and script.when == "before":
            self._answer(handler, script)
            return
        status, answer, extra = self._api(recorded)
        if script is not None:
            self._answer(handler, script)
            return
        self._send(handler, status, answer, extra)

    def _api(self, request: RecordedRequest) -> tuple[int, dict[str, Any], dict[str, str]]:
        auth = request.headers.get("authorization", "")
        key = auth.removeprefix("Bearer ")
        if not key.startswith(self.valid_key_prefixes) or key in self.revoked_keys:
            masked = f"{key[:8]}****{key[-4:]}"  # as Stripe does
            error = {
                "type": "invalid_request_error",
                "message": f"Invalid API Key provided: {masked}",
            }
            return 401, {"error": error}, {}
        params = _unflatten(request.form if request.method == "POST" else request.query)
        return self.stripe.handle(request.method, request.path, params, request.idempotency_key)

    def _answer(self, handler: BaseHTTPRequestHandler, script: _Script) -> None:
        if script.drop:
            with suppress(OSError):
                handler.connection.shutdown(2)
            handler.close_connection = True
            return
        self._send(handler, script.status, script.body, script.headers)

    def _send(self, handler: BaseHTTPRequestHandler, status: int, body: Mapping[str, Any],
              headers: Mapping[str, str]) -> None:  # fmt: skip
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("Request-Id", f"req_local{next(self._request_ids):06d}")
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)


@contextmanager
def running_server(**options: Any) -> Iterator[StripeServer]:
    """A started :class:`StripeServer`, stopped afterwards."""
    server = StripeServer(**options)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def isolate_sdk_config(monkeypatch: pytest.MonkeyPatch, directory: Path) -> None:
    """Keep the SDK's telemetry-id file (``stripe.enable_telemetry``) out of ``$HOME``."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(directory))
