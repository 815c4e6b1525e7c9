"""Subscriptions billed by the local Stripe stand-in (``FakeStripe`` in :mod:`.stripe_server`).

Shaped as the API version the SDK pins (2025-03-31 and later): a
subscription's billing period is on its items
(``items.data[].current_period_start/end``); an invoice names its
subscription under ``parent.subscription_details`` and its PaymentIntent
in ``payments.data[].payment``, and bills a period per line
(``lines.data[].period``). A test plays Stripe's own moves with
:meth:`StripeBilling.advance_subscription` (a renewal, a status change,
``cancel_at_period_end``) and :meth:`StripeBilling.bill_subscription` (an
invoice paid or declined; a retry raises its ``attempt_count``); each
emits the event Stripe sends with the whole object.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from dateutil.relativedelta import relativedelta

__all__ = ["StripeBilling", "new_subscription"]


def _month_after(stamp: int) -> int:
    return int((datetime.fromtimestamp(stamp, UTC) + relativedelta(months=1)).timestamp())


def new_subscription(
    sub_id: str, customer: str, price: str, *, now: int, trial_days: int, livemode: bool,
    metadata: Mapping[str, Any], latest_invoice: str,
) -> dict[str, Any]:  # fmt: skip
    """A monthly subscription to ``price`` as Stripe creates it (``incomplete``/``trialing``)."""
    trial_end = now + trial_days * 86400 if trial_days else None
    end = trial_end or _month_after(now)
    item = {"id": f"si_{sub_id[4:]}", "object": "subscription_item", "price": {"id": price},
            "current_period_start": now, "current_period_end": end}  # fmt: skip
    return {"id": sub_id, "object": "subscription", "customer": customer,
            "status": "trialing" if trial_days else "incomplete", "metadata": dict(metadata),
            "items": {"object": "list", "data": [item]}, "cancel_at_period_end": False,
            "trial_end": trial_end, "canceled_at": None, "ended_at": None,
            "latest_invoice": latest_invoice, "pending_setup_intent": None,
            "livemode": livemode}  # fmt: skip


class StripeBilling:
    """The billing half of the stand-in; :class:`FakeStripe` provides the rest."""

    lock: threading.RLock
    subscriptions: dict[str, dict[str, Any]]
    invoices: dict[str, dict[str, Any]]
    livemode: bool

    def new_id(self, prefix: str) -> str:  # pragma: no cover - FakeStripe's
        raise NotImplementedError

    def now(self) -> int:  # pragma: no cover - FakeStripe's
        raise NotImplementedError

    def _emit(self, event_type: str, obj: Mapping[str, Any]) -> None:  # pragma: no cover
        raise NotImplementedError

    def advance_subscription(
        self,
        sub_id: str,
        *,
        status: str | None = None,
        renew: bool = False,
        cancel_at_period_end: bool | None = None,
    ) -> dict[str, Any]:
        """Change a subscription as Stripe would; emit ``customer.subscription.updated``.

        ``renew`` starts the next monthly period at the current one's end.
        """
        with self.lock:
            sub = self.subscriptions[sub_id]
            item = sub["items"]["data"][0]
            if renew:
                start = item["current_period_end"]
                item.update(current_period_start=start, current_period_end=_month_after(start))
            if status is not None:
                sub["status"] = status
            if cancel_at_period_end is not None:
                sub["cancel_at_period_end"] = cancel_at_period_end
            self._emit("customer.subscription.updated", sub)
            return dict(sub)

    def bill_subscription(
        self, sub_id: str, amount: int, *, outcome: str = "succeed", invoice_id: str | None = None
    ) -> str:
        """Collect the current period's invoice: ``invoice.paid`` or ``invoice.payment_failed``.

        ``invoice_id`` retries an open invoice (its ``attempt_count`` goes
        up, each try with a new PaymentIntent payment). Returns its id.
        """
        with self.lock:
            sub = self.subscriptions[sub_id]
            invoice = self.invoices.get(invoice_id or "")
            if invoice is None:
                item = sub["items"]["data"][0]
                period = {"start": item["current_period_start"], "end": item["current_period_end"]}
                invoice = {
                    "id": self.new_id("in"), "object": "invoice", "customer": sub["customer"],
                    "currency": "usd", "amount_due": amount, "amount_paid": 0,
                    "amount_remaining": amount, "attempt_count": 0, "status": "open",
                    "billing_reason": "subscription_cycle", "collection_method":
                    "charge_automatically", "metadata": {}, "livemode": self.livemode,
                    "parent": {"type": "subscription_details",
                               "subscription_details": {"subscription": sub_id, "metadata": {}}},
                    "lines": {"object": "list", "data": [
                        {"object": "line_item", "amount": amount, "period": period}]},
                    "payments": {"object": "list", "data": []},
                    "hosted_invoice_url": None, "created": self.now(),
                }  # fmt: skip
                self.invoices[invoice["id"]] = invoice
            invoice["attempt_count"] += 1
            payment = {"type": "payment_intent", "payment_intent": self.new_id("pi")}
            for earlier in invoice["payments"]["data"]:
                earlier["is_default"] = False  # the newest try is the default payment
            invoice["payments"]["data"].append(
                {"object": "invoice_payment", "payment": payment, "is_default": True,
                 "status": "paid" if outcome == "succeed" else "open"}
            )  # fmt: skip
            sub["latest_invoice"] = invoice["id"]
            if outcome == "succeed":
                invoice.update(status="paid", amount_paid=invoice["amount_due"], amount_remaining=0)
                self._emit("invoice.paid", invoice)
            else:
                self._emit("invoice.payment_failed", invoice)
            return str(invoice["id"])
