"""What each kind of notification says, as template values written for the recipient.

One function per notification kind takes the event, its enrollment and the
system (read through its public facade) and returns that kind's own values
(:attr:`~enrollpay.notifications.kinds.NotificationKind.values`, the
update-card link aside: the handler adds it), already written for the
recipient: money with babel's ``format_currency`` and days with
``format_date`` in their locale, instants as the day they fall on in their
time zone. Event data is used where it has the fact; the rest is read as
the records stand when the notification is composed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

import attrs
from babel.dates import format_date

from enrollpay.domain.events import DomainEvent
from enrollpay.domain.money import Money
from enrollpay.domain.records import Enrollment
from enrollpay.domain.statuses import OPEN_ITEM_STATUSES, OVERDUE_ITEM_STATUSES, ItemStatus

if TYPE_CHECKING:
    from enrollpay.service.system import PaymentSystem

__all__ = ["VALUES", "Writer"]


@attrs.frozen
class Writer:
    """Writes money, days and instants for one recipient."""

    locale: str
    zone: ZoneInfo

    def money(self, amount: Money) -> str:
        """``$100.00``, ``100,00 $US``, ``100,00 $``: babel's currency format."""
        return amount.format(self.locale)

    def day(self, day: date) -> str:
        """``March 23, 2027``, ``23 mars 2027``, ``2027年3月23日``: babel's long date."""
        return str(format_date(day, format="long", locale=self.locale))

    def instant(self, at: datetime) -> str:
        """The day ``at`` falls on in the recipient's time zone, written as :meth:`day`."""
        return self.day(at.astimezone(self.zone).date())


def _money(data: Mapping[str, Any]) -> Money:
    return Money(int(data["minor"]), str(data["currency"]))


Values = Callable[[DomainEvent, Enrollment, "PaymentSystem", Writer], dict[str, str] | None]


def _payment_failed(
    event: DomainEvent, _enrollment: Enrollment, system: PaymentSystem, w: Writer
) -> dict[str, str] | None:
    item = system.get_schedule_item(str(event.data["item_id"]))
    if item.status not in OPEN_ITEM_STATUSES:
        return None  # paid, waived or cancelled since
    retry = event.data.get("next_retry_at")
    return {
        "amount": w.money(item.outstanding),
        "due_date": w.day(item.due),
        "next_retry_date": "" if retry is None else w.instant(datetime.fromisoformat(retry)),
        "attempt": str(event.data.get("failures", "")),
    }


def _access_suspended(
    event: DomainEvent, enrollment: Enrollment, system: PaymentSystem, w: Writer
) -> dict[str, str] | None:
    if system.has_access(enrollment):
        return None  # restored (or cancelled and refunded) since
    today = system.today(event.at)
    owed = Money.zero(enrollment.price.currency)
    for item in system.list_schedule_items(enrollment_id=enrollment.id):
        if item.status in OVERDUE_ITEM_STATUSES and item.due <= today:
            owed += item.outstanding
    return {"amount_owed": w.money(owed)}


def _nothing(
    _event: DomainEvent, _enrollment: Enrollment, _system: PaymentSystem, _w: Writer
) -> dict[str, str]:
    return {}


def _upcoming(
    event: DomainEvent, _enrollment: Enrollment, system: PaymentSystem, w: Writer
) -> dict[str, str] | None:
    item = system.get_schedule_item(str(event.data["item_id"]))
    if item.status != ItemStatus.SCHEDULED or item.due.isoformat() != event.data["due"]:
        return None  # paid, moved or ended since
    return {
        "amount": w.money(_money(event.data["outstanding"])),
        "due_date": w.day(date.fromisoformat(event.data["due"])),
        "days_before": str(event.data["days_before"]),
    }


def _receipt(
    event: DomainEvent, _enrollment: Enrollment, _system: PaymentSystem, w: Writer
) -> dict[str, str] | None:
    if event.data.get("kind") == "credit_note":
        return None  # a credit note's refund is told by refund_issued
    number = event.data.get("number") or event.data.get("receipt_id") or event.id
    return {
        "amount": w.money(_money(event.data["amount"])),
        "paid_date": w.instant(event.at),
        "receipt_number": str(number),
    }


def _refund(
    event: DomainEvent, _enrollment: Enrollment, _system: PaymentSystem, w: Writer
) -> dict[str, str]:
    return {"amount": w.money(_money(event.data["amount"])), "refund_date": w.instant(event.at)}


def _completed(
    _event: DomainEvent, enrollment: Enrollment, _system: PaymentSystem, w: Writer
) -> dict[str, str]:
    return {"total": w.money(enrollment.price)}


#: The values of each notification kind, by kind.
VALUES: Final[Mapping[str, Values]] = {
    "payment_failed": _payment_failed,
    "access_suspended": _access_suspended,
    "access_restored": _nothing,
    "installment_upcoming": _upcoming,
    "receipt_issued": _receipt,
    "refund_issued": _refund,
    "enrollment_completed": _completed,
}
