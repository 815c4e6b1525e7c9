"""The state-machine building blocks: Machine, Transition, EventDraft and DomainEvent."""

from __future__ import annotations

import enum
import json
from datetime import UTC, datetime

import pytest

from enrollpay.domain.events import EVENT_KINDS, DomainEvent, EventDraft
from enrollpay.domain.machine import Machine, Transition
from enrollpay.domain.statuses import TERMINAL_ITEM_STATUSES, AttemptStatus
from enrollpay.domain.transitions import (
    ATTEMPT,
    DISPUTE,
    ENROLLMENT,
    ITEM,
    MACHINES,
    REFUND,
    SEAT,
    WAITLIST,
)
from enrollpay.errors import IllegalTransitionError

AT = datetime(2027, 3, 15, 12, tzinfo=UTC)


class Door(enum.StrEnum):
    """A toy record's states."""

    OPEN = "open"
    AJAR = "ajar"
    SHUT = "shut"
    GONE = "gone"


def move(name: str, sources: set[Door], targets: set[Door]) -> Transition[Door]:
    """A transition of the toy machine."""
    return Transition(name, frozenset(sources), frozenset(targets), f"{name} the door")


DOOR = Machine.declare(
    "door",
    Door,
    [Door.SHUT],
    move("open", {Door.SHUT, Door.AJAR}, {Door.OPEN, Door.AJAR}),
    move("shut", {Door.OPEN, Door.AJAR}, {Door.SHUT}),
    move("oil", {Door.SHUT, Door.OPEN}, set()),
    move("remove", {Door.SHUT}, {Door.GONE}),
)


def test_declare_refuses_a_name_twice() -> None:
    """Two transitions with one name are a declaration error."""
    with pytest.raises(ValueError, match="'open' declared twice"):
        Machine.declare(
            "door",
            Door,
            [Door.SHUT],
            move("open", {Door.SHUT}, {Door.OPEN}),
            move("open", {Door.AJAR}, {Door.OPEN}),
        )


def test_declare_keeps_every_move_by_name() -> None:
    """The declared machine maps each name to its transition and keeps the initial states."""
    assert list(DOOR.transitions) == ["open", "shut", "oil", "remove"]
    assert DOOR.initial == frozenset({Door.SHUT})
    assert DOOR.transitions["remove"].doc == "remove the door"


def test_allows_reads_the_sources() -> None:
    """allows() is membership in the transition's sources."""
    assert DOOR.allows("open", Door.AJAR)
    assert not DOOR.allows("open", Door.OPEN)


def test_target_of_a_single_target_move() -> None:
    """One target: it is the result without asking."""
    assert DOOR.target("shut", Door.OPEN) is Door.SHUT


def test_target_with_several_targets_needs_wanted() -> None:
    """Several targets and no ``wanted``: a ValueError, not a guess."""
    with pytest.raises(ValueError, match="'open' needs an explicit target"):
        DOOR.target("open", Door.SHUT)
    assert DOOR.target("open", Door.SHUT, Door.AJAR) is Door.AJAR
    assert DOOR.target("open", Door.SHUT, Door.OPEN) is Door.OPEN


def test_target_refuses_a_wanted_state_outside_the_targets() -> None:
    """``wanted`` must be one of the transition's targets."""
    with pytest.raises(IllegalTransitionError) as info:
        DOOR.target("open", Door.SHUT, Door.GONE)
    err = info.value
    assert (err.record, err.state, err.transition, err.target) == ("door", "shut", "open", "gone")
    assert err.record_id is None


def test_target_refuses_a_state_outside_the_sources() -> None:
    """A move from a state it does not start from raises, naming record, state and move."""
    with pytest.raises(IllegalTransitionError, match="door is gone and cannot shut") as info:
        DOOR.target("shut", Door.GONE)
    assert (info.value.state, info.value.transition) == ("gone", "shut")


def test_a_stay_transition_keeps_the_status() -> None:
    """Empty targets: the status is kept (with or without ``wanted`` equal to it)."""
    assert DOOR.target("oil", Door.OPEN) is Door.OPEN
    assert DOOR.target("oil", Door.SHUT, Door.SHUT) is Door.SHUT


def test_a_stay_transition_refuses_a_different_wanted() -> None:
    """A stay-transition never moves, so asking for another state is refused."""
    with pytest.raises(IllegalTransitionError) as info:
        DOOR.target("oil", Door.OPEN, Door.SHUT)
    assert (info.value.state, info.value.transition, info.value.target) == ("open", "oil", "shut")


def test_a_stay_transition_refuses_a_state_outside_its_sources() -> None:
    """A stay-transition is legal only from its sources."""
    with pytest.raises(IllegalTransitionError) as info:
        DOOR.target("oil", Door.AJAR)
    assert (info.value.state, info.value.transition) == ("ajar", "oil")


