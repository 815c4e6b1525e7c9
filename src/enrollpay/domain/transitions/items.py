"""Transitions of a scheduled payment (:data:`~enrollpay.domain.transitions.table.ITEM`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

import attrs

from enrollpay.domain.events import EventDraft
from enrollpay.domain.machine import Change
from enrollpay.domain.money import Money
from enrollpay.domain.records import ScheduleItem
from enrollpay.domain.schedule import ScheduleLine
from enrollpay.domain.statuses import ItemStatus
from enrollpay.domain.transitions.table import ITEM

__all__ = [
    "DeclineOutcome",
    "cancel_item",
    "decline_item",
    "defer_retry",
    "mark_item_paid",
    "mark_overdue",
    "new_item",
    "no_card",
    "pause_item",
    "receive_on_item",
    "release_item",
    "remind_upcoming",
    "requeue_item",
    "require_action_on_item",
    "reschedule_item",
    "resume_item",
    "start_processing",
    "waive_item",
]

#: What the retry policy decided after a decline (see ``decide_after_decline``).
DeclineOutcome = Literal["retry", "default", "requires_payment_method", "requires_action"]

_DECLINE_MOVES: dict[str, tuple[str, str]] = {
    "retry": ("fail", "payment.failed"),
    "default": ("default", "installment.defaulted"),
    "requires_payment_method": ("require_payment_method", "installment.requires_payment_method"),
    "requires_action": ("require_action", "installment.requires_action"),
}


def money_data(amount: Money) -> dict[str, Any]:
    """A JSON-ready amount for event data."""
    return {"minor": amount.minor, "currency": amount.currency}


def _move(
    item: ScheduleItem,
    name: str,
    at: datetime,
    kind: str | None = None,
    data: dict[str, Any] | None = None,
    **changes: Any,
) -> Change[ScheduleItem]:
    status = ITEM.target_for(item.id, name, item.status)
    record = attrs.evolve(item, status=status, updated_at=at, **changes)
    if kind is None:
        return Change(record)
    payload = {"item_id": item.id, "seq": item.seq, **(data or {})}
    if item.payer_id is not None:
        payload["payer_id"] = item.payer_id  # the payer owes it: tell them, not the student
    return Change(record, (EventDraft(kind, item.enrollment_id, at, payload),))


def new_item(
    *, item_id: str, enrollment_id: str, line: ScheduleLine, at: datetime, version: int = 1
) -> ScheduleItem:
    """A scheduled item for one line of schedule ``version`` (its initial state)."""
    return ScheduleItem(
        id=item_id,
        enrollment_id=enrollment_id,
        seq=line.seq,
        kind=line.kind,
        due=line.due,
        amount=line.amount,
        status=ItemStatus.SCHEDULED,
        amount_paid=Money.zero(line.amount.currency),
        updated_at=at,
        payer_id=line.payer_id,
        schedule_version=version,
    )


def start_processing(
    item: ScheduleItem, *, at: datetime, lease_until: datetime | None = None
) -> Change[ScheduleItem]:
    """A charge of the item is under way (``lease_until``: how long it may take)."""
    if lease_until is None:
        return _move(item, "start_processing", at)
    return _move(item, "start_processing", at, lease_until=lease_until)


def release_item(item: ScheduleItem, *, at: datetime) -> Change[ScheduleItem]:
    """The charge was not made: the item is collectible again."""
    return _move(item, "release", at, lease_until=None)


def mark_item_paid(item: ScheduleItem, *, amount_paid: Money, at: datetime) -> Change[ScheduleItem]:
    """Paid in full: ``amount_paid`` covers the amount (``installment.paid``)."""
    return _move(
        item,
        "mark_paid",
        at,
        "installment.paid",
        {"amount": money_data(item.amount), "paid": money_data(amount_paid)},
        amount_paid=amount_paid,
        paid_at=at,
        lease_until=None,
        next_attempt_at=None,
    )


def receive_on_item(item: ScheduleItem, *, amount: Money, at: datetime) -> Change[ScheduleItem]:
    """Money received for the item, by charge or by hand: the one partial-payment rule.

    ``paid = amount_paid + amount``. When ``paid >= amount`` the item is paid
    (an excess is the caller's to record). Otherwise the payment is partial:
    a charge that was processing leaves the item scheduled for the rest (its
    lease ends); a payment by hand leaves its status and any worker's lease
    as they are.
    """
    paid = item.amount_paid + amount
    if paid >= item.amount:
        return mark_item_paid(item, amount_paid=paid, at=at)
    data = {"received": money_data(amount), "paid": money_data(paid)}
    if item.status == ItemStatus.PROCESSING:
        return _move(
            item, "settle_part", at, "installment.partially_paid", data,
            amount_paid=paid, lease_until=None,
        )  # fmt: skip
    # A worker may hold the item's lease: a payment by hand leaves it to that worker.
    return _move(item, "receive_part", at, "installment.partially_paid", data, amount_paid=paid)


def decline_item(
    item: ScheduleItem,
    *,
    outcome: DeclineOutcome,
    failures: int,
    retry_at: datetime | None,
    decline_code: str | None,
    at: datetime,
) -> Change[ScheduleItem]:
    """Apply the retry policy's decision after a decline.

    ``retry``: failed, retried at ``retry_at`` (``payment.failed`` with the
    next retry time); ``default``: retries exhausted; ``requires_payment_method``:
    a hard decline; ``requires_action``: the customer must authenticate.
    """
    name, kind = _DECLINE_MOVES[outcome]
    data = {
        "decline_code": decline_code,
        "failures": failures,
        "next_retry_at": None if retry_at is None else retry_at.isoformat(),
    }
    return _move(
        item,
        name,
        at,
        kind,
        data,
        failures=failures,
        next_attempt_at=retry_at,
        lease_until=None,
        last_decline_code=decline_code,
    )


def defer_retry(
    item: ScheduleItem, *, retry_at: datetime, card_brand: str, at: datetime
) -> Change[ScheduleItem]:
    """A retry due now would pass the card's network cap: retry at ``retry_at`` instead.

    The item stays ``failed`` with its failures; ``payment.retry_capped``
    (dated ``at``, when the retry was held) names the brand and the new time.
    """
    data = {"card_brand": card_brand, "next_retry_at": retry_at.isoformat()}
    return _move(
        item, "defer_retry", at, "payment.retry_capped", data,
        next_attempt_at=retry_at, lease_until=None,
    )  # fmt: skip


def require_action_on_item(item: ScheduleItem, *, at: datetime) -> Change[ScheduleItem]:
    """The customer must authenticate the payment (``installment.requires_action``)."""
    return _move(item, "require_action", at, "installment.requires_action", lease_until=None)


def requeue_item(item: ScheduleItem, *, at: datetime) -> Change[ScheduleItem]:
    """A new card makes a card-less or defaulted item collectible: retry it now."""
    return _move(item, "requeue", at, next_attempt_at=at, lease_until=None)


def no_card(
    item: ScheduleItem, *, at: datetime, reason: str = "no saved payment method"
) -> Change[ScheduleItem]:
    """No card to charge (none saved, or the gateway refused the request): wait for one."""
    return _move(
        item,
        "require_payment_method",
        at,
        "installment.requires_payment_method",
        {"reason": reason},
        lease_until=None,
    )


def pause_item(item: ScheduleItem, *, at: datetime) -> Change[ScheduleItem]:
    """The enrollment is paused: the item waits."""
    return _move(item, "pause", at, lease_until=None)


def resume_item(item: ScheduleItem, *, due: date, at: datetime) -> Change[ScheduleItem]:
    """The enrollment goes on: the item is scheduled again, due on ``due``."""
    return _move(
        item, "resume", at, due=due, next_attempt_at=None, overdue_at=None, reminded_at=None
    )


def mark_overdue(item: ScheduleItem, *, today: date, at: datetime) -> Change[ScheduleItem]:
    """The item is unpaid past its due date and the grace days (``installment.overdue``).

    Its status stays what it was (never charged, in its retry cycle, ...);
    ``overdue_at`` records when this was found, so it is announced once.
    """
    data = {
        "due": item.due.isoformat(),
        "days_late": (today - item.due).days,
        "outstanding": money_data(item.outstanding),
        "status": str(item.status),
    }
    return _move(item, "fall_overdue", at, "installment.overdue", data, overdue_at=at)


def remind_upcoming(item: ScheduleItem, *, today: date, at: datetime) -> Change[ScheduleItem]:
    """The scheduled item falls due soon: the payer is told (``installment.upcoming``).

    Its status stays ``scheduled``; ``reminded_at`` records the reminder so
    that it is sent once per due date (a new due date clears it). The data
    says when it is due, in how many days from ``today``, and what is owed.
    """
    data = {
        "due": item.due.isoformat(),
        "days_before": (item.due - today).days,
        "outstanding": money_data(item.outstanding),
    }
    return _move(item, "announce_upcoming", at, "installment.upcoming", data, reminded_at=at)


def reschedule_item(item: ScheduleItem, *, due: date, at: datetime) -> Change[ScheduleItem]:
    """A new due date; the item is retried afresh (a paused item stays paused)."""
    name = "reschedule_paused" if item.status == ItemStatus.PAUSED else "reschedule"
    return _move(
        item,
        name,
        at,
        "installment.rescheduled",
        {"from": item.due.isoformat(), "to": due.isoformat()},
        due=due,
        failures=0,
        next_attempt_at=None,
        lease_until=None,
        overdue_at=None,
        reminded_at=None,
    )


def waive_item(item: ScheduleItem, *, at: datetime) -> Change[ScheduleItem]:
    """Nothing more is owed on the item (``installment.waived``)."""
    return _move(item, "waive", at, "installment.waived", lease_until=None, next_attempt_at=None)


def cancel_item(item: ScheduleItem, *, at: datetime) -> Change[ScheduleItem]:
    """The item will never be collected (``installment.cancelled``)."""
    return _move(
        item, "cancel", at, "installment.cancelled", lease_until=None, next_attempt_at=None
    )
