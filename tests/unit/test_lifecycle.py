from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollpay.domain.lifecycle import (
    ATTEMPT_TRANSITIONS,
    ENROLLMENT_TRANSITIONS,
    ITEM_TRANSITIONS,
    OPEN_ITEM_STATUSES,
    TERMINAL_ITEM_STATUSES,
    AttemptStatus,
    EnrollmentStatus,
    ItemState,
    ItemStatus,
    can_transition,
    check_transition,
    derive_enrollment_status,
    has_access,
)
from enrollpay.errors import InvalidStateError, InvalidTransitionError

ENR, ITM, ATT = EnrollmentStatus, ItemStatus, AttemptStatus
TODAY = date(2027, 3, 15)
YESTERDAY, TOMORROW = TODAY - timedelta(days=1), TODAY + timedelta(days=1)

TABLES: list[tuple[type[enum.StrEnum], Mapping[object, frozenset[object]]]] = [
    (EnrollmentStatus, ENROLLMENT_TRANSITIONS),  # type: ignore[list-item]
    (ItemStatus, ITEM_TRANSITIONS),  # type: ignore[list-item]
    (AttemptStatus, ATTEMPT_TRANSITIONS),  # type: ignore[list-item]
]
Status = EnrollmentStatus | ItemStatus | AttemptStatus
TERMINAL: list[Status] = [
    ENR.CANCELLED,
    ITM.PAID,
    ITM.CANCELLED,
    ITM.WAIVED,
    ATT.SUCCEEDED,
]


def legal(current: Status, target: Status) -> bool:
    """Call can_transition on statuses typed as the union of the three kinds."""
    # The TypeVar ties both arguments to one kind, which a union cannot express.
    return can_transition(current, target)  # type: ignore[type-var]


def check(current: Status, target: Status) -> Status:
    """Call check_transition on statuses typed as the union of the three kinds."""
    return check_transition(current, target)  # type: ignore[type-var]


def item(status: ItemStatus, due: date = TODAY) -> ItemState:
    """An item state due today unless told otherwise."""
    return ItemState(status, due)


# --- tables ---------------------------------------------------------------------------


@pytest.mark.parametrize(("statuses", "table"), TABLES)
def test_every_status_has_a_row_of_its_own_kind(
    statuses: type[enum.StrEnum], table: Mapping[object, frozenset[object]]
) -> None:
    """Each table covers every status, and moves only to statuses of the same kind."""
    assert set(table) == set(statuses)
    for targets in table.values():
        assert all(type(target) is statuses for target in targets)


def test_terminal_and_open_item_statuses_partition_the_item_statuses() -> None:
    """paid, cancelled, waived, superseded are terminal; everything else is open."""
    terminal, open_ = TERMINAL_ITEM_STATUSES, OPEN_ITEM_STATUSES
    assert terminal == {ITM.PAID, ITM.CANCELLED, ITM.WAIVED, ITM.SUPERSEDED}
    assert open_ == set(ItemStatus) - terminal


@pytest.mark.parametrize("terminal", TERMINAL)
def test_nothing_leaves_a_terminal_status(
    terminal: Status,
) -> None:
    """A terminal status only 'moves' to itself."""
    for target in type(terminal):
        assert legal(terminal, target) is (target == terminal)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (ENR.PENDING_PAYMENT, ENR.ACTIVE),
        (ENR.ACTIVE, ENR.PAST_DUE),
        (ENR.PAST_DUE, ENR.SUSPENDED),
        (ENR.SUSPENDED, ENR.ACTIVE),
        (ENR.PAUSED, ENR.ACTIVE),
        (ENR.COMPLETED, ENR.CANCELLED),
        (ITM.SCHEDULED, ITM.PROCESSING),
        (ITM.PROCESSING, ITM.PAID),
        (ITM.PROCESSING, ITM.FAILED),
        (ITM.PROCESSING, ITM.SCHEDULED),
        (ITM.FAILED, ITM.PROCESSING),
        (ITM.REQUIRES_ACTION, ITM.PAID),
        (ITM.DEFAULTED, ITM.WAIVED),
        (ITM.PAUSED, ITM.SCHEDULED),
        (ATT.PENDING, ATT.UNKNOWN),
        (ATT.UNKNOWN, ATT.SUCCEEDED),
        (ATT.REQUIRES_ACTION, ATT.FAILED),
        (ATT.FAILED, ATT.SUCCEEDED),
    ],
)
def test_legal_moves(
    current: Status,
    target: Status,
) -> None:
    """Moves the tables allow pass and return the target."""
    assert legal(current, target)
    assert check(current, target) is target