def test_edges_join_every_move_and_leave_out_staying() -> None:
    """edges(): per state, every target some move reaches, the state itself excluded."""
    assert DOOR.edges() == {
        Door.SHUT: frozenset({Door.OPEN, Door.AJAR, Door.GONE}),
        Door.AJAR: frozenset({Door.OPEN, Door.SHUT}),
        Door.OPEN: frozenset({Door.SHUT}),
        Door.GONE: frozenset(),
    }


def test_terminal_is_where_no_move_starts() -> None:
    """terminal(): the states with no edge out."""
    assert DOOR.terminal() == frozenset({Door.GONE})


def test_mermaid_draws_every_arrow() -> None:
    """mermaid(): a header, [*] in and out, one labelled arrow per (source, target, name)."""
    lines = DOOR.mermaid().splitlines()
    assert lines[0] == "stateDiagram-v2"
    assert sorted(lines[1:]) == sorted(
        [
            "    [*] --> shut",
            "    ajar --> ajar: open",
            "    ajar --> open: open",
            "    shut --> ajar: open",
            "    shut --> open: open",
            "    ajar --> shut: shut",
            "    open --> shut: shut",
            "    open --> open: oil",
            "    shut --> shut: oil",
            "    shut --> gone: remove",
            "    gone --> [*]",
        ]
    )


@pytest.mark.parametrize("machine", list(MACHINES.values()), ids=list(MACHINES))
def test_mermaid_of_the_library_machines(machine: Machine[enum.StrEnum]) -> None:
    """Each declared machine's diagram has an arrow per move and a [*] per initial/terminal."""
    text = machine.mermaid()
    for t in machine.transitions.values():
        for source in t.sources:
            for target in t.targets or {source}:
                assert f"    {source} --> {target}: {t.name}\n" in text + "\n"
    for state in machine.initial:
        assert f"    [*] --> {state}" in text
    for state in machine.terminal():
        assert f"    {state} --> [*]" in text


def test_the_library_machines_by_record() -> None:
    """MACHINES holds the seven machines under their record names, with their terminals."""
    assert MACHINES == {
        "enrollment": ENROLLMENT,
        "schedule item": ITEM,
        "payment attempt": ATTEMPT,
        "refund": REFUND,
        "dispute": DISPUTE,
        "seat": SEAT,
        "waitlist entry": WAITLIST,
    }
    assert [str(s) for s in SEAT.terminal()] == ["released"]
    assert {str(s) for s in WAITLIST.terminal()} == {"accepted", "expired"}
    assert ITEM.terminal() == TERMINAL_ITEM_STATUSES
    # canceled is not terminal: money the gateway took anyway is still a success.
    assert ATTEMPT.terminal() == frozenset({AttemptStatus.SUCCEEDED})
    assert [str(s) for s in ENROLLMENT.terminal()] == ["cancelled"]
    assert REFUND.terminal() == frozenset()
    assert {str(s) for s in DISPUTE.terminal()} == {"won", "lost", "inquiry_closed"}
    assert DISPUTE.initial == frozenset(DISPUTE.states)


def test_every_event_kind_is_dotted_and_explained() -> None:
    """Event kinds are ``subject.verb`` with a meaning."""
    for kind, meaning in EVENT_KINDS.items():
        subject, _, verb = kind.partition(".")
        assert subject, kind
        assert verb, kind
        assert meaning, kind


def test_an_event_draft_refuses_an_unknown_kind() -> None:
    """A kind outside EVENT_KINDS is a ValueError at construction."""
    with pytest.raises(ValueError, match=r"unknown event kind 'enrollment\.exploded'"):
        EventDraft("enrollment.exploded", "enr_1", AT)


def test_an_event_draft_copies_its_data() -> None:
    """The draft keeps its own copy of the data, and no data is an empty mapping."""
    data = {"status": "active"}
    draft = EventDraft("access.granted", "enr_1", AT, data)
    data["status"] = "changed"
    assert draft.data == {"status": "active"}
    assert EventDraft("access.granted", None, AT).data == {}


def test_stamp_and_to_json_round_trip() -> None:
    """stamp() keeps every field and adds the id; to_json() survives JSON and back."""
    data = {"from": "pending_payment", "to": "active", "amount": {"minor": 100}}
    draft = EventDraft("enrollment.activated", "enr_1", AT, data)
    event = draft.stamp("evt_1")
    assert event == DomainEvent("evt_1", "enrollment.activated", "enr_1", AT, data)
    wire = json.loads(json.dumps(event.to_json()))
    assert wire == {
        "id": "evt_1",
        "kind": "enrollment.activated",
        "enrollment_id": "enr_1",
        "at": "2027-03-15T12:00:00+00:00",
        "data": data,
    }
    back = DomainEvent(
        id=wire["id"],
        kind=wire["kind"],
        enrollment_id=wire["enrollment_id"],
        at=datetime.fromisoformat(wire["at"]),
        data=wire["data"],
    )
    assert back == event
    assert back.data == event.data
