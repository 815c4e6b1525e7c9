"""Statuses of enrollments, schedule items and payment attempts, and the legal moves.

The tables below are the only place that says which status may follow which.
Terminal statuses (``paid``, ``cancelled``, ``waived`` for items;
``cancelled`` for enrollments; ``succeeded`` for attempts) never change.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Final, TypeVar

import attrs

from enrollpay.errors import InvalidTransitionError

__all__ = [
    "ATTEMPT_TRANSITIONS",
    "ENROLLMENT_TRANSITIONS",
    "ITEM_TRANSITIONS",
    "OPEN_ITEM_STATUSES",
    "TERMINAL_ITEM_STATUSES",
    "AttemptStatus",
    "EnrollmentStatus",
    "ItemState",
    "ItemStatus",
    "can_transition",
    "check_transition",
    "derive_enrollment_status",
    "has_access",
]


class EnrollmentStatus(enum.StrEnum):
    """Where an enrollment stands."""

    PENDING_PAYMENT = "pending_payment"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    SUSPENDED = "suspended"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class ItemStatus(enum.StrEnum):
    """Where one scheduled payment stands."""

    SCHEDULED = "scheduled"
    PROCESSING = "processing"
    PAID = "paid"
    FAILED = "failed"
    REQUIRES_ACTION = "requires_action"
    REQUIRES_PAYMENT_METHOD = "requires_payment_method"
    DEFAULTED = "defaulted"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    WAIVED = "waived"


class AttemptStatus(enum.StrEnum):
    """Where one try at charging an item stands."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REQUIRES_ACTION = "requires_action"
    UNKNOWN = "unknown"
    #: An on-session payment cancelled before it succeeded (it never can now).
    CANCELED = "canceled"


_E, _I, _A = EnrollmentStatus, ItemStatus, AttemptStatus

ENROLLMENT_TRANSITIONS: Final[Mapping[EnrollmentStatus, frozenset[EnrollmentStatus]]] = {
    _E.PENDING_PAYMENT: frozenset(
        {_E.ACTIVE, _E.PAST_DUE, _E.SUSPENDED, _E.PAUSED, _E.COMPLETED, _E.CANCELLED}
    ),
    _E.ACTIVE: frozenset(
        {_E.PENDING_PAYMENT, _E.PAST_DUE, _E.SUSPENDED, _E.PAUSED, _E.COMPLETED, _E.CANCELLED}
    ),
    _E.PAST_DUE: frozenset(
        {_E.ACTIVE, _E.PENDING_PAYMENT, _E.SUSPENDED, _E.PAUSED, _E.COMPLETED, _E.CANCELLED}
    ),
    _E.SUSPENDED: frozenset(
        {_E.ACTIVE, _E.PENDING_PAYMENT, _E.PAST_DUE, _E.PAUSED, _E.COMPLETED, _E.CANCELLED}
    ),
    _E.PAUSED: frozenset(
        {_E.ACTIVE, _E.PENDING_PAYMENT, _E.PAST_DUE, _E.SUSPENDED, _E.COMPLETED, _E.CANCELLED}
    ),
    # A completed enrollment can still be cancelled (with a refund).
    _E.COMPLETED: frozenset({_E.CANCELLED}),
    _E.CANCELLED: frozenset(),
}

_OPEN_MOVES = frozenset({_I.PROCESSING, _I.PAID, _I.WAIVED, _I.CANCELLED, _I.PAUSED})

ITEM_TRANSITIONS: Final[Mapping[ItemStatus, frozenset[ItemStatus]]] = {
    # A due item with no saved payment method waits for one without an attempt.
    _I.SCHEDULED: _OPEN_MOVES | {_I.REQUIRES_PAYMENT_METHOD},
    _I.PROCESSING: frozenset(
        {
            _I.PAID,
            _I.FAILED,
            _I.REQUIRES_ACTION,
            _I.REQUIRES_PAYMENT_METHOD,
            _I.DEFAULTED,
            _I.SCHEDULED,
            _I.CANCELLED,
        }
    ),
    _I.FAILED: _OPEN_MOVES | {_I.REQUIRES_PAYMENT_METHOD, _I.REQUIRES_ACTION},
    _I.REQUIRES_ACTION: _OPEN_MOVES | {_I.FAILED, _I.REQUIRES_PAYMENT_METHOD},
    # A new card makes a card-less or defaulted item collectible again: it is
    # queued as a failed item whose retry is due now.
    _I.REQUIRES_PAYMENT_METHOD: _OPEN_MOVES | {_I.REQUIRES_ACTION, _I.FAILED},
    _I.DEFAULTED: _OPEN_MOVES | {_I.FAILED},
    _I.PAUSED: frozenset({_I.SCHEDULED, _I.PAID, _I.WAIVED, _I.CANCELLED}),
    _I.PAID: frozenset(),
    _I.CANCELLED: frozenset(),
    _I.WAIVED: frozenset(),
}

