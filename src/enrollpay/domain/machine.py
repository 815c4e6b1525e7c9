"""The building blocks of a declared state machine: transitions, machines, changes.

A :class:`Machine` names every legal move of one kind of record as a
:class:`Transition` (a name, the states it starts from, the states it may
end in). :mod:`enrollpay.domain.transitions` declares the machines of
the library with these and holds the functions that apply them; this module
holds no rule of its own.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Generic, TypeVar

import attrs

from enrollpay.domain.events import EventDraft
from enrollpay.errors import IllegalTransitionError

__all__ = ["Change", "Machine", "Transition"]

S = TypeVar("S", bound=enum.StrEnum)
R = TypeVar("R")


@attrs.frozen
class Transition(Generic[S]):
    """One named move: from any of ``sources`` to one of ``targets`` (none: status kept)."""

    name: str
    sources: frozenset[S]
    targets: frozenset[S]
    #: What the move means, for the docs and the state diagrams.
    doc: str = ""


@attrs.frozen
class Change(Generic[R]):
    """What a transition returns: the new record and the events it caused."""

    record: R
    events: tuple[EventDraft, ...] = ()


@attrs.frozen
class Machine(Generic[S]):
    """Every legal move of one kind of record, by name."""

    #: The record's name in errors and diagrams ("schedule item").
    record: str
    states: type[S]
    #: The states a new record may start in.
    initial: frozenset[S]
    transitions: Mapping[str, Transition[S]]

    @classmethod
    def declare(
        cls, record: str, states: type[S], initial: Iterable[S], *moves: Transition[S]
    ) -> Machine[S]:
        """A machine from its moves; names must be unique."""
        table: dict[str, Transition[S]] = {}
        for move in moves:
            if move.name in table:
                raise ValueError(f"{record}: transition {move.name!r} declared twice")
            table[move.name] = move
        return cls(record, states, frozenset(initial), table)

    def allows(self, name: str, current: S) -> bool:
        """Whether transition ``name`` may start from ``current``."""
        return current in self.transitions[name].sources

    def target(self, name: str, current: S, wanted: S | None = None) -> S:
        """The state ``name`` moves ``current`` to, or raise ``IllegalTransitionError``.

        A transition with several targets needs ``wanted`` (one of them); one
        with none keeps ``current``.
        """
        move = self.transitions[name]
        if not move.targets:  # a move that keeps the status
            wanted = current if wanted is None else wanted
            if current not in move.sources or wanted != current:
                raise IllegalTransitionError(
                    self.record, state=str(current), transition=name, target=str(wanted)
                )
            return current
        if wanted is None:
            if len(move.targets) != 1:
                raise ValueError(f"{self.record} transition {name!r} needs an explicit target")
            (wanted,) = move.targets
        if current not in move.sources or wanted not in move.targets:
            raise IllegalTransitionError(
                self.record, state=str(current), transition=name, target=str(wanted)
            )
        return wanted

    def target_for(self, record_id: str, name: str, current: S, wanted: S | None = None) -> S:
        """:meth:`target` for one record: a refusal names it (``record_id``)."""
        try:
            return self.target(name, current, wanted)
        except IllegalTransitionError as e:
            raise IllegalTransitionError(
                e.record, state=e.state, transition=name, record_id=record_id
            ) from None

    def edges(self) -> dict[S, frozenset[S]]:
        """For each state, the states some transition leads to (itself excluded)."""
        out: dict[S, set[S]] = {state: set() for state in self.states}
        for move in self.transitions.values():
            for source in move.sources:
                out[source] |= move.targets - {source}
        return {state: frozenset(targets) for state, targets in out.items()}

    def terminal(self) -> frozenset[S]:
        """States no transition starts from."""
        return frozenset(state for state, targets in self.edges().items() if not targets)

    def mermaid(self) -> str:
        """The machine as a Mermaid state diagram, one arrow per (source, target, name)."""
        lines = ["stateDiagram-v2"]
        lines += [f"    [*] --> {state.value}" for state in sorted(self.initial)]
        for move in self.transitions.values():
            for source in sorted(move.sources):
                for target in sorted(move.targets or {source}):
                    lines.append(f"    {source.value} --> {target.value}: {move.name}")
        lines += [f"    {state.value} --> [*]" for state in sorted(self.terminal())]
        return "\n".join(lines)
