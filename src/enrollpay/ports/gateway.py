"""The gateway port: the payment verbs, and the values gateways answer with.

Declines are values (:class:`ChargeResult`); exceptions mean the outcome is
unknown. Optional capabilities (subscriptions, invoices) are separate
runtime-checkable protocols, checked with ``isinstance``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

import attrs

from enrollpay.domain.money import Money
from enrollpay.domain.retry import DeclineClass
from enrollpay.domain.statuses import DisputeStatus
from enrollpay.domain.subscriptions import SubscriptionState

__all__ = [
    "ChargeResult",
    "ChargeStatus",
    "EventKind",
    "Gateway",
    "GatewayDispute",
    "GatewayEvent",
    "GatewayRefund",
    "InvoiceGateway",
    "InvoiceInfo",
    "LivemodeAware",
    "PaymentSession",
    "SubscriptionGateway",
    "SubscriptionInfo",
]


ChargeStatus = Literal["succeeded", "failed", "requires_action", "processing", "canceled"]


@attrs.frozen
class ChargeResult:
    """What the gateway said about a charge. Declines are values, not exceptions.

    ``processing`` means the gateway accepted the charge but has not settled
    it (some payment methods settle later, and an on-session payment waits
    for the customer): the outcome arrives by webhook or by asking again.
    ``canceled`` means the payment was cancelled and can no longer succeed.
    ``card_brand`` is the card's brand (Stripe's ``card.brand``: ``visa``,
    ``mastercard``, ...) when the gateway reports it with a decline; the
    retry policy's network caps are keyed by it.
    """

    status: ChargeStatus
    gateway_payment_id: str | None
    amount: Money
    decline_code: str | None = None
    decline_class: DeclineClass | None = None
    message: str | None = None
    payment_method_id: str | None = None
    customer_id: str | None = None
    client_secret: str | None = attrs.field(default=None, repr=False)
    card_brand: str | None = None
    #: The payment method's type as the gateway names it (``card``,
    #: ``sepa_debit``, ...), when known: it sets how long ``processing`` may last.
    payment_method_type: str | None = None
    #: ``processing`` because the gateway accepted the payment and settles it
    #: later (a bank debit), not because a customer has yet to complete it.
    settles_later: bool = False


@attrs.frozen
class PaymentSession:
    """An on-session payment the customer completes in the browser."""

    gateway_payment_id: str
    client_secret: str = attrs.field(repr=False)
    status: Literal["requires_payment_method", "requires_action", "processing", "succeeded"] = (
        "requires_payment_method"
    )


@attrs.frozen
class GatewayRefund:
    """A refund the gateway made (or is making)."""

    gateway_refund_id: str
    gateway_payment_id: str
    amount: Money
    status: Literal["succeeded", "pending", "failed"] = "succeeded"
    #: Our refund id, echoed back by the gateway (matches webhooks to refunds).
    reference: str | None = None


@attrs.frozen
class SubscriptionInfo:
    """A subscription billed by the gateway."""

    subscription_id: str
    status: str
    customer_id: str
    client_secret: str | None = attrs.field(default=None, repr=False)


@attrs.frozen
class InvoiceInfo:
    """An invoice the gateway bills (and may collect automatically)."""

    invoice_id: str
    status: str
    customer_id: str
    amount: Money
    collection_method: str = "charge_automatically"
    #: Where the customer can pay it (a bearer link: keep it out of logs).
    hosted_invoice_url: str | None = attrs.field(default=None, repr=False)


@attrs.frozen
class GatewayDispute:
    """A cardholder's dispute of a payment, as the gateway reports it now.

    ``status`` is the stage in the library's terms, read by the adapter
    from the gateway's own ``gateway_status`` and from whether the disputed
    funds were withdrawn (None: a status the adapter does not know).
    ``gateway_payment_id`` names the disputed payment as the library
    recorded it (Stripe: the PaymentIntent).
    """

    dispute_id: str
    gateway_payment_id: str | None
    amount: Money
    status: DisputeStatus | None
    gateway_status: str
    reason: str | None = None
    evidence_due_by: datetime | None = None


EventKind = Literal[
    "payment_succeeded",
    "payment_processing",
    "payment_failed",
    "payment_requires_action",
    "refund_updated",
    "invoice_paid",
    "invoice_payment_failed",
    "invoice_finalized",
    "subscription_created",
    "subscription_updated",
    "subscription_deleted",
    "payment_method_attached",
    "dispute_updated",
    "ignored",
]


@attrs.frozen
class GatewayEvent:
    """A verified gateway webhook, normalised to what the service acts on."""

    id: str
    type: str
    kind: EventKind
    created: datetime
    livemode: bool = False
    gateway_payment_id: str | None = None
    amount: Money | None = None
    customer_id: str | None = None
    payment_method_id: str | None = None
    decline_code: str | None = None
    decline_class: DeclineClass | None = None
    message: str | None = None
    refunds: tuple[GatewayRefund, ...] = ()
    subscription_id: str | None = None
    subscription_status: str | None = None
    invoice_id: str | None = None
    dispute: GatewayDispute | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict, hash=False)
    #: The declined card's brand, when the event reports it (see ChargeResult).
    card_brand: str | None = None
    #: A subscription event's whole report (status, period, trial, as of the event).
    subscription_state: SubscriptionState | None = None
    #: An invoice event's try number (Stripe's ``attempt_count``) and its period's start.
    invoice_attempt: int | None = None
    invoice_period_start: datetime | None = None
    #: The payment method's type, when the event shows it (see ChargeResult).
    payment_method_type: str | None = None
    #: An invoice event's page for the customer (a bearer link: kept out of ``repr``).
    hosted_invoice_url: str | None = attrs.field(default=None, repr=False)


class Gateway(Protocol):
    """The minimal verb set a payment gateway offers the service.

    Declines come back as :class:`ChargeResult` values. Any exception other
    than :class:`~enrollpay.errors.GatewayRequestError` means *the outcome is
    unknown* and is raised as :class:`~enrollpay.errors.GatewayUnavailableError`.
    Every money-moving verb takes an idempotency key: calling again with the
    same key must return the first call's result and move no more money.
    """

    name: str

    def amount_granularity(self, currency: str) -> int:
        """Minor units every charge in ``currency`` must be a multiple of."""
        ...

    def minimum_charge(self, currency: str) -> Money | None:
        """The smallest charge the gateway accepts in ``currency``, if any."""
        ...

    def ensure_customer(self, user_id: str, *, idempotency_key: str) -> str:
        """Create (once) the gateway customer for ``user_id``; return its id."""
        ...

    def start_payment(
        self,
        *,
        customer_id: str,
        amount: Money,
        idempotency_key: str,
        metadata: Mapping[str, str],
        description: str = "",
    ) -> PaymentSession:
        """Open an on-session payment that saves the method for later charges."""
        ...

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
        """Charge a saved payment method without the customer present."""
        ...

    def payment_status(
        self, *, gateway_payment_id: str | None, idempotency_key: str, amount: Money
    ) -> ChargeResult | None:
        """Look a payment up (by id, else by key); ``None`` if it never reached the gateway."""
        ...

    def cancel_payment(self, *, gateway_payment_id: str, idempotency_key: str) -> ChargeResult:
        """Cancel a payment that has not succeeded, so it never can.

        Returns the payment's state afterwards: ``canceled``, or
        ``succeeded`` when the customer completed it first.
        """
        ...

    def refund(
        self,
        *,
        gateway_payment_id: str,
        amount: Money,
        idempotency_key: str,
        reference: str,
        reason: str | None = None,
    ) -> GatewayRefund:
        """Refund ``amount`` of a payment (partial refunds allowed).

        ``reference`` is the library's refund id; the gateway stores it with
        the refund so that webhooks can be matched to it.
        """
        ...

    def start_payment_method_update(
        self,
        *,
        customer_id: str,
        idempotency_key: str,
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        """Open a setup flow that saves a card for off-session charges; return its client secret.

        Once per idempotency key. ``metadata`` is stored with the flow and
        comes back in its webhook (a trial's setup names its enrollment).
        """
        ...

    def parse_webhook(
        self, payload: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> GatewayEvent:
        """Verify and normalise a webhook; raise ``WebhookSignatureError`` if forged.

        ``now`` is the wall-clock time of arrival (the system's ``wall_clock``,
        not its business clock): the signature's age is measured from it.
        """
        ...


# -- optional capabilities, checked with isinstance -----------------------------------


@runtime_checkable
class SubscriptionGateway(Protocol):
    """A gateway that bills subscriptions itself (Stripe Billing, the fake).

    A capability beside :class:`Gateway`, not part of it: the service asks
    ``isinstance(gateway, SubscriptionGateway)`` before it cancels a
    subscription at the gateway. ``isinstance`` checks that the verbs
    exist, not their signatures (mypy checks those).
    """

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
        """Subscribe a customer to a gateway price; the first invoice confirms it.

        The subscription starts ``incomplete`` until its first payment
        succeeds; ``client_secret`` lets the customer confirm that payment
        (or save a card, with a trial). Once per idempotency key.
        """
        ...

    def cancel_subscription(
        self, subscription_id: str, *, idempotency_key: str
    ) -> SubscriptionInfo:
        """Cancel a subscription now, so the gateway bills it no more."""
        ...


@runtime_checkable
class InvoiceGateway(Protocol):
    """A gateway that issues and collects invoices (Stripe Billing, the fake)."""

    def create_invoice(
        self,
        *,
        customer_id: str,
        amount: Money,
        idempotency_key: str,
        description: str = "",
        metadata: Mapping[str, str] | None = None,
        collection_method: Literal["charge_automatically", "send_invoice"] = (
            "charge_automatically"
        ),
        days_until_due: int | None = None,
    ) -> InvoiceInfo:
        """Create an invoice of one line for ``amount``, finalised and collected by the gateway.

        ``charge_automatically`` charges the customer's default payment
        method; ``send_invoice`` sends it, due in ``days_until_due`` days.
        Once per idempotency key.
        """
        ...


@runtime_checkable
class LivemodeAware(Protocol):
    """A gateway that knows whether it moves real money (live) or test money.

    The service refuses a webhook whose ``livemode`` differs from the
    gateway's, whatever the gateway's own parser checked.
    """

    livemode: bool
