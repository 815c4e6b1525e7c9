"""Stripe Billing: subscriptions and invoices that Stripe bills and collects.

The verbs of :class:`~enrollpay.ports.SubscriptionGateway` and
:class:`~enrollpay.ports.InvoiceGateway` for
:class:`~enrollpay.gateways.stripe.StripeGateway`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from stripe.params import InvoiceCreateParams, InvoiceItemCreateParams, SubscriptionCreateParams

from enrollpay.domain.money import Money
from enrollpay.errors import InvalidInputError
from enrollpay.gateways.stripe.answers import plain, subscription_info
from enrollpay.gateways.stripe.calls import StripeCalls
from enrollpay.gateways.stripe.params import check_key, metadata
from enrollpay.ports import InvoiceInfo, SubscriptionInfo

__all__ = ["CollectionMethod", "cancel_subscription", "create_invoice", "create_subscription"]

CollectionMethod = Literal["charge_automatically", "send_invoice"]


def create_subscription(
    calls: StripeCalls,
    *,
    customer_id: str,
    price_id: str,
    idempotency_key: str,
    metadata_: Mapping[str, str] | None,
    trial_days: int,
    default_payment_method: str | None,
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
        "metadata": metadata(metadata_ or {}, None),
        "expand": ["latest_invoice.confirmation_secret", "pending_setup_intent"],
    }
    if trial_days:
        params["trial_period_days"] = trial_days
    if default_payment_method:
        params["default_payment_method"] = default_payment_method
    subscription = calls.call(
        "create a subscription",
        calls.client.v1.subscriptions.create,
        params=params,
        options=calls.options(idempotency_key),
    )
    return calls.read("create a subscription", lambda: subscription_info(plain(subscription)))


def cancel_subscription(
    calls: StripeCalls, subscription_id: str, *, idempotency_key: str
) -> SubscriptionInfo:
    """Cancel a subscription now (Stripe stops billing it)."""
    subscription = calls.call(
        "cancel a subscription",
        calls.client.v1.subscriptions.cancel,
        subscription_id,
        options=calls.options(idempotency_key),
    )
    return calls.read("cancel a subscription", lambda: subscription_info(plain(subscription)))


def create_invoice(
    calls: StripeCalls,
    *,
    customer_id: str,
    amount: Money,
    idempotency_key: str,
    description: str,
    metadata_: Mapping[str, str] | None,
    collection_method: CollectionMethod,
    days_until_due: int | None,
) -> InvoiceInfo:
    """Create an invoice for ``amount`` (one line) that Stripe finalises and collects.

    ``charge_automatically`` charges the customer's default payment
    method; ``send_invoice`` emails it, due in ``days_until_due`` days
    (default 30). Two requests are made (the invoice, then its line),
    with keys derived from ``idempotency_key``.
    """
    if collection_method not in ("charge_automatically", "send_invoice"):
        raise InvalidInputError(f"unknown collection_method {collection_method!r}")
    stripe_amount = calls.amount(amount)
    meta = metadata(metadata_ or {}, None)
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
    key = check_key(idempotency_key)
    invoice = calls.call(
        "create an invoice",
        calls.client.v1.invoices.create,
        params=params,
        options=calls.options(f"{key}:invoice"),
    )
    invoice_id = calls.read("create an invoice", lambda: str(plain(invoice)["id"]))
    item: InvoiceItemCreateParams = {
        "customer": customer_id,
        "invoice": invoice_id,
        "amount": stripe_amount,
        "currency": amount.currency.lower(),
        "metadata": meta,
    }
    if description:
        item["description"] = description
    calls.call(
        "add an invoice line",
        calls.client.v1.invoice_items.create,
        params=item,
        options=calls.options(f"{key}:line"),
    )

    def read() -> InvoiceInfo:
        data = plain(invoice)
        return InvoiceInfo(invoice_id=invoice_id, status=str(data.get("status") or "draft"),
                           customer_id=customer_id, amount=amount,
                           collection_method=collection_method,
                           hosted_invoice_url=data.get("hosted_invoice_url"))  # fmt: skip

    return calls.read("create an invoice", read)
