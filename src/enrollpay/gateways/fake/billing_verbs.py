"""The fake's billing verbs as :class:`~enrollpay.gateways.fake.FakeGateway` methods.

The :class:`~enrollpay.ports.SubscriptionGateway` and
:class:`~enrollpay.ports.InvoiceGateway` verbs, attached to the gateway
class by name (they take the gateway as ``self``, as the listings of
:mod:`~enrollpay.gateways.fake.ledger` do) and forwarded to its
:class:`~enrollpay.gateways.fake.billing.FakeBilling`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from enrollpay.domain.money import Money
from enrollpay.gateways.fake.billing import CollectionMethod
from enrollpay.ports import InvoiceInfo, SubscriptionInfo

if TYPE_CHECKING:
    from enrollpay.gateways.fake.gateway import FakeGateway

__all__ = ["cancel_subscription", "create_invoice", "create_subscription"]


def create_subscription(
    self: FakeGateway,
    *,
    customer_id: str,
    price_id: str,
    idempotency_key: str,
    metadata: Mapping[str, str] | None = None,
    trial_days: int = 0,
    default_payment_method: str | None = None,
) -> SubscriptionInfo:
    """Subscribe a customer to a price (``price_...``), once per key.

    The subscription starts ``incomplete`` (``trialing`` with a trial)
    and emits ``customer.subscription.created``.
    """
    return self.billing.create_subscription(
        customer_id=customer_id,
        price_id=price_id,
        idempotency_key=idempotency_key,
        metadata=metadata,
        trial_days=trial_days,
        default_payment_method=default_payment_method,
    )


def cancel_subscription(
    self: FakeGateway, subscription_id: str, *, idempotency_key: str
) -> SubscriptionInfo:
    """Cancel a subscription now (emits ``customer.subscription.deleted``)."""
    return self.billing.cancel_subscription(subscription_id, idempotency_key=idempotency_key)


def create_invoice(
    self: FakeGateway,
    *,
    customer_id: str,
    amount: Money,
    idempotency_key: str,
    description: str = "",
    metadata: Mapping[str, str] | None = None,
    collection_method: CollectionMethod = "charge_automatically",
    days_until_due: int | None = None,
) -> InvoiceInfo:
    """Create a draft invoice of one line for ``amount``, once per key."""
    return self.billing.create_invoice(
        customer_id=customer_id,
        amount=amount,
        idempotency_key=idempotency_key,
        description=description,
        metadata=metadata,
        collection_method=collection_method,
        days_until_due=days_until_due,
    )
