"""The fake's billing: subscriptions and invoices, as Stripe Billing answers them.

These verbs make :class:`~enrollpay.gateways.fake.FakeGateway` a
:class:`~enrollpay.ports.SubscriptionGateway` and an
:class:`~enrollpay.ports.InvoiceGateway`, like the Stripe adapter. Each is
idempotent by key and scriptable like the payment verbs (a timeout before
or after the gateway acted, a rate limit). A subscription starts
``incomplete`` (``trialing`` with a trial) and emits
``customer.subscription.created``; cancelling emits
``customer.subscription.deleted``. Invoices are created as drafts. Tests
play the gateway's own moves: :meth:`FakeBilling.update_subscription`
(a renewal, a status change) and :meth:`FakeBilling.bill_subscription`
(an invoice paid or declined, and its retries).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

from dateutil.relativedelta import relativedelta

from enrollpay.domain.money import Money
from enrollpay.errors import GatewayRequestError, GatewayUnavailableError, InvalidInputError
from enrollpay.gateways.fake.scripts import Outcome
from enrollpay.ports import Clock, InvoiceInfo, SubscriptionInfo

__all__ = ["FakeBilling"]

CollectionMethod = Literal["charge_automatically", "send_invoice"]
_Made = TypeVar("_Made")


class FakeBilling:
    """Subscriptions and invoices inside the fake, behind the fake's call log and scripts.

    ``enter`` records a call and returns its scripted outcome (raising for
    a timeout before the call or a rate limit); ``emit`` creates a webhook
    event; ``check_customer`` (refuses an unknown customer) and
    ``granularity`` are the fake's own rules.
    """

    def __init__(
        self,
        *,
        lock: threading.RLock,
        enter: Callable[..., Outcome],
        new_id: Callable[[str], str],
        emit: Callable[[str, Mapping[str, Any]], None],
        check_customer: Callable[[str], None],
        granularity: Callable[[str], int],
        clock: Clock,
    ) -> None:
        self._lock = lock
        self._enter = enter
        self._new_id = new_id
        self._emit = emit
        self._check_customer = check_customer
        self._granularity = granularity
        self._clock = clock
        #: What each verb made, by its idempotency key.
        self._memo: dict[tuple[str, str], Any] = {}
        #: Subscriptions by id, as Stripe's ``subscription`` objects.
        self.subscriptions: dict[str, dict[str, Any]] = {}
        #: Invoices by id.
        self.invoices: dict[str, InvoiceInfo] = {}
        #: The invoices subscriptions billed, by id, as Stripe's ``invoice`` objects.
        self._sub_invoices: dict[str, dict[str, Any]] = {}

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

        def make() -> SubscriptionInfo:
            self._check_customer(customer_id)
            if not price_id.startswith("price_"):
                raise GatewayRequestError("No such price", param="items[0][price]")
            return self._subscribe(customer_id, price_id, metadata or {}, trial_days,
                                   default_payment_method)  # fmt: skip

        return self._once("create_subscription", "the subscription was made", make,
                          customer_id=customer_id, price_id=price_id,
                          idempotency_key=idempotency_key, trial_days=trial_days)  # fmt: skip

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
        now = self._clock.now()
        trial_end = _stamp(now + timedelta(days=trial_days)) if trial_days else None
        subscription: dict[str, Any] = {
            "id": subscription_id,
            "object": "subscription",
            "customer": customer_id,
            "status": "trialing" if trial_days else "incomplete",
            "metadata": dict(metadata),
            "items": {"object": "list", "data": [{"price": {"id": price_id}}]},
            "default_payment_method": default_payment_method,
            "cancel_at_period_end": False,
            "trial_end": trial_end,
            "current_period_start": _stamp(now),
            "current_period_end": trial_end or _stamp(now + _PERIOD),
        }
        self.subscriptions[subscription_id] = subscription
        self._emit("customer.subscription.created", subscription)
        return _info(subscription, client_secret=secret)

    def cancel_subscription(
        self, subscription_id: str, *, idempotency_key: str
    ) -> SubscriptionInfo:
        """Cancel a subscription now; an unknown one is refused, a cancelled one stays so."""

        def make() -> SubscriptionInfo:
            subscription = self.subscriptions.get(subscription_id)
            if subscription is None:
                raise GatewayRequestError("No such subscription", param="id")
            if subscription["status"] != "canceled":
                subscription.update(status="canceled", ended_at=_stamp(self._clock.now()))
                self._emit("customer.subscription.deleted", subscription)
            return _info(subscription, client_secret=None)

        return self._once("cancel_subscription", "the subscription was cancelled", make,
                          subscription_id=subscription_id,
                          idempotency_key=idempotency_key)  # fmt: skip

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

        def make() -> InvoiceInfo:
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
            return made

        return self._once("create_invoice", "the invoice was made", make,
                          customer_id=customer_id, amount=amount,
                          idempotency_key=idempotency_key,
                          collection_method=collection_method)  # fmt: skip

    # -- what Stripe does on its own, for tests ------------------------------------------

    def update_subscription(
        self,
        subscription_id: str,
        *,
        status: str | None = None,
        cancel_at_period_end: bool | None = None,
        renew: bool = False,
    ) -> dict[str, Any]:
        """Change a subscription as the gateway would, and emit ``customer.subscription.updated``.

        ``renew`` starts the next period (from the current period's end);
        ``status`` and ``cancel_at_period_end`` are set as given.
        """
        with self._lock:
            subscription = self.subscriptions[subscription_id]
            if renew:
                start = datetime.fromtimestamp(int(subscription["current_period_end"]), UTC)
                subscription.update(current_period_start=_stamp(start),
                                    current_period_end=_stamp(start + _PERIOD))  # fmt: skip
            if status is not None:
                subscription["status"] = status
            if cancel_at_period_end is not None:
                subscription["cancel_at_period_end"] = cancel_at_period_end
            self._emit("customer.subscription.updated", subscription)
            return dict(subscription)

    def bill_subscription(
        self,
        subscription_id: str,
        amount: Money,
        *,
        outcome: str = "succeed",
        invoice_id: str | None = None,
    ) -> str:
        """Collect the current period's invoice: ``invoice.paid`` or ``invoice.payment_failed``.

        ``outcome`` is ``succeed`` or a decline code. ``invoice_id`` tries an
        invoice billed before again (its ``attempt_count`` goes up, as
        Stripe's automatic retries do). Returns the invoice's id.
        """
        with self._lock:
            subscription = self.subscriptions[subscription_id]
            invoice = self._sub_invoices.get(invoice_id or "")
            if invoice is None:
                period = {"start": subscription["current_period_start"],
                          "end": subscription["current_period_end"]}  # fmt: skip
                invoice = {"id": self._new_id("in"), "object": "invoice",
                           "customer": subscription["customer"], "subscription": subscription_id,
                           "currency": amount.currency.lower(), "amount_due": amount.minor,
                           "amount_paid": 0, "attempt_count": 0, "metadata": {},
                           "lines": {"object": "list", "data": [{"period": period}]}}  # fmt: skip
                self._sub_invoices[invoice["id"]] = invoice
            invoice["attempt_count"] += 1
            invoice["payment_intent"] = self._new_id("pi")
            if outcome == "succeed":
                invoice.update(status="paid", amount_paid=invoice["amount_due"],
                               last_finalization_error=None)  # fmt: skip
                self._emit("invoice.paid", invoice)
            else:
                error = {"code": "card_declined", "decline_code": outcome,
                         "message": "Your card was declined."}  # fmt: skip
                invoice.update(status="open", last_finalization_error=error)
                self._emit("invoice.payment_failed", invoice)
            return str(invoice["id"])

    def _once(self, verb: str, done: str, make: Callable[[], _Made], **params: Any) -> _Made:
        """Run ``verb`` as the gateway would: logged and scripted, ``make`` once per key.

        A repeated key answers what the first call made; a scripted
        ``timeout_after`` raises after the object was made (``done``).
        """
        key = (verb, str(params["idempotency_key"]))
        with self._lock:
            outcome = self._enter(verb, **params)
            made: _Made | None = self._memo.get(key)
            if made is None:
                made = self._memo[key] = make()
        if outcome.kind == "timeout_after":
            raise GatewayUnavailableError(f"timeout after {done}")
        return made


#: The fake bills every subscription monthly.
_PERIOD = relativedelta(months=1)


def _stamp(moment: datetime) -> int:
    return int(moment.timestamp())


def _info(subscription: Mapping[str, Any], *, client_secret: str | None) -> SubscriptionInfo:
    return SubscriptionInfo(subscription_id=str(subscription["id"]),
                            status=str(subscription["status"]),
                            customer_id=str(subscription["customer"]),
                            client_secret=client_secret)  # fmt: skip
