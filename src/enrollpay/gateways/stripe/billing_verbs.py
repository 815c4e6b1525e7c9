"""Stripe Billing's verbs as :class:`~enrollpay.gateways.stripe.StripeGateway` methods.

The :class:`~enrollpay.ports.SubscriptionGateway` and
:class:`~enrollpay.ports.InvoiceGateway` verbs, attached to the gateway
class by name (they take the gateway as ``self``, as the listings of
:mod:`~enrollpay.gateways.stripe.ledger` do) and forwarded to the requests
in :mod:`~enrollpay.gateways.stripe.billing`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from enrollpay.domain.money import Money
from enrollpay.gateways.stripe import billing
from enrollpay.ports import InvoiceInfo, SubscriptionInfo

if TYPE_CHECKING:
    from enrollpay.gateways.stripe.gateway import StripeGateway

__all__ = ["cancel_subscription", "create_invoice", "create_subscription"]


def create_subscription(
    self: StripeGateway,
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
    return billing.create_subscription(
        self._calls,
        customer_id=customer_id,
        price_id=price_id,
        idempotency_key=idempotency_key,
        metadata_=metadata,
        trial_days=trial_days,
        default_payment_method=default_payment_method,
    )


def cancel_subscription(
    self: StripeGateway, subscription_id: str, *, idempotency_key: str
) -> SubscriptionInfo:
    """Cancel a subscription now (Stripe stops billing it)."""
    return billing.cancel_subscription(
        self._calls, subscription_id, idempotency_key=idempotency_key
    )


def create_invoice(
    self: StripeGateway,
    *,
    customer_id: str,
    amount: Money,
    idempotency_key: str,
    description: str = "",
    metadata: Mapping[str, str] | None = None,
    collection_method: billing.CollectionMethod = "charge_automatically",
    days_until_due: int | None = None,
) -> InvoiceInfo:
    """Create an invoice for ``amount`` (one line) that Stripe finalises and collects.

    ``charge_automatically`` charges the customer's default payment
    method; ``send_invoice`` emails it, due in ``days_until_due`` days
    (default 30). Two requests are made (the invoice, then its line),
    with keys derived from ``idempotency_key``.
    """
    return billing.create_invoice(
        self._calls,
        customer_id=customer_id,
        amount=amount,
        idempotency_key=idempotency_key,
        description=description,
        metadata_=metadata,
        collection_method=collection_method,
        days_until_due=days_until_due,
    )
