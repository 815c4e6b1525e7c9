"""Properties of the declared state machine under random sequences of named transitions.

(a) Applied through the transition functions, no sequence reaches a (from, to)
pair the machine's ``edges()`` does not allow, a terminal state never changes
again, and every refusal names a move the machine indeed does not allow there.
(b) For one enrollment whose items change at random, each ``sync_enrollment``
emits exactly the events its stored change implies, and replaying the events
gives back the stored status and access.
(c) The declared table keeps every edge of the old hand-written tables but a
listed few (see :data:`DROPPED`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st

from enrollpay.domain import transitions as t
from enrollpay.domain.events import EventDraft
from enrollpay.domain.lifecycle import can_transition
from enrollpay.domain.machine import Change, Machine
from enrollpay.domain.money import Money
from enrollpay.domain.plans import PaymentPlan
from enrollpay.domain.records import Enrollment, PaymentAttempt, Refund, ScheduleItem
from enrollpay.domain.schedule import ScheduleLine
from enrollpay.domain.statuses import (
    AttemptStatus,
    EnrollmentStatus,
    ItemStatus,
    RefundStatus,
    has_access,
)
from enrollpay.errors import IllegalTransitionError
from enrollpay.testing.strategies import aware_datetimes as _aware_datetimes
from enrollpay.testing.strategies import currencies as _currencies
from enrollpay.testing.strategies import plans

aware_datetimes = _aware_datetimes()
currencies = _currencies()

R = TypeVar("R", ScheduleItem, PaymentAttempt, Refund)
DUE = date(2027, 3, 15)
START = datetime(2027, 3, 15, 9, tzinfo=UTC)

# -- (a) no sequence leaves the declared edges ----------------------------------------------

#: An item transition function, its inputs derived from one integer and a time.
ItemOp = Callable[[ScheduleItem, int, datetime], Change[ScheduleItem]]


def _decline(outcome: t.DeclineOutcome) -> ItemOp:
    """decline_item with ``outcome`` (a retry time only for ``retry``)."""

    def op(item: ScheduleItem, n: int, at: datetime) -> Change[ScheduleItem]:
        retry_at = at + timedelta(days=n % 7 + 1) if outcome == "retry" else None
        return t.decline_item(
            item, outcome=outcome, failures=n % 5, retry_at=retry_at, decline_code="x", at=at
        )

    return op


def _received(item: ScheduleItem, n: int) -> Money:
    """Between one minor unit and half as much again as the item costs."""
    return Money(n % (item.amount.minor * 3 // 2 + 1) + 1, item.amount.currency)


ITEM_OPS: Mapping[str, ItemOp] = {
    "start_processing": lambda i, n, at: t.start_processing(
        i, at=at, lease_until=at + timedelta(minutes=n % 30 + 1)
    ),
    "release": lambda i, n, at: t.release_item(i, at=at),
    "mark_paid": lambda i, n, at: t.mark_item_paid(i, amount_paid=i.amount, at=at),
    "receive": lambda i, n, at: t.receive_on_item(i, amount=_received(i, n), at=at),
    "decline_retry": _decline("retry"),
    "decline_default": _decline("default"),
    "decline_card": _decline("requires_payment_method"),
    "decline_action": _decline("requires_action"),
    "require_action": lambda i, n, at: t.require_action_on_item(i, at=at),
    "requeue": lambda i, n, at: t.requeue_item(i, at=at),
    "no_card": lambda i, n, at: t.no_card(i, at=at),
    "pause": lambda i, n, at: t.pause_item(i, at=at),
    "resume": lambda i, n, at: t.resume_item(i, due=i.due + timedelta(days=n % 30), at=at),
    "reschedule": lambda i, n, at: t.reschedule_item(i, due=i.due + timedelta(days=n % 30), at=at),
    "waive": lambda i, n, at: t.waive_item(i, at=at),
    "cancel": lambda i, n, at: t.cancel_item(i, at=at),
}

AttemptOp = Callable[[PaymentAttempt, datetime], PaymentAttempt]

ATTEMPT_OPS: Mapping[str, AttemptOp] = {
    "succeed": lambda a, at: t.succeed_attempt(
        a, gateway_payment_id="pi_1", payment_method_id="pm_1", at=at
    ),
    "decline": lambda a, at: t.decline_attempt(a, at=at, message="no", decline_code="x"),
    "require_action": lambda a, at: t.require_action_on_attempt(a, gateway_payment_id=None, at=at),
    "lose_track": lambda a, at: t.lose_track(a, message="timeout", gateway_payment_id=None, at=at),
    "resend": lambda a, at: t.resend_attempt(a, at=at),
    "cancel": lambda a, at: t.cancel_attempt(a, message="cancelled", at=at).record,
}


def moves(ops: Mapping[str, object]) -> st.SearchStrategy[list[tuple[str, int, datetime]]]:
    """Random (operation name, integer input, time) steps over ``ops``."""
    step = st.tuples(
        st.sampled_from(sorted(ops)), st.integers(min_value=0, max_value=10**6), aware_datetimes
    )
    return st.lists(step, max_size=30)


def item_step(name: str, n: int, at: datetime) -> Callable[[ScheduleItem], ScheduleItem]:
    """Item operation ``name`` as a record -> record step, checking its events on the way."""

    def step(item: ScheduleItem) -> ScheduleItem:
        change = ITEM_OPS[name](item, n, at)
        for event in change.events:
            assert (event.enrollment_id, event.at, event.data["item_id"]) == (
                item.enrollment_id,
                at,
                item.id,
            )
        return change.record

    return step


def walk(machine: Machine[Any], record: R, step: Callable[[R], R]) -> R:
    """Apply one step to ``record``, check it against ``machine``, and return the result."""
    before = record.status
    refusal: IllegalTransitionError | None = None
    try:
        after = step(record)
    except IllegalTransitionError as err:
        refusal = err
    if refusal is not None:
        named = (refusal.record, refusal.record_id, refusal.state)
        assert named == (machine.record, record.id, str(before))
        assert not machine.allows(refusal.transition, before), refusal
        return record
    assert before not in machine.terminal(), f"terminal {before} became {after.status}"
    if after.status != before:
        assert after.status in machine.edges()[before], f"{before} -> {after.status}"
    return after


@given(currency=currencies, minor=st.integers(min_value=1, max_value=10**9), steps=moves(ITEM_OPS))
@settings(max_examples=300)
def test_item_sequences_stay_on_declared_edges(
    currency: str, minor: int, steps: list[tuple[str, int, datetime]]
) -> None:
    """Random item moves: each change is an ITEM edge; paid, waived, cancelled never move."""
    line = ScheduleLine(seq=1, kind="installment", due=DUE, amount=Money(minor, currency))
    item = t.new_item(item_id="itm_1", enrollment_id="enr_1", line=line, at=START)
    assert item.status in t.ITEM.initial
    for name, n, at in steps:
        item = walk(t.ITEM, item, item_step(name, n, at))
        assert item.amount_paid.currency == currency
        assert item.amount_paid.minor >= 0
        if item.status == ItemStatus.PAID:
            assert item.amount_paid >= item.amount


def attempt_step(name: str, at: datetime) -> Callable[[PaymentAttempt], PaymentAttempt]:
    """Attempt operation ``name`` as a record -> record step."""
    return lambda attempt: ATTEMPT_OPS[name](attempt, at)


@given(steps=moves(ATTEMPT_OPS))
@settings(max_examples=300)
def test_attempt_sequences_stay_on_declared_edges(steps: list[tuple[str, int, datetime]]) -> None:
    """Random attempt moves: each change is an ATTEMPT edge; succeeded, canceled never move."""
    line = ScheduleLine(seq=1, kind="full", due=DUE, amount=Money(10000, "EUR"))
    item = t.new_item(item_id="itm_1", enrollment_id="enr_1", line=line, at=START)
    attempt = t.new_attempt(
        attempt_id="att_1", item=item, number=1, idempotency_key="k", mode="on_session", at=START
    )
    assert attempt.status in t.ATTEMPT.initial
    for name, _, at in steps:
        attempt = walk(t.ATTEMPT, attempt, attempt_step(name, at))
    assert set(t.ATTEMPT.terminal()) == {AttemptStatus.SUCCEEDED}


def refund_step(status: str, at: datetime) -> Callable[[Refund], Refund]:
    """Gateway news ``status`` about a refund as a step; one event exactly when it moved."""

    def step(refund: Refund) -> Refund:
        change = t.settle_refund(refund, status=status, gateway_refund_id=None, at=at)
        moved = change.record.status != refund.status
        assert len(change.events) == int(moved)
        return change.record

    return step


@given(
    pending=st.booleans(),
    news=st.lists(st.tuples(st.sampled_from([str(s) for s in RefundStatus]), aware_datetimes)),
)
def test_refund_sequences_stay_on_declared_edges(
    pending: bool, news: list[tuple[str, datetime]]
) -> None:
    """Random gateway news about a refund: each change is a REFUND edge, with its one event."""
    change = t.new_refund(
        refund_id="ref_1",
        payment_id="pay_1",
        enrollment_id="enr_1",
        amount=Money(500, "JPY"),
        method="gateway",
        at=START,
        pending=pending,
    )
    refund = change.record
    assert refund.status in t.REFUND.initial
    for status, at in news:
        refund = walk(t.REFUND, refund, refund_step(status, at))


# -- (b) events match the stored changes ----------------------------------------------------

#: The kind each enrollment status is announced with, as the issue names them.
ANNOUNCED: Mapping[EnrollmentStatus, str] = {
    EnrollmentStatus.ACTIVE: "enrollment.activated",
    EnrollmentStatus.PENDING_PAYMENT: "enrollment.pending_payment",
    EnrollmentStatus.PAST_DUE: "enrollment.past_due",
    EnrollmentStatus.SUSPENDED: "enrollment.suspended",
    EnrollmentStatus.COMPLETED: "enrollment.completed",
}
GIVES_ACCESS = frozenset({"access.granted", "access.restored"})
TAKES_ACCESS = frozenset({"access.suspended", "access.revoked"})


@st.composite
def enrollment_runs(
    draw: st.DrawFn,
) -> tuple[PaymentPlan, list[ScheduleLine], date, list[tuple[int, str, int, int, datetime]]]:
    """A plan, its schedule lines, the opening day and steps (item, move, input, days on, time)."""
    currency = draw(currencies)
    plan = draw(plans(currency))
    offsets = sorted(draw(st.lists(st.integers(0, 90), min_size=1, max_size=4)))
    lines = [
        ScheduleLine(seq, "installment", DUE + timedelta(days=d), Money(1000 * seq, currency))
        for seq, d in enumerate(offsets, start=1)
    ]
    opened = DUE + timedelta(days=draw(st.integers(-10, 10)))
    step = st.tuples(
        st.integers(0, len(lines) - 1),
        st.sampled_from(sorted(ITEM_OPS)),
        st.integers(0, 10**6),
        st.integers(0, 6),
        aware_datetimes,
    )
    return plan, lines, opened, draw(st.lists(step, max_size=40))


def check_sync(
    before: Enrollment, change: Change[Enrollment], *, at: datetime, past_due_access: bool
) -> None:
    """The events of one sync are exactly those its stored change implies."""
    after = change.record
    assert all(e.enrollment_id == before.id and e.at == at for e in change.events)
    announced = [e for e in change.events if e.kind.startswith("enrollment.")]
    access = [e for e in change.events if e.kind.startswith("access.")]
    assert len(announced) + len(access) == len(change.events)
    if after.status == before.status:
        assert change.events == ()
        assert after is before
        return
    assert after.status in t.ENROLLMENT.edges()[before.status]
    assert [e.kind for e in announced] == [ANNOUNCED[after.status]]
    assert dict(announced[0].data) == {"from": str(before.status), "to": str(after.status)}
    had = has_access(before.status, past_due_access=past_due_access)
    has = has_access(after.status, past_due_access=past_due_access)
    if had == has:
        assert access == []
    else:
        assert len(access) == 1
        assert access[0].kind in (GIVES_ACCESS if has else TAKES_ACCESS)
        assert dict(access[0].data) == {"status": str(after.status)}


def replay(events: list[EventDraft], opened: EnrollmentStatus) -> tuple[EnrollmentStatus, bool]:
    """The status and access that ``events`` describe, checking they chain."""
    status, access = opened, False
    for event in events:
        if event.kind == "enrollment.created":
            assert event.data["status"] == str(opened)
        elif event.kind.startswith("enrollment.") and "from" in event.data:
            assert event.data["from"] == str(status)
            status = EnrollmentStatus(event.data["to"])
        elif event.kind in GIVES_ACCESS:
            assert not access
            access = True
        elif event.kind in TAKES_ACCESS:
            assert access
            access = False
    return status, access


@given(run=enrollment_runs(), past_due_access=st.booleans())
@settings(max_examples=300)
def test_sync_events_match_the_stored_changes(
    run: tuple[PaymentPlan, list[ScheduleLine], date, list[tuple[int, str, int, int, datetime]]],
    past_due_access: bool,
) -> None:
    """Random item changes, each followed by sync: events exactly where the status moved."""
    plan, lines, today, steps = run
    items = [
        t.new_item(item_id=f"itm_{line.seq}", enrollment_id="enr_1", line=line, at=START)
        for line in lines
    ]
    opening = t.open_enrollment(
        enrollment_id="enr_1",
        user_id="user_1",
        product_id="prod_1",
        plan=plan,
        price=sum((line.amount for line in lines), start=lines[0].amount - lines[0].amount),
        start_date=today,
        items=items,
        today=today,
        at=START,
        past_due_access=past_due_access,
    )
    enrollment = opening.record
    log = list(opening.events)
    for index, name, n, days, at in steps:
        today += timedelta(days=days)
        # A refused item move changes nothing; the enrollment is synced all the same.
        with contextlib.suppress(IllegalTransitionError):
            items[index] = item_step(name, n, at)(items[index])
        change = t.sync_enrollment(
            enrollment, items, today=today, at=at, past_due_access=past_due_access
        )
        check_sync(enrollment, change, at=at, past_due_access=past_due_access)
        enrollment = change.record
        log += change.events
    status, access = replay(log, opening.record.status)
    assert status == enrollment.status
    assert access == has_access(enrollment.status, past_due_access=past_due_access)


# -- (c) the old hand-written tables --------------------------------------------------------


def _table(rows: Mapping[str, str]) -> set[tuple[str, str]]:
    """(from, to) pairs of a table written as ``from: "to to ..."``."""
    return {(source, target) for source, targets in rows.items() for target in targets.split()}


#: ``domain/lifecycle.py`` at 8a09488, before the declared machine, transcribed.
OLD_EDGES: Mapping[type[Any], set[tuple[str, str]]] = {
    EnrollmentStatus: _table(
        {
            "pending_payment": "active cancelled completed past_due paused suspended",
            "active": "cancelled completed past_due paused pending_payment suspended",
            "past_due": "active cancelled completed paused pending_payment suspended",
            "suspended": "active cancelled completed past_due paused pending_payment",
            "paused": "active cancelled completed past_due pending_payment suspended",
            "completed": "cancelled",
        }
    ),
    ItemStatus: _table(
        {
            "scheduled": "cancelled paid paused processing requires_payment_method waived",
            "processing": "cancelled defaulted failed paid requires_action "
            "requires_payment_method scheduled",
            "failed": "cancelled paid paused processing requires_action "
            "requires_payment_method waived",
            "requires_action": "cancelled failed paid paused processing "
            "requires_payment_method waived",
            "requires_payment_method": "cancelled failed paid paused processing "
            "requires_action waived",
            "defaulted": "cancelled failed paid paused processing waived",
            "paused": "cancelled paid scheduled waived",
        }
    ),
    AttemptStatus: _table(
        {
            "pending": "failed requires_action succeeded unknown",
            "unknown": "failed pending requires_action succeeded",
            "requires_action": "failed succeeded",
            "failed": "requires_action succeeded",
        }
    ),
}

#: Edges of the old tables that the declared machine no longer has.
#:
#: Only items in ``scheduled`` or ``failed`` are paused: a defaulted item, or
#: one that waits for authentication or a new card, keeps its status while the
#: enrollment is paused (the service's pause only ever paused scheduled and
#: failed items, so it relied on none of these three).
DROPPED: Mapping[type[Any], set[tuple[str, str]]] = {
    EnrollmentStatus: set(),
    ItemStatus: {
        ("defaulted", "paused"),
        ("requires_action", "paused"),
        ("requires_payment_method", "paused"),
    },
    AttemptStatus: set(),
}

MACHINE_OF: Mapping[type[Any], Machine[Any]] = {
    EnrollmentStatus: t.ENROLLMENT,
    ItemStatus: t.ITEM,
    AttemptStatus: t.ATTEMPT,
}


def _edges(machine: Machine[Any]) -> set[tuple[str, str]]:
    return {(str(s), str(target)) for s, targets in machine.edges().items() for target in targets}


def test_the_declared_machines_drop_exactly_the_listed_old_edges() -> None:
    """Old edges missing from the new table are exactly DROPPED, so a change is deliberate."""
    for kind, old in OLD_EDGES.items():
        assert old - _edges(MACHINE_OF[kind]) == DROPPED[kind], kind.__name__


def test_every_kept_old_edge_is_still_legal() -> None:
    """Each old edge not dropped is an edge of the machine and passes can_transition."""
    for kind, old in OLD_EDGES.items():
        for source, target in old - DROPPED[kind]:
            assert can_transition(kind(source), kind(target)), (source, target)
        for source, target in DROPPED[kind]:
            assert not can_transition(kind(source), kind(target)), (source, target)
