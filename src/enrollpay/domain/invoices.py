"""Per-item invoices: the event that tells the host app where an item's invoice is.

With ``installment_collection="invoice"`` an item is collected as a gateway
invoice. :func:`invoiced_event` is ``installment.invoiced``, emitted in the
transaction that first links the item to its invoice.
"""

from __future__ import annotations

from datetime import datetime

from enrollpay.domain.events import EventDraft
from enrollpay.domain.records import ScheduleItem
from enrollpay.domain.transitions.items import money_data

__all__ = ["invoiced_event"]


def invoiced_event(
    item: ScheduleItem,
    *,
    attempt_id: str,
    invoice_id: str,
    payment_intent_id: str | None,
    hosted_invoice_url: str | None,
    at: datetime,
) -> EventDraft:
    """``installment.invoiced``: the item, its invoice, the invoice's payment and page."""
    return EventDraft(
        "installment.invoiced",
        item.enrollment_id,
        at,
        {
            "item_id": item.id,
            "attempt_id": attempt_id,
            "invoice_id": invoice_id,
            "payment_intent_id": payment_intent_id,
            "hosted_invoice_url": hosted_invoice_url,
            "amount": money_data(item.amount),
        },
    )
