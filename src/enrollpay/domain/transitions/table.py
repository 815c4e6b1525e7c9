"""The declared table: every named transition of the seven machines.

One :class:`~enrollpay.domain.machine.Machine` per kind of record. A
transition whose targets are empty keeps the status as it is (it changes
other fields, and is legal only from its sources).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from enrollpay.domain.disputes import UNDECIDED_DISPUTES
from enrollpay.domain.machine import Machine, Transition
from enrollpay.domain.seats import SeatStatus, WaitlistStatus
from enrollpay.domain.statuses import (
    OVERDUE_ITEM_STATUSES,
    AttemptStatus,
    DisputeStatus,
    EnrollmentStatus,
    ItemStatus,
    RefundStatus,
)

__all__ = ["ATTEMPT", "DISPUTE", "ENROLLMENT", "ITEM", "MACHINES", "REFUND", "SEAT", "WAITLIST"]

_E, _I, _A, _R, _D = EnrollmentStatus, ItemStatus, AttemptStatus, RefundStatus, DisputeStatus


def _t(name: str, sources: Iterable[Any], targets: Iterable[Any], doc: str) -> Transition[Any]:
    return Transition(name, frozenset(sources), frozenset(targets), doc)


_LIVE = (_E.PENDING_PAYMENT, _E.ACTIVE, _E.PAST_DUE, _E.SUSPENDED)

ENROLLMENT: Final[Machine[EnrollmentStatus]] = Machine.declare(
    "enrollment",
    EnrollmentStatus,
    (_E.PENDING_PAYMENT, _E.ACTIVE),
    _t(
        "activate",
        [_E.PENDING_PAYMENT],
        [_E.ACTIVE],
        "the first payment cleared, or a trial's payment method was saved",
    ),
    _t("restore", [_E.PAST_DUE, _E.SUSPENDED, _E.DEFAULTED], [_E.ACTIVE], "the arrears are paid"),
    _t(
        "fall_past_due",
        [_E.PENDING_PAYMENT, _E.ACTIVE, _E.SUSPENDED],
        [_E.PAST_DUE],
        "a payment failed and a retry is pending",
    ),
    _t(
        "suspend",
        [_E.PENDING_PAYMENT, _E.ACTIVE, _E.PAST_DUE, _E.COMPLETED],
        [_E.SUSPENDED],
        "retries are exhausted, the card needs replacing, or a dispute withholds access",
    ),
    _t(
        "await_payment",
        [_E.ACTIVE, _E.PAST_DUE, _E.SUSPENDED],
        [_E.PENDING_PAYMENT],
        "nothing is paid yet and an item is due",
    ),
    _t(
        "default",
        [_E.PENDING_PAYMENT, _E.ACTIVE, _E.PAST_DUE, _E.SUSPENDED],
        [_E.DEFAULTED],
        "retries are exhausted and the policy puts the enrollment in default",
    ),
    _t(
        "complete",
        [*_LIVE, _E.DEFAULTED],
        [_E.COMPLETED],
        "every item of a finite plan is settled",
    ),
    _t(
        "save_payment_method",
        [*_LIVE, _E.PAUSED, _E.COMPLETED, _E.DEFAULTED],
        [],
        "a trial's payment method is saved; it stops waiting (then: the derived status)",
    ),
    _t("pause", _LIVE, [_E.PAUSED], "an administrator pauses the enrollment"),
    _t("resume", [_E.PAUSED], [*_LIVE, _E.COMPLETED], "collection starts again"),
    _t(
        "cancel",
        [*_LIVE, _E.PAUSED, _E.COMPLETED, _E.DEFAULTED],
        [_E.CANCELLED],
        "the enrollment ends",
    ),
    _t(
        "link_subscription",
        [*_LIVE, _E.PAUSED, _E.COMPLETED, _E.DEFAULTED],
        [],
        "a gateway subscription now bills the enrollment",
    ),
    _t(
        "record_subscription",
        list(EnrollmentStatus),
        [],
        "the gateway reported its subscription's state (then: the derived status)",
    ),
    _t(
        "change_plan",
        _LIVE,
        [],
        "its remaining balance moves to another plan (then: the derived status)",
    ),
)

_OPEN = frozenset(ItemStatus) - {_I.PAID, _I.CANCELLED, _I.WAIVED, _I.SUPERSEDED}
_CHARGEABLE = (
    _I.SCHEDULED,
    _I.FAILED,
    _I.REQUIRES_ACTION,
    _I.REQUIRES_PAYMENT_METHOD,
    _I.DEFAULTED,
)

ITEM: Final[Machine[ItemStatus]] = Machine.declare(
    "schedule item",
    ItemStatus,
    (_I.SCHEDULED,),
    _t(
        "start_processing",
        [*_CHARGEABLE, _I.PROCESSING],
        [_I.PROCESSING],
        "a charge is being made (again, after a worker died)",
    ),
    _t("release", [_I.PROCESSING], [_I.SCHEDULED], "the charge was not made; collect later"),
    _t("mark_paid", _OPEN, [_I.PAID], "the item is paid in full"),
    _t("settle_part", [_I.PROCESSING], [_I.SCHEDULED], "a charge paid part of the item"),
    _t("receive_part", _OPEN - {_I.PROCESSING}, [], "part of the item was paid by hand"),
    _t("fail", [_I.PROCESSING, _I.REQUIRES_ACTION], [_I.FAILED], "declined; a retry is planned"),
    _t("default", [_I.PROCESSING], [_I.DEFAULTED], "declined and retries are exhausted"),
    _t(
        "require_payment_method",
        [_I.SCHEDULED, _I.PROCESSING, _I.FAILED, _I.REQUIRES_ACTION, _I.REQUIRES_PAYMENT_METHOD],
        [_I.REQUIRES_PAYMENT_METHOD],
        "no card, or the card was refused for good (again, on a retry without one)",
    ),
    _t(
        "require_action",
        [_I.PROCESSING, _I.FAILED, _I.REQUIRES_PAYMENT_METHOD, _I.REQUIRES_ACTION],
        [_I.REQUIRES_ACTION],
        "the customer must authenticate",
    ),
    _t(
        "defer_retry",
        [_I.FAILED],
        [],
        "the retry would pass the card network's retry cap: it is moved later",
    ),
    _t("requeue", [_I.REQUIRES_PAYMENT_METHOD, _I.DEFAULTED], [_I.FAILED], "a new card: retry now"),
    _t("pause", [_I.SCHEDULED, _I.FAILED], [_I.PAUSED], "the enrollment is paused"),
    _t("resume", [_I.PAUSED], [_I.SCHEDULED], "the enrollment goes on"),
    _t(
        "reschedule",
        [_I.SCHEDULED, _I.FAILED, _I.DEFAULTED, _I.REQUIRES_PAYMENT_METHOD],
        [_I.SCHEDULED],
        "a new due date; retried afresh",
    ),
    _t("reschedule_paused", [_I.PAUSED], [], "a new due date while paused"),
    _t(
        "fall_overdue",
        OVERDUE_ITEM_STATUSES,
        [],
        "unpaid past its due date and the grace days (its status stays)",
    ),
    _t(
        "announce_upcoming",
        [_I.SCHEDULED],
        [],
        "it falls due within the reminder days: the payer is told (its status stays)",
    ),
    _t("waive", _OPEN - {_I.PROCESSING}, [_I.WAIVED], "nothing more is owed on it"),
    _t("cancel", _OPEN, [_I.CANCELLED], "it will never be collected"),
    _t(
        "supersede",
        _CHARGEABLE,
        [_I.SUPERSEDED],
        "a plan change moved what it owed to the next schedule version",
    ),
)

ATTEMPT: Final[Machine[AttemptStatus]] = Machine.declare(
    "payment attempt",
    AttemptStatus,
    (_A.PENDING,),
    _t(
        "succeed",
        [_A.PENDING, _A.UNKNOWN, _A.REQUIRES_ACTION, _A.PROCESSING, _A.FAILED, _A.CANCELED],
        [_A.SUCCEEDED],
        "the gateway took the money (even after we gave the payment up: it is the truth)",
    ),
    _t(
        "decline",
        [_A.PENDING, _A.UNKNOWN, _A.REQUIRES_ACTION, _A.PROCESSING],
        [_A.FAILED],
        "the gateway refused the charge (a bank debit: days later)",
    ),
    _t(
        "await_settlement",
        [_A.PENDING, _A.UNKNOWN, _A.REQUIRES_ACTION, _A.FAILED],
        [_A.PROCESSING],
        "accepted, not settled: a bank debit clears or fails days later",
    ),
    _t(
        "require_action",
        [_A.PENDING, _A.UNKNOWN, _A.FAILED],
        [_A.REQUIRES_ACTION],
        "the customer must authenticate",
    ),
    _t("lose_track", [_A.PENDING], [_A.UNKNOWN], "sent, but the outcome is unknown"),
    _t("resend", [_A.UNKNOWN], [_A.PENDING], "never arrived: send again with the same key"),
    _t(
        "cancel",
        [_A.PENDING, _A.UNKNOWN, _A.REQUIRES_ACTION, _A.FAILED],
        [_A.CANCELED],
        "the payment was given up (cancelled at the gateway, or abandoned)",
    ),
)

REFUND: Final[Machine[RefundStatus]] = Machine.declare(
    "refund",
    RefundStatus,
    (_R.PENDING, _R.SUCCEEDED),
    _t("succeed", [_R.PENDING, _R.FAILED], [_R.SUCCEEDED], "the money went back"),
    _t("fail", [_R.PENDING, _R.SUCCEEDED], [_R.FAILED], "the gateway could not refund"),
)

_UNDECIDED = UNDECIDED_DISPUTES

# A dispute may be first reported in any stage (a "closed" webhook can
# arrive before the "created" one), so every status is initial. Only
# forward moves exist: a report of an earlier stage is no news.
DISPUTE: Final[Machine[DisputeStatus]] = Machine.declare(
    "dispute",
    DisputeStatus,
    tuple(DisputeStatus),
    _t("escalate", [_D.INQUIRY], [_D.OPEN], "the inquiry became a chargeback"),
    _t(
        "withdraw_funds",
        [_D.INQUIRY, _D.OPEN],
        [_D.FUNDS_WITHDRAWN],
        "the gateway took the disputed amount back",
    ),
    _t("win", _UNDECIDED, [_D.WON], "decided for the school: the money stays or comes back"),
    _t("lose", _UNDECIDED, [_D.LOST], "decided for the cardholder: the money is gone"),
    _t("close_inquiry", [_D.INQUIRY], [_D.INQUIRY_CLOSED], "the inquiry ended, no chargeback"),
    _t("update", _UNDECIDED, [], "a new evidence due date or gateway status (stage kept)"),
)

_S, _W = SeatStatus, WaitlistStatus

# A seat of a product with a seat limit (see enrollpay.domain.seats).
SEAT: Final[Machine[SeatStatus]] = Machine.declare(
    "seat",
    SeatStatus,
    (_S.RESERVED, _S.HELD, _S.OFFERED),
    _t("hold", [_S.RESERVED], [_S.HELD], "the enrollment's first payment succeeded"),
    _t(
        "take_offer",
        [_S.OFFERED],
        [_S.RESERVED, _S.HELD],
        "the student offered the seat enrolled with it",
    ),
    _t(
        "release",
        [_S.OFFERED, _S.RESERVED, _S.HELD],
        [_S.RELEASED],
        "its enrollment was cancelled or defaulted, or its offer lapsed",
    ),
)

# A student on a product's waitlist; an offer of a seat is this entry, offered.
WAITLIST: Final[Machine[WaitlistStatus]] = Machine.declare(
    "waitlist entry",
    WaitlistStatus,
    (_W.WAITING,),
    _t("offer", [_W.WAITING], [_W.OFFERED], "a seat came free and this student is next in line"),
    _t("accept", [_W.OFFERED], [_W.ACCEPTED], "the student enrolled with the offered seat"),
    _t("expire", [_W.OFFERED], [_W.EXPIRED], "the offer lapsed: the seat goes to the next"),
)

#: Every machine by the kind of record it governs.
MACHINES: Final[Mapping[str, Machine[Any]]] = {
    m.record: m for m in (ENROLLMENT, ITEM, ATTEMPT, REFUND, DISPUTE, SEAT, WAITLIST)
}
