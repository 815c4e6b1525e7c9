"""Per-item invoices: an installment collected as a gateway invoice the student can open.

An optional gateway capability beside :class:`~enrollpay.ports.Gateway`
(checked with ``isinstance``, like the billing ones): the gateway issues
an invoice of one line for an item, finalises it and charges the
customer's saved payment method at once; the invoice has a page where the
student sees it and, if the charge is declined, pays it themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Literal, Protocol, runtime_checkable

import attrs

from enrollpay.domain.money import Money
from enrollpay.ports.gateway import ChargeResult

__all__ = ["InvoiceCharge", "InvoiceStatus", "ItemInvoiceGateway"]

#: An invoice's state as Stripe names it.
InvoiceStatus = Literal["draft", "open", "paid", "uncollectible", "void"]


@attrs.frozen
class InvoiceCharge:
    """An item's invoice and what its payment did.

    ``result`` is the payment's outcome as for a direct charge (its
    ``gateway_payment_id`` is the invoice's payment, ``payment_intent_id``
    here); ``payment_intent_id`` is None while the invoice has no payment
    (a draft). ``hosted_invoice_url`` is the invoice's page: a bearer link,
    kept out of ``repr`` and logs.
    """

    invoice_id: str
    payment_intent_id: str | None
    status: InvoiceStatus
    result: ChargeResult
    hosted_invoice_url: str | None = attrs.field(default=None, repr=False)


@runtime_checkable
class ItemInvoiceGateway(Protocol):
    """A gateway that collects one item as one invoice (Stripe Billing, the fake).

    Both verbs move money, so both take an idempotency key: calling again
    with the same key makes no second invoice and no second charge.
    """

    def invoice_item(
        self,
        *,
        customer_id: str,
        payment_method_id: str,
        amount: Money,
        idempotency_key: str,
        description: str,
        metadata: Mapping[str, str],
        due_date: date | None = None,
    ) -> InvoiceCharge:
        """Issue an invoice of one line for ``amount``, finalise it and charge it off-session.

        ``payment_method_id`` is the saved method the invoice charges;
        ``metadata`` is stored on the invoice (it names the item and the
        attempt, so that webhooks find them). A declined charge is a
        ``failed`` :attr:`InvoiceCharge.result`; the invoice stays open
        for the student to pay on its page.
        """
        ...

    def pay_invoice(
        self, invoice_id: str, *, payment_method_id: str, idempotency_key: str
    ) -> InvoiceCharge:
        """Try to collect an open invoice again (a retry), off-session.

        An invoice paid meanwhile (the student paid on its page) comes
        back ``paid`` with a ``succeeded`` result.
        """
        ...