@pytest.mark.parametrize(
    ("current", "target", "entity"),
    [
        (ENR.COMPLETED, ENR.ACTIVE, "enrollment"),
        (ENR.CANCELLED, ENR.ACTIVE, "enrollment"),
        (ITM.PAID, ITM.SCHEDULED, "schedule item"),
        (ITM.PAUSED, ITM.PROCESSING, "schedule item"),
        (ITM.SCHEDULED, ITM.FAILED, "schedule item"),
        (ATT.SUCCEEDED, ATT.FAILED, "payment attempt"),
        (ATT.REQUIRES_ACTION, ATT.PENDING, "payment attempt"),
    ],
)
def test_illegal_moves_raise_invalid_transition(
    current: Status,
    target: Status,
    entity: str,
) -> None:
    """Forbidden moves raise InvalidTransitionError naming the entity and both statuses."""
    assert not legal(current, target)
    with pytest.raises(InvalidTransitionError) as info:
        check(current, target)
    assert (info.value.entity, info.value.current, info.value.target) == (
        entity,
        str(current),
        str(target),
    )
    assert isinstance(info.value, InvalidStateError)
    assert isinstance(info.value, ValueError)


@given(st.sampled_from([*EnrollmentStatus, *ItemStatus, *AttemptStatus]))
def test_staying_put_is_always_legal(status: Status) -> None:
    """Staying in the current status is never an error."""
    assert check(status, status) is status


@st.composite
def walks(draw: st.DrawFn) -> list[Status]:
    """A start status and then attempted moves, all of one status kind."""
    kind = draw(st.sampled_from([EnrollmentStatus, ItemStatus, AttemptStatus]))
    statuses: list[Status] = list(kind)
    return draw(st.lists(st.sampled_from(statuses), min_size=2, max_size=30))


@given(walks())
def test_no_walk_ever_leaves_a_terminal_status(moves: list[Status]) -> None:
    """Applying every legal move in turn: once terminal, always that same status."""
    current = moves[0]
    terminal_at: Status | None = None
    for target in moves[1:]:
        if legal(current, target):
            current = target
        else:
            with pytest.raises(InvalidTransitionError):
                check(current, target)
        if terminal_at is not None:
            assert current == terminal_at
        elif current in TERMINAL:
            terminal_at = current
    if moves[0] in TERMINAL:
        assert current == moves[0]


# --- derive_enrollment_status ---------------------------------------------------------


def test_explicit_cancel_and_pause_win() -> None:
    """cancelled, then paused, override anything the items say."""
    items = [item(ITM.DEFAULTED)]
    assert (
        derive_enrollment_status(items, today=TODAY, cancelled=True, paused=True) is ENR.CANCELLED
    )
    assert derive_enrollment_status(items, today=TODAY, paused=True) is ENR.PAUSED


@pytest.mark.parametrize("status", [ITM.DEFAULTED, ITM.REQUIRES_PAYMENT_METHOD])
def test_defaulted_or_hard_declined_items_suspend(status: ItemStatus) -> None:
    """Exhausted retries or a dead card suspend the enrollment, even over a failure."""
    items = [item(ITM.PAID), item(ITM.FAILED), item(status)]
    assert derive_enrollment_status(items, today=TODAY) is ENR.SUSPENDED


@pytest.mark.parametrize("status", [ITM.FAILED, ITM.REQUIRES_ACTION])
def test_failed_or_authenticating_items_make_it_past_due(status: ItemStatus) -> None:
    """A pending retry or authentication is past_due."""
    assert derive_enrollment_status([item(ITM.PAID), item(status)], today=TODAY) is ENR.PAST_DUE


def test_all_items_settled_completes_a_finite_plan() -> None:
    """Paid, waived and cancelled items complete the enrollment."""
    items = [item(ITM.PAID), item(ITM.WAIVED), item(ITM.CANCELLED)]
    assert derive_enrollment_status(items, today=TODAY) is ENR.COMPLETED


