"""Gateway contract of per-item invoices, on the fake and on StripeGateway over HTTP.

The same scenarios run on both (the ``side`` fixture of the gateway
contract): an invoice issued and paid once per key, a declined one left
open and paid again, and the refusals.
"""

from __future__ import annotations

import pytest

from enrollpay.errors import GatewayRequestError
from enrollpay.ports import InvoiceCharge, ItemInvoiceGateway

from .test_gateway_contract import USD10, Side, clock, side  # noqa: F401 - fixtures

KEY = "item:itm_1:attempt:1"
META = {"enrollment_id": "enr_1", "item_id": "itm_1", "attempt_id": "att_1"}


def invoicer(side: Side) -> ItemInvoiceGateway:  # noqa: F811
    """The side's gateway as the capability the service asks for."""
    assert isinstance(side.gateway, ItemInvoiceGateway)
    return side.gateway


def invoice(side: Side, customer: str, key: str = KEY) -> InvoiceCharge:  # noqa: F811
    """Invoice 10.00 to the customer's saved card under ``key``."""
    return invoicer(side).invoice_item(customer_id=customer, payment_method_id="pm_card_visa",
                                       amount=USD10, idempotency_key=key,
                                       description="Installment 2", metadata=META)  # fmt: skip


def test_an_item_invoice_is_issued_and_paid_once_per_key(side: Side) -> None:  # noqa: F811
    """Paid, with its payment and page; the same key answers the same invoice, no new money."""
    customer = side.customer_with_card("u-1")

    made = invoice(side, customer)
    again = invoice(side, customer)

    assert (made.status, made.result.status, made.result.amount) == ("paid", "succeeded", USD10)
    assert made.payment_intent_id is not None
    assert made.result.gateway_payment_id == made.payment_intent_id
    assert made.hosted_invoice_url
    assert made.hosted_invoice_url not in repr(made)
    assert (again.invoice_id, again.payment_intent_id, again.status) == (
        made.invoice_id,
        made.payment_intent_id,
        "paid",
    )
    assert side.money_moved() == 1
    other = invoice(side, customer, key="item:itm_1:attempt:9")
    assert other.invoice_id != made.invoice_id


def test_a_declined_invoice_stays_open_and_is_paid_again(side: Side) -> None:  # noqa: F811
    """A decline is a failed result on an open invoice; pay_invoice collects it later."""
    customer = side.customer_with_card("u-1")
    side.script_decline("insufficient_funds")

    declined = invoice(side, customer)

    assert (declined.status, declined.result.status) == ("open", "failed")
    assert declined.result.decline_code == "insufficient_funds"
    assert declined.payment_intent_id is not None
    assert side.money_moved() == 0
    paid = invoicer(side).pay_invoice(declined.invoice_id, payment_method_id="pm_card_visa",
                                      idempotency_key=f"{KEY}:retry")  # fmt: skip
    assert (paid.invoice_id, paid.status, paid.result.status) == (
        declined.invoice_id,
        "paid",
        "succeeded",
    )
    assert side.money_moved() == 1
    settled = invoicer(side).pay_invoice(declined.invoice_id, payment_method_id="pm_card_visa",
                                         idempotency_key=f"{KEY}:late")  # fmt: skip
    assert (settled.status, settled.result.status) == ("paid", "succeeded")
    assert side.money_moved() == 1


def test_unknown_customers_and_invoices_are_refused(side: Side) -> None:  # noqa: F811
    """A request error, nothing made."""
    with pytest.raises(GatewayRequestError):
        invoice(side, "cus_nobody")
    with pytest.raises(GatewayRequestError):
        invoicer(side).pay_invoice("in_nothing", payment_method_id="pm_card_visa",
                                   idempotency_key="pay:x")  # fmt: skip
    assert side.money_moved() == 0
