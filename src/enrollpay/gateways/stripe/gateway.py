"""``StripeGateway``: the :class:`~enrollpay.ports.Gateway` on the official Stripe SDK.

Every call goes through an injected :class:`stripe.StripeClient` (no global
``stripe.api_key``) with the caller's idempotency key in the request
options (:mod:`enrollpay.gateways.stripe.calls`). The verbs live in one
module per concept and this class forwards to them:
:mod:`~enrollpay.gateways.stripe.customers`,
:mod:`~enrollpay.gateways.stripe.payments`,
:mod:`~enrollpay.gateways.stripe.refunds`,
:mod:`~enrollpay.gateways.stripe.billing` (subscriptions and invoices, attached from
:mod:`~enrollpay.gateways.stripe.billing_verbs`) and
:mod:`~enrollpay.gateways.stripe.webhooks`.

Stripe's exceptions stop here. A card decline comes back as a
:class:`~enrollpay.ports.ChargeResult` value; a request Stripe refused
(bad parameter, reused key, bad API key) is a
:class:`~enrollpay.errors.GatewayRequestError`; anything that leaves the
outcome unknown (no connection, 5xx after the retries, 429, an unreadable
answer) is a :class:`~enrollpay.errors.GatewayUnavailableError`. Both are
raised ``from`` the Stripe exception. Messages never contain the API key,
a webhook secret or a client secret.

Amounts are converted between ISO minor units and Stripe's units by
:mod:`enrollpay.gateways.stripe.amounts`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import datetime

import stripe

from enrollpay.domain.money import Money
from enrollpay.errors import GatewayNotConfiguredError, InvalidInputError
from enrollpay.gateways.signing import check_tolerance
from enrollpay.gateways.stripe import (
    amounts,
    billing_verbs,
    customers,
    invoicing,
    payments,
    refunds,
    webhooks,
)
from enrollpay.gateways.stripe import ledger as listing
from enrollpay.gateways.stripe.calls import StripeCalls
from enrollpay.gateways.stripe.client import DEFAULT_NETWORK_RETRIES, build_client, client_option
from enrollpay.gateways.stripe.keys import check_secrets, key_livemode
from enrollpay.ports import (
    ChargeResult,
    GatewayEvent,
    GatewayRefund,
    PaymentSession,
)

__all__ = ["StripeGateway"]


class StripeGateway:
    """A :class:`~enrollpay.ports.Gateway` backed by Stripe PaymentIntents.

    Also a :class:`~enrollpay.ports.SubscriptionGateway` and an
    :class:`~enrollpay.ports.InvoiceGateway` and an
    :class:`~enrollpay.ports.ItemInvoiceGateway` (Stripe Billing), and a
    :class:`~enrollpay.ports.LedgerGateway` (its PaymentIntents and Refunds, listed).

    ``client`` is a configured :class:`stripe.StripeClient` (see
    :func:`~enrollpay.gateways.stripe.client.build_client` or
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
        self._secrets = check_secrets(webhook_secrets)
        self.tolerance = check_tolerance(tolerance)
        self.livemode: bool = _resolve_livemode(client, livemode)
        if max_network_retries is None:
            configured = client_option(client, "max_network_retries")
            max_network_retries = configured if isinstance(configured, int) else None
        if max_network_retries is None:
            max_network_retries = DEFAULT_NETWORK_RETRIES
        if isinstance(max_network_retries, bool) or max_network_retries < 0:
            raise InvalidInputError("max_network_retries must be an int >= 0")
        if isinstance(payment_method_types, str):
            raise InvalidInputError("payment_method_types is a list of types, e.g. ['card']")
        self._calls = StripeCalls(
            client,
            max_network_retries=max_network_retries,
            payment_method_types=payment_method_types,
        )
        self._minimums = {
            Money.zero(code).currency: money for code, money in (minimums or {}).items()
        }

    @property
    def max_network_retries(self) -> int:
        """SDK retries per request (connection errors, 409, 5xx), same key each time."""
        return self._calls.max_network_retries

    @max_network_retries.setter
    def max_network_retries(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidInputError("max_network_retries must be an int >= 0")
        self._calls.max_network_retries = value

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
        header (:func:`~enrollpay.gateways.stripe.client.build_client`).
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

    # -- capabilities ----------------------------------------------------------------

    def amount_granularity(self, currency: str) -> int:
        """Minor units every charge must be a multiple of (KWD 10, MGA 100, else 1)."""
        return amounts.amount_granularity(currency)

    def minimum_charge(self, currency: str) -> Money | None:
        """Stripe's documented minimum charge in ``currency`` (``None`` if unlisted)."""
        return amounts.minimum_charge(currency, self._minimums)

    # -- customers and card updates (customers.py) -------------------------------------

    def ensure_customer(self, user_id: str, *, idempotency_key: str) -> str:
        """Create the Stripe customer for ``user_id`` (once per key); return its id."""
        return customers.ensure_customer(self._calls, user_id, idempotency_key=idempotency_key)

    def start_payment_method_update(
        self,
        *,
        customer_id: str,
        idempotency_key: str,
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        """Create a SetupIntent for off-session use; return its client secret."""
        return customers.start_payment_method_update(
            self._calls, customer_id=customer_id, idempotency_key=idempotency_key, metadata=metadata
        )

    # -- payments (payments.py) ------------------------------------------------------------

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
        return payments.start_payment(
            self._calls,
            customer_id=customer_id,
            amount=amount,
            idempotency_key=idempotency_key,
            metadata_=metadata,
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
        """Confirm a PaymentIntent on a saved method with the customer away.

        A card decline is a ``failed`` result with Stripe's decline code;
        ``authentication_required`` is ``requires_action`` with the intent's
        client secret, for the customer to confirm on-session.
        """
        return payments.charge_off_session(
            self._calls,
            customer_id=customer_id,
            payment_method_id=payment_method_id,
            amount=amount,
            idempotency_key=idempotency_key,
            metadata_=metadata,
            description=description,
        )

    def payment_status(
        self, *, gateway_payment_id: str | None, idempotency_key: str, amount: Money
    ) -> ChargeResult | None:
        """The PaymentIntent's state, by id or else by the key that created it.

        See :func:`enrollpay.gateways.stripe.payments.payment_status` for
        how a payment is found by its key alone.
        """
        return payments.payment_status(
            self._calls, gateway_payment_id=gateway_payment_id, idempotency_key=idempotency_key
        )

    def cancel_payment(
        self,
        *,
        gateway_payment_id: str,
        idempotency_key: str,
        cancellation_reason: payments.CancellationReason = "abandoned",
    ) -> ChargeResult:
        """Cancel a PaymentIntent that has not succeeded; return its state afterwards.

        An intent that succeeded in the meantime comes back ``succeeded``.
        """
        return payments.cancel_payment(
            self._calls,
            gateway_payment_id=gateway_payment_id,
            idempotency_key=idempotency_key,
            cancellation_reason=cancellation_reason,
        )

    # -- refunds (refunds.py) -------------------------------------------------------------

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
        return refunds.refund(
            self._calls,
            gateway_payment_id=gateway_payment_id,
            amount=amount,
            idempotency_key=idempotency_key,
            reference=reference,
            reason=reason,
        )

    # -- its own record, listed for drift re-sync (ledger.py) ------------------------------
    list_payments = listing.list_payments
    list_refunds = listing.list_refunds
    list_disputes = listing.list_disputes

    # -- subscriptions and invoices: Stripe Billing (billing_verbs.py) ---------------------
    create_subscription = billing_verbs.create_subscription
    cancel_subscription = billing_verbs.cancel_subscription
    create_invoice = billing_verbs.create_invoice
    # -- an item collected as an invoice (invoicing.py) -------------------------------------
    invoice_item = invoicing.invoice_item
    pay_invoice = invoicing.pay_invoice

    # -- webhooks (webhooks.py) --------------------------------------------------------------

    def parse_webhook(
        self, payload: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> GatewayEvent:
        """Verify (strictly), check the mode, and normalise a Stripe event.

        Refused with :class:`~enrollpay.errors.WebhookSignatureError`: a body
        over 1 MiB, a missing or malformed ``Stripe-Signature``, a timestamp
        more than ``tolerance`` seconds old or ahead, no matching secret, an
        event from the other mode. A ``charge.refunded`` event gets its
        charge's full refund list from Stripe when the event leaves it out.
        """
        return webhooks.parse_webhook(
            self._calls,
            payload,
            headers,
            now=now,
            secrets=self._secrets,
            tolerance=self.tolerance,
            livemode=self.livemode,
        )


def _resolve_livemode(client: stripe.StripeClient, livemode: bool | None) -> bool:
    """The gateway's mode: as given, else the key's; a contradiction is refused."""
    key = client_option(client, "api_key")
    key_mode = key_livemode(key) if isinstance(key, str) else None
    if livemode is None:
        if key_mode is None:
            raise InvalidInputError("cannot tell the client's mode from its key: pass livemode=")
        return key_mode
    if not isinstance(livemode, bool):
        raise InvalidInputError(f"livemode must be a bool, got {type(livemode).__name__}")
    if key_mode is not None and key_mode != livemode:
        kind = "live" if key_mode else "test"
        raise InvalidInputError(f"livemode={livemode} but the client's key is a {kind} key")
    return livemode
