"""The errors of per-item invoices (apart from :mod:`enrollpay.errors`, near its size limit)."""

from __future__ import annotations

from enrollpay.errors import GatewayNotConfiguredError

__all__ = ["InvoiceCollectionUnsupportedError"]


class InvoiceCollectionUnsupportedError(GatewayNotConfiguredError):
    """``installment_collection="invoice"`` with a gateway that cannot issue item invoices.

    Raised when the :class:`~enrollpay.PaymentSystem` is made, before
    anything is written or charged.
    """
