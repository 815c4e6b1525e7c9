"""The statuses of the stored records: enrollments, schedule items, attempts, refunds, disputes.

Which status may follow which is declared once, in
:mod:`enrollpay.domain.transitions`; this module names the statuses and
says what an enrollment's status is, given its items.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import date
from typing import Final

import attrs

from enrollpay.errors import InvalidInputError

__all__ = [
    "IN_FLIGHT_ATTEMPT_STATUSES",
    "OPEN_ITEM_STATUSES",
    "OVERDUE_ITEM_STATUSES",
    "TERMINAL_ITEM_STATUSES",
    "AccessPolicy",
    "AttemptStatus",
    "DisputeStatus",
    "EnrollmentStatus",
    "ItemState",
    "ItemStatus",
    "RefundStatus",
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
    #: Retries are exhausted and the school's policy put the enrollment in
    #: default (``SystemConfig.after_final_failure="default"``): no access, no
    #: automatic charge, the debt stays on the books until it is paid.
    DEFAULTED = "defaulted"


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
    #: Replaced by a plan change: what it still owed moved to the items of
    #: the next schedule version (see :mod:`enrollpay.domain.plan_change`).
    SUPERSEDED = "superseded"


class AttemptStatus(enum.StrEnum):
    """Where one try at charging an item stands."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REQUIRES_ACTION = "requires_action"
    UNKNOWN = "unknown"
    #: Accepted by the gateway and not settled yet: a bank debit (SEPA, ACH,
    #: Bacs) clears or fails days later. Nothing is retried meanwhile.
    PROCESSING = "processing"
    #: An on-session payment given up before it succeeded (a success the gateway
    #: still reports later is recorded all the same).
    CANCELED = "canceled"


class RefundStatus(enum.StrEnum):
    """Where one refund stands."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class DisputeStatus(enum.StrEnum):
    """Where one dispute of a gateway payment stands (the gateway's own status is kept beside it).

    ``inquiry``: the card issuer asks questions; no money has moved.
    ``open``: a chargeback, its withdrawal not reported yet. ``funds_withdrawn``:
    the gateway took the disputed amount back. ``won``, ``lost``: decided
    for the school or for the cardholder. ``inquiry_closed``: an inquiry
    that ended without becoming a chargeback.
    """

    INQUIRY = "inquiry"
    OPEN = "open"
    FUNDS_WITHDRAWN = "funds_withdrawn"
    WON = "won"
    LOST = "lost"
    INQUIRY_CLOSED = "inquiry_closed"


_E, _I = EnrollmentStatus, ItemStatus

TERMINAL_ITEM_STATUSES: Final = frozenset(
    {ItemStatus.PAID, ItemStatus.CANCELLED, ItemStatus.WAIVED, ItemStatus.SUPERSEDED}
)
#: Items that still expect money.
OPEN_ITEM_STATUSES: Final = frozenset(set(ItemStatus) - TERMINAL_ITEM_STATUSES)
#: Items that count as overdue once their due date and the grace days are past:
#: money is owed and nothing is under way (not being charged, not paused).
OVERDUE_ITEM_STATUSES: Final = frozenset(
    {
        ItemStatus.SCHEDULED,
        ItemStatus.FAILED,
        ItemStatus.REQUIRES_ACTION,
        ItemStatus.REQUIRES_PAYMENT_METHOD,
        ItemStatus.DEFAULTED,
    }
)
#: Attempts still in flight: sent (or about to be) with no final answer yet.
IN_FLIGHT_ATTEMPT_STATUSES: Final = frozenset(
    {
        AttemptStatus.PENDING,
        AttemptStatus.UNKNOWN,
        AttemptStatus.REQUIRES_ACTION,
        AttemptStatus.PROCESSING,
    }
)


def _days(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError(
            f"{attribute.name} must be a whole number of days >= 0, got {value!r}"
        )


@attrs.frozen
class AccessPolicy:
    """When an unpaid item is overdue, and when being overdue costs the student access.

    An item still owed (scheduled, failed, waiting for authentication or a
    card, defaulted) is *overdue* once more than ``grace_days`` have passed
    since its due date, whether or not it was ever charged. An overdue item
    makes its enrollment ``past_due`` (access per ``past_due_access``);
    one overdue for ``suspend_after_days`` or more makes it ``suspended``.
    """

    #: Days after the due date before an unpaid item is overdue.
    grace_days: int = attrs.field(default=3, validator=_days)
    #: Days overdue before access is suspended.
    suspend_after_days: int = attrs.field(default=14, validator=_days)
    #: Whether a past_due student keeps access.
    past_due_access: bool = True

    def days_overdue(self, due: date, today: date) -> int:
        """How many days an item due on ``due`` is overdue on ``today`` (0: not overdue)."""
        return max((today - due).days - self.grace_days, 0)


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
    access: AccessPolicy | None = None,
    awaiting_payment_method: bool = False,
    held: bool = False,
    billing: str | None = None,
) -> EnrollmentStatus:
    """The enrollment status that its items imply, in this order.

    cancelled / paused (explicit admin states); ``pending_payment`` while
    nothing has been paid (or waived) yet and an item is due by ``today``,
    whatever happened to it, so a first payment that failed never grants
    access, or while nothing has been paid and the enrollment is
    ``awaiting_payment_method`` (a trial that starts once a card is saved);
    ``suspended`` if an item is defaulted or needs a new payment method,
    or while a dispute withholds access (``held``: see
    :class:`~enrollpay.domain.disputes.DisputePolicy`); ``past_due`` if an
    item failed (retry pending) or waits for authentication; ``completed``
    when every item of a finite plan is paid, waived or cancelled; else
    ``active``. With an ``access`` policy, time counts too: an item
    overdue (see :class:`AccessPolicy`) makes the enrollment ``past_due``,
    and one overdue for ``suspend_after_days`` ``suspended``, whether or
    not it was ever charged. ``billing``: the status of the gateway
    subscription that bills the enrollment, if one does: its ``unpaid``
    suspends and its ``past_due`` makes the enrollment ``past_due``
    whatever the items say (the gateway retries its invoices itself).
    """
    if cancelled:
        return _E.CANCELLED
    if paused:
        return _E.PAUSED
    states = list(items)
    statuses = {s.status for s in states}
    nothing_paid = not statuses & {_I.PAID, _I.WAIVED}
    due_unpaid = any(s.status in OPEN_ITEM_STATUSES and s.due <= today for s in states)
    if nothing_paid and (due_unpaid or awaiting_payment_method):
        return _E.PENDING_PAYMENT
    overdue = (
        []
        if access is None
        else [
            days
            for s in states
            if s.status in OVERDUE_ITEM_STATUSES and (days := access.days_overdue(s.due, today))
        ]
    )
    if (
        held
        or billing == "unpaid"
        or statuses & {_I.DEFAULTED, _I.REQUIRES_PAYMENT_METHOD}
        or (access is not None and overdue and max(overdue) >= access.suspend_after_days)
    ):
        return _E.SUSPENDED
    if statuses & {_I.FAILED, _I.REQUIRES_ACTION} or overdue or billing == "past_due":
        return _E.PAST_DUE
    if not open_ended and states and statuses <= TERMINAL_ITEM_STATUSES:
        return _E.COMPLETED
    return _E.ACTIVE


def has_access(status: EnrollmentStatus, *, past_due_access: bool = True) -> bool:
    """Whether the student may use the course: active, completed, and past_due by default."""
    if status == _E.PAST_DUE:
        return past_due_access
    return status in (_E.ACTIVE, _E.COMPLETED)