def test_open_ended_plans_never_complete() -> None:
    """A subscription with everything so far paid stays active."""
    items = [item(ITM.PAID), item(ITM.PAID)]
    assert derive_enrollment_status(items, today=TODAY, open_ended=True) is ENR.ACTIVE


def test_nothing_paid_and_something_due_is_pending_payment() -> None:
    """Before the first payment, an item due by today means pending_payment."""
    assert (
        derive_enrollment_status([item(ITM.SCHEDULED, TODAY)], today=TODAY) is ENR.PENDING_PAYMENT
    )
    items = [item(ITM.PROCESSING, YESTERDAY), item(ITM.SCHEDULED, TOMORROW)]
    assert derive_enrollment_status(items, today=TODAY) is ENR.PENDING_PAYMENT


@pytest.mark.parametrize(
    "status", [ITM.FAILED, ITM.REQUIRES_ACTION, ITM.DEFAULTED, ITM.REQUIRES_PAYMENT_METHOD]
)
def test_a_failed_first_payment_stays_pending_payment(status: ItemStatus) -> None:
    """Before anything is paid, a due item that failed never makes the enrollment past_due."""
    items = [item(status, YESTERDAY), item(ITM.SCHEDULED, TOMORROW)]
    result = derive_enrollment_status(items, today=TODAY)
    assert result is ENR.PENDING_PAYMENT
    assert not has_access(result)


def test_nothing_due_yet_is_active() -> None:
    """An enrollment whose first payment is in the future is active."""
    assert derive_enrollment_status([item(ITM.SCHEDULED, TOMORROW)], today=TODAY) is ENR.ACTIVE


def test_something_paid_is_active_even_with_an_item_due() -> None:
    """Once money came in, a due item awaiting collection keeps it active."""
    items = [item(ITM.PAID, YESTERDAY), item(ITM.SCHEDULED, TODAY)]
    assert derive_enrollment_status(items, today=TODAY) is ENR.ACTIVE
    waived = [item(ITM.WAIVED, YESTERDAY), item(ITM.SCHEDULED, TODAY)]
    assert derive_enrollment_status(waived, today=TODAY) is ENR.ACTIVE


def test_a_trial_awaiting_its_card_is_pending_until_something_is_paid() -> None:
    """awaiting_payment_method: pending_payment with nothing due; a paid item settles it."""
    trial = [item(ITM.SCHEDULED, TOMORROW)]
    assert (
        derive_enrollment_status(trial, today=TODAY, awaiting_payment_method=True)
        is ENR.PENDING_PAYMENT
    )
    assert derive_enrollment_status(trial, today=TODAY) is ENR.ACTIVE
    paid = [item(ITM.PAID, YESTERDAY), item(ITM.SCHEDULED, TOMORROW)]
    assert derive_enrollment_status(paid, today=TODAY, awaiting_payment_method=True) is ENR.ACTIVE
    assert (
        derive_enrollment_status(trial, today=TODAY, paused=True, awaiting_payment_method=True)
        is ENR.PAUSED
    )


def test_no_items_is_active() -> None:
    """An enrollment without items is neither completed nor pending."""
    assert derive_enrollment_status([], today=TODAY) is ENR.ACTIVE
    assert derive_enrollment_status(iter([]), today=TODAY, open_ended=True) is ENR.ACTIVE


def test_items_may_be_any_iterable() -> None:
    """A generator of item states is read once, correctly."""
    states = (item(status) for status in (ITM.PAID, ITM.PAID))
    assert derive_enrollment_status(states, today=TODAY) is ENR.COMPLETED


# --- access ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "access"),
    [
        (ENR.ACTIVE, True),
        (ENR.COMPLETED, True),
        (ENR.PAST_DUE, True),
        (ENR.PENDING_PAYMENT, False),
        (ENR.SUSPENDED, False),
        (ENR.PAUSED, False),
        (ENR.CANCELLED, False),
    ],
)
def test_has_access(status: EnrollmentStatus, access: bool) -> None:
    """Active, completed and (by default) past_due enrollments have access."""
    assert has_access(status) is access


def test_past_due_access_is_a_policy_switch() -> None:
    """past_due_access=False takes access away from past_due only."""
    assert has_access(ENR.PAST_DUE, past_due_access=False) is False
    assert has_access(ENR.ACTIVE, past_due_access=False) is True
