"""Domain events: what a state transition tells the rest of the world.

A transition in :mod:`enrollpay.domain.transitions` returns the new record
and :class:`EventDraft` values. The unit of work stamps each draft with an
id and keeps it in the outbox, in the same store transaction as the state
change, so an event exists exactly when its change was committed.
:meth:`~enrollpay.PaymentSystem.dispatch_events` later hands the stamped
:class:`DomainEvent` values to the host application, at least once each, in
the order they occurred; a handler dedupes by :attr:`DomainEvent.id`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import attrs

__all__ = ["EVENT_KINDS", "DomainEvent", "EventDraft"]


def _plain_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return dict(value or {})


#: Every kind of event the library emits, with what it means.
EVENT_KINDS: Final[Mapping[str, str]] = {
    "enrollment.created": "an enrollment was opened, its schedule written",
    "enrollment.activated": (
        "the first payment cleared (or nothing was due, or a trial's card was saved): "
        "the student is in"
    ),
    "enrollment.pending_payment": "an enrollment waits for a payment due now",
    "enrollment.past_due": "a payment failed and a retry is pending",
    "enrollment.suspended": "retries are exhausted or the card needs replacing",
    "enrollment.paused": "an administrator paused the enrollment",
    "enrollment.resumed": "a paused enrollment goes on",
    "enrollment.completed": "every item of a finite plan is settled",
    "enrollment.cancelled": "the enrollment was cancelled",
    "enrollment.defaulted": "retries are exhausted and the policy put the enrollment in default",
    "discount.applied": (
        "a new enrollment's price was reduced by a coupon or scholarship; "
        "data: list price, discount, price, coupon code, scholarship id"
    ),
    "schedule.changed": (
        "a plan change moved what an enrollment still owes to another plan: a new schedule "
        "version; data: from and to plan, anchor, old and new version, owed, deposit dropped, "
        "what was due, what is due now"
    ),
    "seat.reserved": (
        "a new enrollment took a seat of a product with a seat limit; "
        "data: seat id, product, user, status (reserved, or held when nothing was due)"
    ),
    "seat.held": "the first payment of an enrollment with a reserved seat succeeded",
    "seat.released": (
        "a seat was freed (its enrollment cancelled or defaulted, or its offer lapsed); "
        "data: seat id, product, user, reason"
    ),
    "waitlist.joined": "a student joined a full product's waitlist; data: entry id, product, user",
    "seat.offered": (
        "a freed seat was offered to the next student on the waitlist; "
        "data: entry id (the offer's id), seat id, product, user, expires_at"
    ),
    "seat.offer_accepted": "the student offered a seat enrolled with it",
    "seat.offer_expired": "a seat offer lapsed unanswered; the seat goes to the next in line",
    "access.granted": "the student may use the course from now on",
    "access.suspended": "the student's access is withheld until payment",
    "access.restored": "access withheld for payment is given back",
    "access.revoked": "access ended for good (cancellation)",
    "installment.paid": "a scheduled payment was paid in full",
    "installment.partially_paid": "part of a scheduled payment was received",
    "installment.requires_action": "the customer must authenticate a payment",
    "installment.requires_payment_method": "the card was refused for good: a new one is needed",
    "installment.defaulted": "retries are exhausted",
    "installment.overdue": "a scheduled payment is unpaid past its due date and the grace days",
    "installment.upcoming": "a scheduled payment falls due within the reminder days",
    "installment.rescheduled": "a scheduled payment got a new due date",
    "installment.waived": "a scheduled payment was waived",
    "installment.invoiced": (
        "a scheduled payment is collected as a gateway invoice (installment_collection="
        "'invoice'); data: item, attempt, invoice, its payment intent, its hosted page, amount"
    ),
    "installment.cancelled": "a scheduled payment will never be collected",
    "payment.failed": "a charge was declined; data: decline code, failures, next retry time",
    "payment.retry_capped": (
        "a retry was moved later to keep the card within its network's retry cap; "
        "data: card brand, next retry time"
    ),
    "payment.processing": (
        "the gateway accepted a payment that settles later (a bank debit); "
        "data: item, attempt, amount, payment method type"
    ),
    "payment.canceled": "an on-session payment was cancelled before it succeeded",
    "refund.issued": "money was given back",
    "receipt.issued": (
        "a numbered receipt (for a payment) or credit note (for a refund) was issued "
        "(emitted with ReceiptSettings(announce=True)); "
        "data: receipt id, number, kind, amount, payment, refund, original receipt number"
    ),
    "refund.failed": "the gateway could not make a refund",
    "payment.disputed": "a gateway payment was disputed (a chargeback, or an inquiry before one); "
    "data: dispute, payment, amount, status, evidence due date",
    "dispute.funds_withdrawn": "the gateway took the disputed amount back from the school",
    "dispute.won": "a dispute was decided for the school: the disputed money stays or comes back",
    "dispute.lost": "a dispute was decided for the cardholder: the disputed money is gone",
    "dispute.closed": "an inquiry ended without becoming a chargeback",
    "subscription.created": (
        "a gateway subscription was created to bill the enrollment; data: subscription id"
    ),
    "subscription.updated": (
        "the gateway reported a newer state of the enrollment's subscription; data: status, "
        "current period start and end, cancel_at_period_end, trial end"
    ),
}


@attrs.frozen
class EventDraft:
    """An event a transition caused, before the outbox gives it an id."""

    kind: str = attrs.field()
    enrollment_id: str | None
    at: datetime
    data: Mapping[str, Any] = attrs.field(factory=dict, converter=_plain_mapping, hash=False)

    @kind.validator
    def _known(self, _attribute: object, value: str) -> None:
        if value not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {value!r}")

    def stamp(self, event_id: str) -> DomainEvent:
        """The stored event: this draft with its id."""
        return DomainEvent(
            id=event_id,
            kind=self.kind,
            enrollment_id=self.enrollment_id,
            at=self.at,
            data=self.data,
        )


@attrs.frozen
class DomainEvent:
    """Something that happened, as the outbox keeps it and handlers receive it.

    ``kind`` is dotted (``enrollment.activated``); ``data`` holds JSON-ready
    values only (strings, numbers, booleans, None, lists and mappings).
    """

    id: str
    kind: str
    enrollment_id: str | None
    at: datetime
    data: Mapping[str, Any] = attrs.field(factory=dict, converter=_plain_mapping, hash=False)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready mapping (``at`` in ISO 8601)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "enrollment_id": self.enrollment_id,
            "at": self.at.isoformat(),
            "data": dict(self.data),
        }