ATTEMPT_TRANSITIONS: Final[Mapping[AttemptStatus, frozenset[AttemptStatus]]] = {
    _A.PENDING: frozenset({_A.SUCCEEDED, _A.FAILED, _A.REQUIRES_ACTION, _A.UNKNOWN, _A.CANCELED}),
    # An unknown outcome that the gateway says never arrived is sent again,
    # with the same idempotency key, so it goes back to pending.
    _A.UNKNOWN: frozenset({_A.SUCCEEDED, _A.FAILED, _A.REQUIRES_ACTION, _A.PENDING, _A.CANCELED}),
    # The customer may complete authentication, or fail it.
    _A.REQUIRES_ACTION: frozenset({_A.SUCCEEDED, _A.FAILED, _A.CANCELED}),
    # An on-session payment can fail and then succeed with another card on the
    # same payment intent; an off-session failure is final in practice.
    _A.FAILED: frozenset({_A.SUCCEEDED, _A.REQUIRES_ACTION, _A.CANCELED}),
    _A.SUCCEEDED: frozenset(),
    _A.CANCELED: frozenset(),
}

TERMINAL_ITEM_STATUSES: Final = frozenset({_I.PAID, _I.CANCELLED, _I.WAIVED})
#: Items that still expect money.
OPEN_ITEM_STATUSES: Final = frozenset(set(ItemStatus) - TERMINAL_ITEM_STATUSES)

S = TypeVar("S", EnrollmentStatus, ItemStatus, AttemptStatus)

_TABLES: Final[Mapping[type[enum.StrEnum], tuple[str, Mapping[object, frozenset[object]]]]] = {
    EnrollmentStatus: ("enrollment", ENROLLMENT_TRANSITIONS),  # type: ignore[dict-item]
    ItemStatus: ("schedule item", ITEM_TRANSITIONS),  # type: ignore[dict-item]
    AttemptStatus: ("payment attempt", ATTEMPT_TRANSITIONS),  # type: ignore[dict-item]
}


def can_transition(current: S, target: S) -> bool:
    """True when ``current -> target`` is legal (staying put is always legal)."""
    if current == target:
        return True
    _, table = _TABLES[type(current)]
    return target in table[current]


def check_transition(current: S, target: S) -> S:
    """Return ``target`` if ``current -> target`` is legal, else raise."""
    if not can_transition(current, target):
        entity, _ = _TABLES[type(current)]
        raise InvalidTransitionError(entity, str(current), str(target))
    return target


@attrs.frozen
class ItemState:
    """What the enrollment status is derived from, per item."""

    status: ItemStatus
    due: date


def derive_enrollment_status(
    items: Iterable[ItemState],
    *,
    today: date,
    cancelled: bool = False,
    paused: bool = False,
    open_ended: bool = False,
) -> EnrollmentStatus:
    """The enrollment status that its items imply, in this order.

    cancelled / paused (explicit admin states); ``pending_payment`` while
    nothing has been paid (or waived) yet and an item is due by ``today``,
    whatever happened to it, so a first payment that failed never grants
    access; ``suspended`` if an item is defaulted or needs a new payment
    method; ``past_due`` if an item failed (retry pending) or waits for
    authentication; ``completed`` when every item of a finite plan is paid,
    waived or cancelled; else ``active``.
    """
    if cancelled:
        return _E.CANCELLED
    if paused:
        return _E.PAUSED
    states = list(items)
    statuses = {s.status for s in states}
    nothing_paid = not statuses & {_I.PAID, _I.WAIVED}
    due_unpaid = any(s.status in OPEN_ITEM_STATUSES and s.due <= today for s in states)
    if nothing_paid and due_unpaid:
        return _E.PENDING_PAYMENT
    if statuses & {_I.DEFAULTED, _I.REQUIRES_PAYMENT_METHOD}:
        return _E.SUSPENDED
    if statuses & {_I.FAILED, _I.REQUIRES_ACTION}:
        return _E.PAST_DUE
    if not open_ended and states and statuses <= TERMINAL_ITEM_STATUSES:
        return _E.COMPLETED
    return _E.ACTIVE


def has_access(status: EnrollmentStatus, *, past_due_access: bool = True) -> bool:
    """Whether the student may use the course: active, completed, and past_due by default."""
    if status == _E.PAST_DUE:
        return past_due_access
    return status in (_E.ACTIVE, _E.COMPLETED)
