"""``StripeGateway``: the :class:`~enrollpay.ports.Gateway` on the official Stripe SDK.

Every call goes through an injected :class:`stripe.StripeClient` (no global
``stripe.api_key``) with the caller's idempotency key in the request
options; the SDK retries connection errors, 409s and 5xx answers itself
and reuses that key on each retry, so Stripe performs the operation once.

Stripe's exceptions stop here. A card decline comes back as a
:class:`~enrollpay.ports.ChargeResult` value; a request Stripe refused
(bad parameter, reused key, bad API key) is a
:class:`~enrollpay.errors.GatewayRequestError`; anything that leaves the
outcome unknown (no connection, 5xx after the retries, 429, an unreadable
answer) is a :class:`~enrollpay.errors.GatewayUnavailableError`. Both are
raised ``from`` the Stripe exception. Messages never contain the API key,
a webhook secret or a client secret.

Amounts are converted between ISO minor units and Stripe's units by
:mod:`enrollpay.gateways.stripe_amounts`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, Literal, ParamSpec, TypeVar

import attrs
import stripe
from stripe.params import (
    CustomerCreateParams,
    InvoiceCreateParams,
    InvoiceItemCreateParams,
    PaymentIntentCreateParams,
    RefundCreateParams,
    SetupIntentCreateParams,
    SubscriptionCreateParams,
)

from enrollpay.domain.money import Money
from enrollpay.domain.retry import classify_decline
from enrollpay.errors import (
    EnrollpayError,
    GatewayError,
    GatewayNotConfiguredError,
    GatewayRequestError,
    GatewayUnavailableError,
    InvalidInputError,
    WebhookPayloadError,
    WebhookSignatureError,
)
from enrollpay.gateways import stripe_amounts

# The one reading of Stripe refund statuses lives with the event normaliser.
from enrollpay.gateways.events import normalise_event, refund_status
from enrollpay.gateways.signing import check_tolerance, header_value, verify_signature
from enrollpay.gateways.stripe_client import DEFAULT_NETWORK_RETRIES, build_client
from enrollpay.ports import (
    ChargeResult,
    GatewayEvent,
    GatewayRefund,
    InvoiceInfo,
    PaymentSession,
    SubscriptionInfo,
)

__all__ = [
    "ATTEMPT_KEY_METADATA",
    "REFUND_REFERENCE_METADATA",
    "SIGNATURE_HEADER",
    "StripeGateway",
    "key_livemode",
]

SIGNATURE_HEADER: Final = "Stripe-Signature"
#: Metadata key holding the idempotency key that created a PaymentIntent,
#: so :meth:`StripeGateway.payment_status` can find it by key alone.
ATTEMPT_KEY_METADATA: Final = "enrollpay_attempt_key"
#: Metadata key holding the library's refund id on a Stripe refund.
REFUND_REFERENCE_METADATA: Final = "enrollpay_refund_id"
USER_ID_METADATA: Final = "enrollpay_user_id"

_AUTHENTICATION_REQUIRED: Final = "authentication_required"
_STRIPE_REFUND_REASONS: Final = frozenset({"duplicate", "fraudulent", "requested_by_customer"})
_MAX_KEY_LENGTH: Final = 255  # Stripe's limit for Idempotency-Key
_MAX_METADATA_VALUE: Final = 500  # Stripe's limit for a metadata value
_LIVE_PREFIXES: Final = ("sk_live_", "rk_live_")
_TEST_PREFIXES: Final = ("sk_test_", "rk_test_")
# API keys, webhook secrets and client secrets (pi_..._secret_..., seti_..._secret_...).
_SECRET_PATTERN: Final = re.compile(
    r"\b(?:sk|rk|pk)_(?:live|test)_\w+|\bwhsec_\w+|\b[a-z]+_\w+?_secret_\w+"
)

T = TypeVar("T")
P = ParamSpec("P")
SessionStatus = Literal["requires_payment_method", "requires_action", "processing", "succeeded"]


def key_livemode(api_key: str) -> bool:
    """Whether a Stripe secret or restricted key is a live key (else a test key).

    Raises :class:`~enrollpay.errors.InvalidInputError` for anything else
    (a publishable key, a typo); the message never shows the key.
    """
    if not isinstance(api_key, str):
        raise InvalidInputError("the Stripe API key must be a string")
    if api_key.startswith(_LIVE_PREFIXES):
        return True
    if api_key.startswith(_TEST_PREFIXES):
        return False
    if api_key.startswith("pk_"):
        raise InvalidInputError(
            "that is a publishable key; the server needs the secret key (sk_...) "
            "or a restricted key (rk_...)"
        )
    raise InvalidInputError(
        "the Stripe API key is not a secret or restricted key "
        "(expected sk_live_, sk_test_, rk_live_ or rk_test_)"
    )


def _redact(text: str | None) -> str:
    return _SECRET_PATTERN.sub("[redacted]", text or "")


def _retry_after(exc: stripe.StripeError) -> float | None:
    value = (exc.headers or {}).get("Retry-After") or (exc.headers or {}).get("retry-after")
    try:
        return None if value is None else float(value)
    except ValueError:
        return None


def _translate(exc: stripe.StripeError, action: str) -> GatewayError:
    """The library error for a Stripe exception (the caller raises it ``from`` ``exc``)."""
    status = exc.http_status
    details: dict[str, Any] = {
        "code": exc.code,
        "http_status": status,
        "request_id": exc.request_id,
    }
    if isinstance(exc, stripe.APIConnectionError):
        return GatewayUnavailableError(
            f"could not reach Stripe to {action}; the outcome is unknown"
        )
    if isinstance(exc, stripe.RateLimitError):
        return GatewayUnavailableError(
            f"Stripe rate-limited the request to {action} (HTTP {status})",
            retry_after=_retry_after(exc),
        )
    if isinstance(exc, stripe.IdempotencyError):
        return GatewayRequestError(
            f"Stripe refused to {action}: the idempotency key was already used with "
            f"other parameters ({_redact(exc.user_message)})",
            param="idempotency_key",
            **details,
        )
    if isinstance(exc, (stripe.InvalidRequestError, stripe.CardError)):
        param = exc.param
        where = f" (param: {param})" if param else ""
        return GatewayRequestError(
            f"Stripe refused to {action}{where}: {_redact(exc.user_message)}",
            param=param,
            **details,
        )
    if isinstance(exc, (stripe.AuthenticationError, stripe.PermissionError)):
        # Stripe's own message may quote part of the key: leave it out.
        return GatewayRequestError(
            f"Stripe refused the API key when asked to {action} (HTTP {status}); "
            "check STRIPE_SECRET_KEY and the key's permissions",
            **details,
        )
    if status is not None and 400 <= status < 500 and status != 409:
        return GatewayRequestError(
            f"Stripe refused to {action} (HTTP {status}): {_redact(exc.user_message)}", **details
        )
    return GatewayUnavailableError(
        f"Stripe failed to {action} (HTTP {status}); the outcome is unknown"
    )


def _plain(obj: Any) -> dict[str, Any]:
    """A Stripe object as plain dicts and lists."""
    if isinstance(obj, stripe.StripeObject):
        return obj.to_dict()
    if isinstance(obj, dict):
        return obj
    raise TypeError(f"expected a Stripe object, got {type(obj).__name__}")


def _id(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        inner = value.get("id")
        return None if inner is None else str(inner)
    return str(value)


def _response_money(amount: Any, currency: Any) -> Money:
    return stripe_amounts.from_stripe_amount(int(amount), str(currency))


def _event_money(amount: int, currency: str) -> Money:
    try:
        return stripe_amounts.from_stripe_amount(amount, currency)
    except InvalidInputError as exc:
        raise WebhookPayloadError(
            f"event amount {amount} {currency!r} is unusable: {exc}"
        ) from None


def _intent_result(intent: Mapping[str, Any]) -> ChargeResult:
    """Read a PaymentIntent (as a dict) into a :class:`ChargeResult`."""
    status = intent["status"]
    error = intent.get("last_payment_error")
    error = error if isinstance(error, Mapping) else None
    code = None if error is None else (error.get("decline_code") or error.get("code"))
    message = None if error is None else error.get("message")
    base = ChargeResult(
        "processing",
        gateway_payment_id=str(intent["id"]),
        amount=_response_money(intent["amount"], intent["currency"]),
        payment_method_id=_id(intent.get("payment_method")),
        customer_id=_id(intent.get("customer")),
    )
    if status == "succeeded":
        return attrs.evolve(base, status="succeeded")
    declined = attrs.evolve(
        base,
        decline_code=code,
        decline_class=None if code is None else classify_decline(code),
        message=message,
    )
    if status == "requires_action" or (
        status == "requires_payment_method" and code == _AUTHENTICATION_REQUIRED
    ):
        # Off-session charges that need 3-D Secure fail with
        # authentication_required; the customer confirms the same intent
        # on-session with its client secret.
        return attrs.evolve(
            declined, status="requires_action", client_secret=intent.get("client_secret")
        )
    if status == "canceled":
        return attrs.evolve(declined, status="canceled")
    if status == "requires_payment_method" and error is not None:
        return attrs.evolve(declined, status="failed")
    # processing, requires_capture, or an on-session intent the customer has
    # not completed yet: the outcome comes later.
    return base


def _session_status(status: str) -> SessionStatus:
    if status in ("requires_action", "processing", "succeeded"):
        return status  # type: ignore[return-value]
    return "requires_payment_method"


class StripeGateway:
    """A :class:`~enrollpay.ports.Gateway` backed by Stripe PaymentIntents.

    ``client`` is a configured :class:`stripe.StripeClient` (see
    :func:`~enrollpay.gateways.stripe_client.build_client` or
    :meth:`from_env`). ``webhook_secrets`` are the endpoint's signing
    secrets; several are allowed while rotating. ``tolerance`` is how far
    (seconds, past or future) a signature timestamp may be from ``now``:
    above 0, at most a day. ``livemode`` defaults to the mode of the
    client's key (``sk_live_``/``rk_live_`` live, ``sk_test_``/``rk_test_``
    test); webhooks from the other mode are refused.

    Keyword options: ``max_network_retries`` (SDK retries per request;
    default the client's own setting, or 2 when the client has none),
    ``payment_method_types`` (instead of automatic payment methods) and
    ``minimums`` (per-currency minimum charges overriding Stripe's table).
    """

    name = "stripe"

    def __init__(
        self,
        client: stripe.StripeClient,
        webhook_secrets: Sequence[str],
        tolerance: float = 300,
        livemode: bool | None = None,
        *,
        max_network_retries: int | None = None,
        payment_method_types: Sequence[str] | None = None,
        minimums: Mapping[str, Money] | None = None,
    ) -> None:
        if not isinstance(client, stripe.StripeClient):
            raise InvalidInputError(
                f"client must be a stripe.StripeClient, got {type(client).__name__}"
            )
        self._client = client
        self._secrets = _check_secrets(webhook_secrets)
        self.tolerance = check_tolerance(tolerance)
        key = _client_option(client, "api_key")
        key_mode = key_livemode(key) if isinstance(key, str) else None
        if livemode is None:
            if key_mode is None:
                raise InvalidInputError(
                    "cannot tell the client's mode from its key: pass livemode="
                )
            livemode = key_mode
        elif not isinstance(livemode, bool):
            raise InvalidInputError(f"livemode must be a bool, got {type(livemode).__name__}")
        elif key_mode is not None and key_mode != livemode:
            kind = "live" if key_mode else "test"
            raise InvalidInputError(f"livemode={livemode} but the client's key is a {kind} key")
        self.livemode: bool = livemode
        if max_network_retries is None:
            configured = _client_option(client, "max_network_retries")
            max_network_retries = configured if isinstance(configured, int) else None
        if max_network_retries is None:
            max_network_retries = DEFAULT_NETWORK_RETRIES
        if isinstance(max_network_retries, bool) or max_network_retries < 0:
            raise InvalidInputError("max_network_retries must be an int >= 0")
        self.max_network_retries: int = max_network_retries
        if isinstance(payment_method_types, str):
            raise InvalidInputError("payment_method_types is a list of types, e.g. ['card']")
        self._method_types = None if payment_method_types is None else list(payment_method_types)
        self._minimums = {
            Money.zero(code).currency: money for code, money in (minimums or {}).items()
        }

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        tolerance: float = 300,
        api_base: str | None = None,
        http_client: stripe.HTTPClient | None = None,
    ) -> StripeGateway:
        """Configure from ``STRIPE_SECRET_KEY`` and ``STRIPE_WEBHOOK_SECRET``.

        ``STRIPE_WEBHOOK_SECRET`` may list several secrets separated by
        commas (rotation). The client gets network retries and no telemetry
        header (:func:`~enrollpay.gateways.stripe_client.build_client`).
        """
        env = os.environ if environ is None else environ
        api_key = (env.get("STRIPE_SECRET_KEY") or "").strip()
        if not api_key:
            raise GatewayNotConfiguredError("STRIPE_SECRET_KEY is not set")
        livemode = key_livemode(api_key)
        secrets = [s.strip() for s in (env.get("STRIPE_WEBHOOK_SECRET") or "").split(",")]
        secrets = [s for s in secrets if s]
        if not secrets:
            raise GatewayNotConfiguredError("STRIPE_WEBHOOK_SECRET is not set")
        client = build_client(api_key, api_base=api_base, http_client=http_client)
        return cls(client, secrets, tolerance=tolerance, livemode=livemode)

    def __repr__(self) -> str:
        return (
            f"StripeGateway(livemode={self.livemode}, webhook_secrets={len(self._secrets)}, "
            f"tolerance={self.tolerance:g})"
        )

    # -- plumbing ------------------------------------------------------------------

    def _options(self, idempotency_key: str | None = None) -> stripe.RequestOptions:
        options: stripe.RequestOptions = {"max_network_retries": self.max_network_retries}
        if idempotency_key is not None:
            options["idempotency_key"] = _check_key(idempotency_key)
        return options

    def _call(self, action: str, method: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Call the SDK, translating its exceptions at this boundary."""
        try:
            return method(*args, **kwargs)
        except stripe.StripeError as exc:
            raise _translate(exc, action) from exc

    def _read(self, action: str, read: Callable[[], T]) -> T:
        """Read Stripe's answer; an answer we cannot read leaves the outcome unknown."""
        try:
            return read()
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise GatewayUnavailableError(
                f"Stripe's answer to {action} could not be read ({type(exc).__name__}); "
                "the outcome is unknown"
            ) from exc

    def _amount(self, amount: Money) -> int:
        try:
            return stripe_amounts.to_stripe_amount(amount)
        except EnrollpayError as exc:
            raise GatewayRequestError(str(exc), param="amount") from exc

    def _payment_methods(self, *, off_session: bool) -> dict[str, Any]:
        if self._method_types is not None:
            return {"payment_method_types": list(self._method_types)}
        if off_session:
            # Nobody is there to follow a redirect.
            return {"automatic_payment_methods": {"enabled": True, "allow_redirects": "never"}}
        return {"automatic_payment_methods": {"enabled": True}}

    # -- capabilities ----------------------------------------------------------------

    def amount_granularity(self, currency: str) -> int:
        """Minor units every charge must be a multiple of (KWD 10, MGA 100, else 1)."""
        return stripe_amounts.amount_granularity(currency)

    def minimum_charge(self, currency: str) -> Money | None:
        """Stripe's documented minimum charge in ``currency`` (``None`` if unlisted)."""
        return stripe_amounts.minimum_charge(currency, self._minimums)

    # -- customers -------------------------------------------------------------------

    def ensure_customer(self, user_id: str, *, idempotency_key: str) -> str:
        """Create the Stripe customer for ``user_id`` (once per key); return its id."""
        params: CustomerCreateParams = {"metadata": {USER_ID_METADATA: _meta_value(user_id)}}
        customer = self._call(
            "create a customer",
            self._client.v1.customers.create,
            params=params,
            options=self._options(idempotency_key),
        )
        return self._read("create a customer", lambda: str(_plain(customer)["id"]))

    # -- payments ----------------------------------------------------------------------

    def start_payment(
        self,
        *,
        customer_id: str,
        amount: Money,
        idempotency_key: str,
        metadata: Mapping[str, str],
        description: str = "",
    ) -> PaymentSession:
        """Create a PaymentIntent that saves the method for off-session use."""
        params: PaymentIntentCreateParams = {
            "customer": customer_id,
            "amount": self._amount(amount),
            "currency": amount.currency.lower(),
            "setup_future_usage": "off_session",
            "metadata": _metadata(metadata, idempotency_key),
            **self._payment_methods(off_session=False),  # type: ignore[typeddict-item]
        }
        if description:
            params["description"] = description
        intent = self._call(
            "start a payment",
            self._client.v1.payment_intents.create,
            params=params,
            options=self._options(idempotency_key),
        )

        def read() -> PaymentSession:
            data = _plain(intent)
            return PaymentSession(str(data["id"]), str(data["client_secret"]),
                                  _session_status(str(data["status"])))  # fmt: skip

        return self._read("start a payment", read)

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
        """Confirm a PaymentIntent on a saved method with the customer away.

        A card decline is a ``failed`` result with Stripe's decline code;
        ``authentication_required`` is ``requires_action`` with the intent's
        client secret, for the customer to confirm on-session.
        """
        params: PaymentIntentCreateParams = {
            "customer": customer_id,
            "payment_method": payment_method_id,
            "amount": self._amount(amount),
            "currency": amount.currency.lower(),
            "off_session": True,
            "confirm": True,
            "metadata": _metadata(metadata, idempotency_key),
            **self._payment_methods(off_session=True),  # type: ignore[typeddict-item]
        }
        if description:
            params["description"] = description
        action = "charge a saved payment method"
        try:
            intent = self._client.v1.payment_intents.create(
                params=params, options=self._options(idempotency_key)
            )
        except stripe.CardError as exc:
            declined = exc
            return self._read(action, lambda: _declined(declined, amount))
        except stripe.StripeError as exc:
            raise _translate(exc, action) from exc
        return self._read(action, lambda: _intent_result(_plain(intent)))

    def payment_status(
        self, *, gateway_payment_id: str | None, idempotency_key: str, amount: Money
    ) -> ChargeResult | None:
        """The PaymentIntent's state, by id or else by the key that created it.

        Without an id the intent is found with Stripe's search API on the
        ``enrollpay_attempt_key`` metadata. Search is eventually consistent
        (new intents appear within about a minute), so ``None`` can mean
        "created moments ago"; that is safe because the service then sends
        the attempt again with the *same* key, which Stripe answers with the
        original result for 24 hours.
        """
        action = "look up a payment"
        if gateway_payment_id:
            intent = self._call(
                action,
                self._client.v1.payment_intents.retrieve,
                gateway_payment_id,
                options=self._options(),
            )
            return self._read(action, lambda: _intent_result(_plain(intent)))
        query = f"metadata['{ATTEMPT_KEY_METADATA}']:'{_search_literal(idempotency_key)}'"
        found = self._call(
            action,
            self._client.v1.payment_intents.search,
            params={"query": query, "limit": 10},
            options=self._options(),
        )

        def read() -> ChargeResult | None:
            intents = [_plain(i) for i in _plain(found)["data"]]
            mine = [i for i in intents if _attempt_key_of(i) == idempotency_key]
            if not mine:
                return None
            return _intent_result(max(mine, key=lambda i: int(i.get("created") or 0)))

        return self._read(action, read)

    def cancel_payment(
        self,
        *,
        gateway_payment_id: str,
        idempotency_key: str,
        cancellation_reason: Literal[
            "abandoned", "duplicate", "fraudulent", "requested_by_customer"
        ] = "abandoned",
    ) -> ChargeResult:
        """Cancel a PaymentIntent that has not succeeded; return its state afterwards.

        Stripe refuses to cancel an intent that succeeded (or was cancelled)
        in the meantime (``payment_intent_unexpected_state``); the intent is
        then looked up, so the answer is ``succeeded`` or ``canceled`` as
        the protocol says. Other states Stripe cannot cancel (``processing``)
        come back as they are.
        """
        action = "cancel a payment"
        try:
            intent = self._client.v1.payment_intents.cancel(
                gateway_payment_id,
                params={"cancellation_reason": cancellation_reason},
                options=self._options(idempotency_key),
            )
        except stripe.InvalidRequestError as exc:
            if exc.code != "payment_intent_unexpected_state":
                raise _translate(exc, action) from exc
            intent = self._call(
                action,
                self._client.v1.payment_intents.retrieve,
                gateway_payment_id,
                options=self._options(),
            )
        except stripe.StripeError as exc:
            raise _translate(exc, action) from exc
        return self._read(action, lambda: _intent_result(_plain(intent)))

    # -- refunds -------------------------------------------------------------------------

    def refund(
        self,
        *,
        gateway_payment_id: str,
        amount: Money,
        idempotency_key: str,
        reference: str,
        reason: str | None = None,
    ) -> GatewayRefund:
        """Refund ``amount`` of a PaymentIntent, tagged with our refund id.

        Stripe's ``reason`` is sent only when ``reason`` is one Stripe knows
        (``duplicate``, ``fraudulent``, ``requested_by_customer``); any
        other text goes to the refund's metadata.
        """
        meta = {REFUND_REFERENCE_METADATA: _meta_value(reference)}
        params: RefundCreateParams = {
            "payment_intent": gateway_payment_id,
            "amount": self._amount(amount),
            "metadata": meta,
        }
        if reason in _STRIPE_REFUND_REASONS:
            params["reason"] = reason
        elif reason:
            meta["enrollpay_reason"] = _meta_value(reason[:_MAX_METADATA_VALUE])
        refund = self._call(
            "refund a payment",
            self._client.v1.refunds.create,
            params=params,
            options=self._options(idempotency_key),
        )

        def read() -> GatewayRefund:
            data = _plain(refund)
            return GatewayRefund(
                gateway_refund_id=str(data["id"]),
                gateway_payment_id=_id(data.get("payment_intent")) or gateway_payment_id,
                amount=_response_money(data["amount"], data["currency"]),
                status=refund_status(data.get("status")),
                reference=(data.get("metadata") or {}).get(REFUND_REFERENCE_METADATA),
            )

        return self._read("refund a payment", read)

    # -- card updates ----------------------------------------------------------------------

    def start_payment_method_update(self, *, customer_id: str, idempotency_key: str) -> str:
        """Create a SetupIntent for a new card; return its client secret."""
        params: SetupIntentCreateParams = {
            "customer": customer_id,
            "usage": "off_session",
            **self._payment_methods(off_session=False),  # type: ignore[typeddict-item]
        }
        setup = self._call(
            "start a card update",
            self._client.v1.setup_intents.create,
            params=params,
            options=self._options(idempotency_key),
        )
        return self._read("start a card update", lambda: str(_plain(setup)["client_secret"]))

    # -- subscriptions and invoices (Stripe Billing) ---------------------------------------

    def create_subscription(
        self,
        *,
        customer_id: str,
        price_id: str,
        idempotency_key: str,
        metadata: Mapping[str, str] | None = None,
        trial_days: int = 0,
        default_payment_method: str | None = None,
    ) -> SubscriptionInfo:
        """Subscribe a customer to a Stripe Price (billed by Stripe).

        The subscription starts ``incomplete`` until its first invoice is
        paid; ``client_secret`` confirms that payment in the browser (or,
        with a trial, saves the card through the pending SetupIntent).
        """
        if isinstance(trial_days, bool) or not isinstance(trial_days, int) or trial_days < 0:
            raise InvalidInputError(f"trial_days must be an int >= 0, got {trial_days!r}")
        params: SubscriptionCreateParams = {
            "customer": customer_id,
            "items": [{"price": price_id}],
            "payment_behavior": "default_incomplete",
            "payment_settings": {"save_default_payment_method": "on_subscription"},
            "metadata": _metadata(metadata or {}, None),
            "expand": ["latest_invoice.confirmation_secret", "pending_setup_intent"],
        }
        if trial_days:
            params["trial_period_days"] = trial_days
        if default_payment_method:
            params["default_payment_method"] = default_payment_method
        subscription = self._call(
            "create a subscription",
            self._client.v1.subscriptions.create,
            params=params,
            options=self._options(idempotency_key),
        )
        return self._read("create a subscription", lambda: _subscription_info(_plain(subscription)))

    def cancel_subscription(
        self, subscription_id: str, *, idempotency_key: str
    ) -> SubscriptionInfo:
        """Cancel a subscription now (Stripe stops billing it)."""
        subscription = self._call(
            "cancel a subscription",
            self._client.v1.subscriptions.cancel,
            subscription_id,
            options=self._options(idempotency_key),
        )
        return self._read("cancel a subscription", lambda: _subscription_info(_plain(subscription)))

    def create_invoice(
        self,
        *,
        customer_id: str,
        amount: Money,
        idempotency_key: str,
        description: str = "",
        metadata: Mapping[str, str] | None = None,
        collection_method: Literal["charge_automatically", "send_invoice"] = "charge_automatically",
        days_until_due: int | None = None,
    ) -> InvoiceInfo:
        """Create an invoice for ``amount`` (one line) that Stripe finalises and collects.

        ``charge_automatically`` charges the customer's default payment
        method; ``send_invoice`` emails it, due in ``days_until_due`` days
        (default 30). Two requests are made (the invoice, then its line),
        with keys derived from ``idempotency_key``.
        """
        if collection_method not in ("charge_automatically", "send_invoice"):
            raise InvalidInputError(f"unknown collection_method {collection_method!r}")
        stripe_amount = self._amount(amount)
        meta = _metadata(metadata or {}, None)
        params: InvoiceCreateParams = {
            "customer": customer_id,
            "currency": amount.currency.lower(),
            "collection_method": collection_method,
            "auto_advance": True,
            "metadata": meta,
        }
        if collection_method == "send_invoice":
            params["days_until_due"] = 30 if days_until_due is None else days_until_due
        if description:
            params["description"] = description
        key = _check_key(idempotency_key)
        invoice = self._call(
            "create an invoice",
            self._client.v1.invoices.create,
            params=params,
            options=self._options(f"{key}:invoice"),
        )
        invoice_id = self._read("create an invoice", lambda: str(_plain(invoice)["id"]))
        item: InvoiceItemCreateParams = {
            "customer": customer_id,
            "invoice": invoice_id,
            "amount": stripe_amount,
            "currency": amount.currency.lower(),
            "metadata": meta,
        }
        if description:
            item["description"] = description
        self._call(
            "add an invoice line",
            self._client.v1.invoice_items.create,
            params=item,
            options=self._options(f"{key}:line"),
        )

        def read() -> InvoiceInfo:
            data = _plain(invoice)
            return InvoiceInfo(invoice_id=invoice_id, status=str(data.get("status") or "draft"),
                               customer_id=customer_id, amount=amount,
                               collection_method=collection_method,
                               hosted_invoice_url=data.get("hosted_invoice_url"))  # fmt: skip

        return self._read("create an invoice", read)

    # -- webhooks ------------------------------------------------------------------------------

    def parse_webhook(
        self, payload: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> GatewayEvent:
        """Verify (strictly), check the mode, and normalise a Stripe event.

        Refused with :class:`~enrollpay.errors.WebhookSignatureError`: a body
        over 1 MiB, a missing or malformed ``Stripe-Signature``, a timestamp
        more than ``tolerance`` seconds old or ahead, no matching secret, an
        event from the other mode. ``charge.refunded`` events whose charge
        does not carry its full refund list (API versions since 2022-11-15
        leave it out) get the list from Stripe, so every refund is reported.
        """
        verify_signature(payload, header_value(headers, SIGNATURE_HEADER), self._secrets,
                         now=now, tolerance=self.tolerance)  # fmt: skip
        try:
            data = json.loads(payload)
        except ValueError:
            raise WebhookPayloadError("webhook body is not JSON") from None
        if not isinstance(data, dict):
            raise WebhookPayloadError("webhook body is not a JSON object")
        livemode = data.get("livemode")
        if not isinstance(livemode, bool):
            raise WebhookPayloadError("event has no livemode flag")
        if livemode != self.livemode:
            raise WebhookSignatureError("event livemode does not match the gateway's mode")
        if data.get("type") == "charge.refunded":
            data = self._with_all_refunds(data)
        return normalise_event(data, to_money=_event_money)

    def _with_all_refunds(self, data: dict[str, Any]) -> dict[str, Any]:
        envelope = data.get("data")
        charge = envelope.get("object") if isinstance(envelope, Mapping) else None
        if not isinstance(charge, Mapping) or not isinstance(charge.get("id"), str):
            raise WebhookPayloadError("charge.refunded event has no charge object")
        listing = charge.get("refunds")
        if (
            isinstance(listing, Mapping)
            and isinstance(listing.get("data"), list)
            and not listing.get("has_more")
        ):
            return data
        charge_id = charge["id"]
        action = "list a charge's refunds"

        def fetch() -> list[dict[str, Any]]:
            page = self._client.v1.refunds.list(params={"charge": charge_id, "limit": 100},
                                                options=self._options())  # fmt: skip
            return [_plain(refund) for refund in _iterate(page)]

        refunds = self._call(action, fetch)
        full = {**charge, "refunds": {"object": "list", "data": refunds, "has_more": False}}
        return {**data, "data": {**envelope, "object": full}}  # type: ignore[dict-item]


# --- helpers ---------------------------------------------------------------------------------


def _iterate(page: Any) -> Iterable[Any]:
    return page.auto_paging_iter()  # type: ignore[no-any-return]


def _declined(exc: stripe.CardError, amount: Money) -> ChargeResult:
    """A card error as a value: the intent Stripe attached, or what the error says."""
    error = exc.error
    code = (error.decline_code or error.code) if error is not None else exc.code
    message = error.message if error is not None else exc.user_message
    intent = error.payment_intent if error is not None else None
    if intent is not None:
        data = _plain(intent)
        if not isinstance(data.get("last_payment_error"), Mapping):
            data["last_payment_error"] = {"code": code, "message": message}
        if data.get("status") not in ("requires_payment_method", "requires_action", "canceled"):
            data["status"] = "requires_payment_method"  # declined: never a success
        return _intent_result(data)
    status: Literal["failed", "requires_action"] = (
        "requires_action" if code == _AUTHENTICATION_REQUIRED else "failed"
    )
    return ChargeResult(status, None, amount, decline_code=code,
                        decline_class=None if code is None else classify_decline(code),
                        message=message)  # fmt: skip


def _subscription_info(data: Mapping[str, Any]) -> SubscriptionInfo:
    secret = None
    invoice = data.get("latest_invoice")
    if isinstance(invoice, Mapping):
        confirmation = invoice.get("confirmation_secret")
        if isinstance(confirmation, Mapping):
            secret = confirmation.get("client_secret")
    setup = data.get("pending_setup_intent")
    if secret is None and isinstance(setup, Mapping):
        secret = setup.get("client_secret")
    return SubscriptionInfo(subscription_id=str(data["id"]), status=str(data["status"]),
                            customer_id=str(_id(data.get("customer"))),
                            client_secret=secret)  # fmt: skip


def _check_secrets(secrets: Sequence[str]) -> tuple[str, ...]:
    if isinstance(secrets, (str, bytes)):
        raise InvalidInputError("webhook_secrets is a list of secrets, e.g. [os.environ[...]]")
    checked = tuple(secrets)
    if not checked:
        raise InvalidInputError("at least one webhook secret is needed")
    for secret in checked:
        if not isinstance(secret, str) or not secret.strip():
            raise InvalidInputError("webhook secrets must be non-empty strings")
    return checked


def _check_key(key: str) -> str:
    # An empty key would make the SDK invent a random one, silently losing idempotency.
    if not isinstance(key, str) or not key.strip() or len(key) > _MAX_KEY_LENGTH:
        raise GatewayRequestError(
            f"idempotency keys must be non-empty strings of at most {_MAX_KEY_LENGTH} characters",
            param="idempotency_key",
        )
    return key


def _meta_value(value: str) -> str:
    if not isinstance(value, str) or len(value) > _MAX_METADATA_VALUE:
        raise GatewayRequestError(
            f"metadata values must be strings of at most {_MAX_METADATA_VALUE} characters",
            param="metadata",
        )
    return value


def _metadata(metadata: Mapping[str, str], idempotency_key: str | None) -> dict[str, str]:
    result = {str(k): _meta_value(v) for k, v in metadata.items()}
    if idempotency_key is not None:
        result[ATTEMPT_KEY_METADATA] = _meta_value(_check_key(idempotency_key))
    return result


def _attempt_key_of(intent: Mapping[str, Any]) -> Any:
    return (intent.get("metadata") or {}).get(ATTEMPT_KEY_METADATA)


def _search_literal(value: str) -> str:
    """Quote ``value`` for Stripe's search query language."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _client_option(client: stripe.StripeClient, name: str) -> Any:
    """A setting of the client, read from its requestor (the SDK has no public getter).

    Used for the API key's mode and the configured retries; ``None`` when
    the SDK's internals change, and callers then need explicit arguments.
    """
    requestor = getattr(client, "_requestor", None)
    if name == "api_key":
        return getattr(requestor, "api_key", None)
    return getattr(getattr(requestor, "_options", None), name, None)
