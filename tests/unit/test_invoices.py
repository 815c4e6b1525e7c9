"""``installment.invoiced``: the event that tells where an item's invoice is."""

from __future__ import annotations

from datetime import UTC, date, datetime

from enrollpay.domain.events import EVENT_KINDS
from enrollpay.domain.invoices import invoiced_event
from enrollpay.domain.lifecycle import ItemStatus
from enrollpay.domain.money import Money
from enrollpay.domain.records import ScheduleItem

AT = datetime(2027, 2, 4, 9, tzinfo=UTC)


def test_the_event_names_the_item_its_invoice_payment_and_page() -> None:
    """Kind, enrollment, time and data as the catalogue describes them."""
    item = ScheduleItem(id="itm_2", enrollment_id="enr_1", seq=2, kind="installment",
                        due=date(2027, 2, 4), amount=Money.of("100.00", "EUR"),
                        status=ItemStatus.PROCESSING, amount_paid=Money.of("0", "EUR"))  # fmt: skip

    event = invoiced_event(item, attempt_id="att_3", invoice_id="in_1", payment_intent_id=None,
                           hosted_invoice_url="https://pay.example/i/1", at=AT)  # fmt: skip

    assert "installment.invoiced" in EVENT_KINDS
    assert (event.kind, event.enrollment_id, event.at) == ("installment.invoiced", "enr_1", AT)
    assert dict(event.data) == {
        "item_id": "itm_2",
        "attempt_id": "att_3",
        "invoice_id": "in_1",
        "payment_intent_id": None,
        "hosted_invoice_url": "https://pay.example/i/1",
        "amount": {"minor": 10000, "currency": "EUR"},
    }
