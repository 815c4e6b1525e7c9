"""Per-item invoices on Stripe Billing: an invoice of one line, finalised and paid off-session.

The :class:`~enrollpay.ports.ItemInvoiceGateway` verbs of
:class:`~enrollpay.gateways.stripe.StripeGateway`, attached to it by name
(they take the gateway as ``self``). :func:`invoice_item` makes four
requests, each under a key derived from the caller's, so that calling
again with the same key makes no second invoice, line or charge:

1. ``POST /v1/invoices`` (``{key}:invoice``): a draft for the customer,
   ``collection_method=charge_automatically``, ``auto_advance=false`` (the
   library decides when it is paid and retried, not Stripe's schedule),
   ``pending_invoice_items_behavior=exclude`` (no other pending item joins
   it), the saved card as ``default_payment_method``, and the metadata;
2. ``POST /v1/invoiceitems`` (``{key}:line``): its one line, attached with
   ``invoice=``;
3. ``POST /v1/invoices/{id}/finalize`` (``{key}:finalize``): it gets its
   number, its hosted page and its PaymentIntent;
4. ``POST /v1/invoices/{id}/pay`` (``{key}:pay``), ``off_session=true``.

:func:`pay_invoice` is step 4 alone, for a retry. Since API version
2025-03-31 (the SDK pins a later one) an invoice names its PaymentIntent
under ``payments`` (an includable list, asked for with ``expand``),
read by :func:`~enrollpay.gateways.events.invoice_payment_intent`. A
declined payment is a 402 card error: it is read as a declined result
and the invoice is looked up for its payment and page.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

import attrs
import stripe
from stripe.params import InvoiceCreateParams, InvoiceItemCreateParams

from enrollpay.domain.money import Money
from enrollpay.gateways.events import invoice_payment_intent
from enrollpay.gateways.stripe.answers import declined, id_of, plain, response_money
from enrollpay.gateways.stripe.calls import StripeCalls
from enrollpay.gateways.stripe.errors import translate
from enrollpay.gateways.stripe.params import check_key, metadata
from enrollpay.ports import ChargeResult, InvoiceCharge, InvoiceStatus

if TYPE_CHECKING:
    from enrollpay.gateways.stripe.gateway import StripeGateway

__all__ = ["invoice_item", "pay_invoice"]

#: The invoice's payments are an includable list: expanded on every answer read.
_EXPAND = ["payments"]
_STATUSES: frozenset[str] = frozenset({"draft", "open", "paid", "uncollectible", "void"})


def invoice_item(
    self: StripeGateway,
    *,
    customer_id: str,
    payment_method_id: str,
    amount: Money,
    idempotency_key: str,
    description: str,
    metadata: Mapping[str, str],
    due_date: date | None = None,
) -> InvoiceCharge:
    """Issue an invoice of one line for ``amount``, finalise it and pay it off-session.

    ``due_date`` is not sent: Stripe keeps none on an invoice it charges
    automatically (its page shows when it was issued).
    """
    calls = self._calls
    key = check_key(idempotency_key)
    stripe_amount = calls.amount(amount)
    currency = amount.currency.lower()
    meta = _metadata(metadata)
    params: InvoiceCreateParams = {
        "customer": customer_id,
        "currency": currency,
        "collection_method": "charge_automatically",
        "auto_advance": False,
        "pending_invoice_items_behavior": "exclude",
        "default_payment_method": payment_method_id,
        "metadata": meta,
    }
    if description:
        params["description"] = description
    draft = calls.call("create an invoice", calls.client.v1.invoices.create, params=params,
                       options=calls.options(f"{key}:invoice"))  # fmt: skip
    invoice_id = calls.read("create an invoice", lambda: str(plain(draft)["id"]))
    line: InvoiceItemCreateParams = {"customer": customer_id, "invoice": invoice_id,
                                     "amount": stripe_amount, "currency": currency,
                                     "metadata": meta}  # fmt: skip
    if description:
        line["description"] = description
    calls.call("add an invoice line", calls.client.v1.invoice_items.create, params=line,
               options=calls.options(f"{key}:line"))  # fmt: skip
    calls.call("finalize an invoice", calls.client.v1.invoices.finalize_invoice, invoice_id,
               params={"auto_advance": False, "expand": _EXPAND},
               options=calls.options(f"{key}:finalize"))  # fmt: skip
    return _pay(calls, invoice_id, payment_method_id, f"{key}:pay", amount)


def pay_invoice(
    self: StripeGateway, invoice_id: str, *, payment_method_id: str, idempotency_key: str
) -> InvoiceCharge:
    """Pay an open invoice again, off-session (a retry); a paid one is answered as it is."""
    return _pay(self._calls, invoice_id, payment_method_id, check_key(idempotency_key), None)


def _pay(
    calls: StripeCalls, invoice_id: str, payment_method_id: str, key: str, amount: Money | None
) -> InvoiceCharge:
    action = "pay an invoice"
    try:
        invoice = calls.client.v1.invoices.pay(
            invoice_id,
            params={
                "off_session": True,
                "payment_method": payment_method_id,
                "expand": _EXPAND,
            },
            options=calls.options(key),
        )
    except stripe.CardError as exc:
        error = exc
        data = _retrieve(calls, invoice_id)
        return calls.read(action, lambda: _declined(data, error, amount))
    except stripe.InvalidRequestError as exc:
        # Stripe refuses to pay an invoice that is paid already (the student paid on its page).
        data = _retrieve(calls, invoice_id)
        if data.get("status") != "paid":
            raise translate(exc, action) from exc
        return calls.read(action, lambda: _charge(data, payment_method_id))
    except stripe.StripeError as exc:
        raise translate(exc, action) from exc
    return calls.read(action, lambda: _charge(plain(invoice), payment_method_id))


def _retrieve(calls: StripeCalls, invoice_id: str) -> dict[str, Any]:
    found = calls.call("look up an invoice", calls.client.v1.invoices.retrieve, invoice_id,
                       params={"expand": _EXPAND}, options=calls.options())  # fmt: skip
    return calls.read("look up an invoice", lambda: plain(found))


def _charge(data: Mapping[str, Any], payment_method_id: str) -> InvoiceCharge:
    """A paid (or still open, settling) invoice as the port's value."""
    intent = invoice_payment_intent(data)
    paid = data["status"] == "paid"
    amount = response_money(data["amount_paid"] if paid else data["amount_due"], data["currency"])
    result = ChargeResult("succeeded" if paid else "processing", intent, amount,
                          payment_method_id=payment_method_id,
                          customer_id=id_of(data.get("customer")),
                          settles_later=not paid)  # fmt: skip
    return _answer(data, intent, result)


def _declined(
    data: Mapping[str, Any], error: stripe.CardError, amount: Money | None
) -> InvoiceCharge:
    intent = invoice_payment_intent(data)
    due = amount or response_money(data["amount_due"], data["currency"])
    result = declined(error, due)
    if result.gateway_payment_id is None:
        result = attrs.evolve(result, gateway_payment_id=intent)
    return _answer(data, intent or result.gateway_payment_id, result)


def _answer(data: Mapping[str, Any], intent: str | None, result: ChargeResult) -> InvoiceCharge:
    status = str(data["status"])
    if status not in _STATUSES:
        raise ValueError(f"unknown invoice status {status!r}")
    checked: InvoiceStatus = status  # type: ignore[assignment]
    page = data.get("hosted_invoice_url")
    url = None if page is None else str(page)
    return InvoiceCharge(invoice_id=str(data["id"]), payment_intent_id=intent, status=checked,
                         result=result, hosted_invoice_url=url)  # fmt: skip


def _metadata(values: Mapping[str, str]) -> dict[str, str]:
    return metadata(values, None)
