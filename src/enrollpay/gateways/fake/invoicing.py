"""The fake's per-item invoices: an invoice of one line, finalised and charged at once.

The :class:`~enrollpay.ports.ItemInvoiceGateway` verbs of
:class:`~enrollpay.gateways.fake.FakeGateway`, attached to it by name (they
take the gateway as ``self``). An invoice is issued, finalised
(``invoice.finalized``) and paid through the fake's own off-session charge,
so the payment follows the same scripts (``fake.script(...)``, a card's
own script) and emits the same ``payment_intent.*`` events; then
``invoice.paid`` or ``invoice.payment_failed``. Unlike Stripe, which
confirms one PaymentIntent again on each try, each try here is a new
payment: the library handles both.

Each verb is once per idempotency key (the invoice, and each payment
try, derive their keys from it) and is logged and scriptable under its
own name (``invoice_item``, ``pay_invoice``: a timeout before or after,
a rate limit).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from enrollpay.domain.money import Money
from enrollpay.errors import GatewayRequestError, GatewayUnavailableError
from enrollpay.ports import ChargeResult, InvoiceCharge, InvoiceStatus

if TYPE_CHECKING:
    from enrollpay.gateways.fake.gateway import FakeGateway

__all__ = ["invoice_item", "pay_invoice"]

#: Where the fake's invoices "live" (no server answers there).
HOSTED_BASE = "https://invoice.fake.invalid/i/"


def invoice_item(
    self: FakeGateway,
    *,
    customer_id: str,
    payment_method_id: str,
    amount: Money,
    idempotency_key: str,
    description: str,
    metadata: Mapping[str, str],
    due_date: date | None = None,
) -> InvoiceCharge:
    """Issue, finalise and charge an invoice of one line for ``amount``, once per key."""
    with self._lock:
        outcome = self._enter("invoice_item", customer_id=customer_id, amount=amount,
                              idempotency_key=idempotency_key, metadata=dict(metadata),
                              due_date=due_date)  # fmt: skip
        invoice = self.item_invoices.get(self._invoice_keys.get(idempotency_key, ""))
        if invoice is None:
            self._payments.check_customer(customer_id)
            granularity = self.amount_granularity(amount.currency)
            if amount.minor % granularity:
                raise GatewayRequestError(
                    f"amounts in {amount.currency} must be multiples of {granularity}",
                    param="amount",
                )
            invoice_id = self._ids.new("in")
            invoice = {"id": invoice_id, "object": "invoice", "customer": customer_id,
                       "currency": amount.currency.lower(), "amount_due": amount.minor,
                       "amount_paid": 0, "attempt_count": 0, "status": "open",
                       "collection_method": "charge_automatically", "auto_advance": False,
                       "description": description, "metadata": dict(metadata),
                       "due_date": None if due_date is None else due_date.isoformat(),
                       "hosted_invoice_url": HOSTED_BASE + invoice_id,
                       "payment_intent": None, "lines": {"object": "list", "data": []}}  # fmt: skip
            self.item_invoices[invoice_id] = invoice
            self._invoice_keys[idempotency_key] = invoice_id
            self._emit("invoice.finalized", invoice)
    answer = _pay(self, invoice, payment_method_id, f"{idempotency_key}:pay")
    if outcome.kind == "timeout_after":
        raise GatewayUnavailableError("timeout after the invoice was made")
    return answer


def pay_invoice(
    self: FakeGateway, invoice_id: str, *, payment_method_id: str, idempotency_key: str
) -> InvoiceCharge:
    """Try to collect an open invoice again; a paid one is answered as it is."""
    with self._lock:
        outcome = self._enter("pay_invoice", invoice_id=invoice_id,
                              payment_method_id=payment_method_id,
                              idempotency_key=idempotency_key)  # fmt: skip
        invoice = self.item_invoices.get(invoice_id)
        if invoice is None:
            raise GatewayRequestError("No such invoice", param="invoice")
    answer = _pay(self, invoice, payment_method_id, idempotency_key)
    if outcome.kind == "timeout_after":
        raise GatewayUnavailableError("timeout after the invoice was paid")
    return answer


def _pay(
    self: FakeGateway, invoice: dict[str, Any], payment_method_id: str, key: str
) -> InvoiceCharge:
    """Charge the invoice once per ``key`` (the fake's off-session charge), then report it."""
    currency = str(invoice["currency"]).upper()
    amount = Money(int(invoice["amount_due"]), currency)
    if invoice["status"] == "paid" and key not in self._invoice_payments:
        intent_id = str(invoice["payment_intent"])
        paid = ChargeResult("succeeded", intent_id, amount, payment_method_id=payment_method_id,
                            customer_id=str(invoice["customer"]))  # fmt: skip
        return _charge_of(invoice, paid)
    result = self._payments.charge_off_session(
        customer_id=str(invoice["customer"]),
        payment_method_id=payment_method_id,
        amount=amount,
        idempotency_key=key,
        metadata={"invoice": str(invoice["id"])},
    )
    with self._lock:
        if key not in self._invoice_payments:
            self._invoice_payments.add(key)
            invoice["attempt_count"] += 1
            invoice["payment_intent"] = result.gateway_payment_id
            if result.status == "succeeded":
                invoice.update(status="paid", amount_paid=invoice["amount_due"])
                self._emit("invoice.paid", invoice)
            elif result.status == "failed":
                invoice["last_finalization_error"] = {
                    "code": "card_declined",
                    "decline_code": result.decline_code,
                    "message": result.message,
                }
                self._emit("invoice.payment_failed", invoice)
    return _charge_of(invoice, result)


def _charge_of(invoice: Mapping[str, Any], result: ChargeResult) -> InvoiceCharge:
    status: InvoiceStatus = "paid" if invoice["status"] == "paid" else "open"
    return InvoiceCharge(invoice_id=str(invoice["id"]), payment_intent_id=result.gateway_payment_id,
                         status=status, result=result,
                         hosted_invoice_url=str(invoice["hosted_invoice_url"]))  # fmt: skip
