"""The per-item invoice verbs of a gateway, found through a throttled wrapper too.

:class:`~enrollpay.gateways.ratelimit.ThrottledGateway` forwards the
capabilities it was built with; :func:`item_invoices` gives the
:class:`~enrollpay.ports.ItemInvoiceGateway` verbs of a gateway, or of the
gateway a throttled wrapper wraps (each request then waits for a token of
the wrapper's bucket, as the wrapper's own verbs do).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from enrollpay.domain.money import Money
from enrollpay.gateways.ratelimit import ThrottledGateway, TokenBucket
from enrollpay.ports import Gateway, InvoiceCharge, ItemInvoiceGateway

__all__ = ["ThrottledItemInvoices", "item_invoices"]


class ThrottledItemInvoices:
    """The :class:`~enrollpay.ports.ItemInvoiceGateway` verbs of ``inner``, a token each."""

    def __init__(self, inner: ItemInvoiceGateway, bucket: TokenBucket) -> None:
        self.inner = inner
        self.bucket = bucket

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
        """Throttled :meth:`~enrollpay.ports.ItemInvoiceGateway.invoice_item`."""
        self.bucket.acquire()
        return self.inner.invoice_item(
            customer_id=customer_id,
            payment_method_id=payment_method_id,
            amount=amount,
            idempotency_key=idempotency_key,
            description=description,
            metadata=metadata,
            due_date=due_date,
        )

    def pay_invoice(
        self, invoice_id: str, *, payment_method_id: str, idempotency_key: str
    ) -> InvoiceCharge:
        """Throttled :meth:`~enrollpay.ports.ItemInvoiceGateway.pay_invoice`."""
        self.bucket.acquire()
        return self.inner.pay_invoice(
            invoice_id, payment_method_id=payment_method_id, idempotency_key=idempotency_key
        )


def item_invoices(gateway: Gateway) -> ItemInvoiceGateway | None:
    """``gateway``'s per-item invoice verbs (through a throttled wrapper too), or None."""
    if isinstance(gateway, ItemInvoiceGateway):
        return gateway
    if isinstance(gateway, ThrottledGateway) and isinstance(gateway.inner, ItemInvoiceGateway):
        return ThrottledItemInvoices(gateway.inner, gateway.bucket)
    return None
