"""The notification kinds: which outbox event each is made from, and what its template may use.

A notification kind is what the student is told (``payment_failed``); the
event is what happened (``payment.failed``). Each kind is made from one
event kind, and its template may use the values every kind has
(:data:`COMMON_VALUES`) and its own (:attr:`NotificationKind.values`), all
of them already written for the recipient (money and dates in their
locale). A template that names any other value is refused when the
handler is made, not when a message is due.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import attrs

__all__ = ["COMMON_VALUES", "NOTIFICATION_KINDS", "NotificationKind"]

#: Values every template may use.
COMMON_VALUES: Final[Mapping[str, str]] = {
    "greeting": "the salutation, with the student's name when there is one",
    "student_name": "the student's name (empty when the host app has none)",
    "product_name": "the course or program enrolled in",
    "enrollment_id": "the enrollment's id",
}


def _strings(values: Mapping[str, str]) -> Mapping[str, str]:
    return dict(values)


@attrs.frozen
class NotificationKind:
    """One kind of notification: its name, the event it is made from, its own values."""

    name: str
    event_kind: str
    description: str
    #: Its own template values, by name, with what each holds.
    values: Mapping[str, str] = attrs.field(factory=dict, converter=_strings, hash=False)

    @property
    def allowed(self) -> frozenset[str]:
        """Every value a template of this kind may use (host extras aside)."""
        return frozenset(COMMON_VALUES) | frozenset(self.values)


def _kind(name: str, event_kind: str, description: str, **values: str) -> NotificationKind:
    return NotificationKind(name, event_kind, description, values)


_UPDATE_CARD = "where the student saves a new card (the host app's update_card_url)"

#: Every notification kind, by name.
NOTIFICATION_KINDS: Final[Mapping[str, NotificationKind]] = {
    k.name: k
    for k in (
        _kind(
            "payment_failed",
            "payment.failed",
            "a charge was declined and will be retried",
            amount="what the charge was for",
            due_date="when the installment was due",
            next_retry_date="the day of the next try, in the student's time zone",
            attempt="how many tries have failed so far",
            update_card_url=_UPDATE_CARD,
        ),
        _kind(
            "access_suspended",
            "access.suspended",
            "the last try failed, or payment is overdue: access is withheld until paid",
            amount_owed="everything due and unpaid on the enrollment",
            update_card_url=_UPDATE_CARD,
        ),
        _kind(
            "access_restored",
            "access.restored",
            "the arrears are paid: access is back",
        ),
        _kind(
            "installment_upcoming",
            "installment.upcoming",
            "an installment falls due in a few days (the sweep's reminder)",
            amount="what is owed on it",
            due_date="when it is due",
            days_before="in how many days",
            update_card_url=_UPDATE_CARD,
        ),
        _kind(
            "receipt_issued",
            "receipt.issued",
            "a receipt was issued for a payment (with ReceiptSettings(announce=True))",
            amount="what was paid",
            paid_date="when the receipt was issued",
            receipt_number="the receipt's number (its id when it has none)",
        ),
        _kind(
            "refund_issued",
            "refund.issued",
            "money was given back",
            amount="what was refunded",
            refund_date="when",
        ),
        _kind(
            "enrollment_completed",
            "enrollment.completed",
            "every installment is settled",
            total="the enrollment's price",
        ),
    )
}
