"""Statuses and the legal moves between them, as plain status-to-status tables.

The moves are declared once, by name, in :mod:`enrollpay.domain.transitions`;
the tables here are views of that declaration for code that only asks
"may status A follow status B?". Terminal statuses (``paid``,
``cancelled``, ``waived`` for items; ``cancelled`` for enrollments;
``succeeded`` and ``canceled`` for attempts) never change.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final, TypeVar

from enrollpay.domain.statuses import (
    OPEN_ITEM_STATUSES,
    TERMINAL_ITEM_STATUSES,
    AttemptStatus,
    EnrollmentStatus,
    ItemState,
    ItemStatus,
    derive_enrollment_status,
    has_access,
)
from enrollpay.domain.transitions.table import ATTEMPT, ENROLLMENT, ITEM
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


#: Which status may follow which, per kind: views of the declared machines in
#: :mod:`enrollpay.domain.transitions` (the union of their named transitions).
ENROLLMENT_TRANSITIONS: Final[Mapping[EnrollmentStatus, frozenset[EnrollmentStatus]]] = (
    ENROLLMENT.edges()
)
ITEM_TRANSITIONS: Final[Mapping[ItemStatus, frozenset[ItemStatus]]] = ITEM.edges()
ATTEMPT_TRANSITIONS: Final[Mapping[AttemptStatus, frozenset[AttemptStatus]]] = ATTEMPT.edges()

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
