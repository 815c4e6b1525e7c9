"""The fake's billing: subscriptions and invoices, as Stripe Billing answers them.

These verbs make :class:`~enrollpay.gateways.fake.FakeGateway` a
:class:`~enrollpay.ports.SubscriptionGateway` and an
:class:`~enrollpay.ports.InvoiceGateway`, like the Stripe adapter. Each is
idempotent by key and scriptable like the payment verbs (a timeout before
or after the gateway acted, a rate limit). A subscription starts
``incomplete`` (``trialing`` with a trial) and emits
``customer.subscription.created``; cancelling emits
``customer.subscription.deleted``. Invoices are created as drafts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, Literal

from enrollpay.domain.money import Money
from enrollpay.errors import GatewayRequestError, GatewayUnavailableError, InvalidInputError
from enrollpay.gateways.fake.scripts import Outcome
from enrollpay.ports import InvoiceInfo, SubscriptionInfo

__all__ = ["FakeBilling"]

CollectionMethod = Literal["charge_automatically", "send_invoice"]


class FakeBilling:
    """Subscriptions and invoices inside the fake, behind the fake's call log and scripts.

    ``enter`` records a call and returns its scripted outcome (raising for
    a timeout before the call or a rate limit); ``emit`` creates a webhook
    event; ``knows_customer`` and ``granularity`` are the fake's own rules.
    """

    def __init__(
        self,
        *,
        lock: threading.RLock,
        enter: Callable[..., Outcome],
        new_id: Callable[[str], str],
        emit: Callable[[str, Mapping[str, Any]], None],
        knows_customer: Callable[[str], bool],
        granularity: Callable[[str], int],
    ) -> None:
        self._lock = lock
        self._enter = enter
        self._new_id = new_id
        self._emit = emit
        self._knows_customer = knows_customer
        self._granularity = granularity
        self._memo: dict[tuple[str, str], Any] = {}
        #: Subscriptions by id, as Stripe's ``subscription`` objects.
        self.subscriptions: dict[str, dict[str, Any]] = {}
        #: Invoices by id.
        self.invoices: dict[str, InvoiceInfo] = {}

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
        """Subscribe a customer to a price (``price_...``), once per key."""
        if isinstance(trial_days, bool) or not isinstance(trial_days, int) or trial_days < 0:
            raise InvalidInputError(f"trial_days must be an int >= 0, got {trial_days!r}")
        with self._lock:
            outcome = self._enter("create_subscription", customer_id=customer_id,
                                  price_id=price_id, idempotency_key=idempotency_key,
                                  trial_days=trial_days)  # fmt: skip
            made: SubscriptionInfo | None = self._memo.get(("subscribe", idempotency_key))
            if made is None:
                self._check_customer(customer_id)
                if not price_id.startswith("price_"):
                    raise GatewayRequestError("No such price", param="items[0][price]")
                made = self._subscribe(customer_id, price_id, metadata or {}, trial_days,
                                       default_payment_method)  # fmt: skip
                self._memo[("subscribe", idempotency_key)] = made
        if outcome.kind == "timeout_after":
            raise GatewayUnavailableError("timeout after the subscription was made")
        return made

    def _subscribe(
        self,
        customer_id: str,
        price_id: str,
        metadata: Mapping[str, str],
        trial_days: int,
        default_payment_method: str | None,
    ) -> SubscriptionInfo:
        # Stripe confirms the first invoice's payment, or with a trial saves a card first.
        secret = f"{self._new_id('seti' if trial_days else 'in')}_secret"
        subscription_id = self._new_id("sub")
        subscription: dict[str, Any] = {
            "id": subscription_id,
            "object": "subscription",
            "customer": customer_id,
            "status": "trialing" if trial_days else "incomplete",
            "metadata": dict(metadata),
            "items": {"object": "list", "data": [{"price": {"id": price_id}}]},
            "default_payment_method": default_payment_method,
        }
        self.subscriptions[subscription_id] = subscription
        self._emit("customer.subscription.created", subscription)
        return _info(subscription, client_secret=secret)

    def cancel_subscription(
        self, subscription_id: str, *, idempotency_key: str
    ) -> SubscriptionInfo:
        """Cancel a subscription now; an unknown one is refused, a cancelled one stays so."""
        with self._lock:
            outcome = self._enter("cancel_subscription", subscription_id=subscription_id,
                                  idempotency_key=idempotency_key)  # fmt: skip
            made: SubscriptionInfo | None = self._memo.get(("cancel", idempotency_key))
            if made is None:
                subscription = self.subscriptions.get(subscription_id)
                if subscription is None:
                    raise GatewayRequestError("No such subscription", param="id")
                if subscription["status"] != "canceled":
                    subscription["status"] = "canceled"
                    self._emit("customer.subscription.deleted", subscription)
                made = _info(subscription, client_secret=None)
                self._memo[("cancel", idempotency_key)] = made
        if outcome.kind == "timeout_after":
            raise GatewayUnavailableError("timeout after the subscription was cancelled")
        return made

    def create_invoice(
        self,
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
        if collection_method not in ("charge_automatically", "send_invoice"):
            raise InvalidInputError(f"unknown collection_method {collection_method!r}")
        with self._lock:
            outcome = self._enter("create_invoice", customer_id=customer_id, amount=amount,
                                  idempotency_key=idempotency_key,
                                  collection_method=collection_method)  # fmt: skip
            made: InvoiceInfo | None = self._memo.get(("invoice", idempotency_key))
            if made is None:
                self._check_customer(customer_id)
                granularity = self._granularity(amount.currency)
                if amount.minor % granularity:
                    raise GatewayRequestError(
                        f"amounts in {amount.currency} must be multiples of {granularity}",
                        param="amount",
                    )
                made = InvoiceInfo(self._new_id("in"), "draft", customer_id, amount,
                                   collection_method)  # fmt: skip
                self.invoices[made.invoice_id] = made
                self._memo[("invoice", idempotency_key)] = made
        if outcome.kind == "timeout_after":
            raise GatewayUnavailableError("timeout after the invoice was made")
        return made

    def _check_customer(self, customer_id: str) -> None:
        if not self._knows_customer(customer_id):
            raise GatewayRequestError("No such customer", param="customer")


def _info(subscription: Mapping[str, Any], *, client_secret: str | None) -> SubscriptionInfo:
    return SubscriptionInfo(subscription_id=str(subscription["id"]),
                            status=str(subscription["status"]),
                            customer_id=str(subscription["customer"]),
                            client_secret=client_secret)  # fmt: skip
