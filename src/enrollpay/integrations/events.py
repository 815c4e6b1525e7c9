"""A framework-neutral event-handler registry: the outbox's events, by kind, to your functions.

>>> from enrollpay.integrations.events import EventRegistry
>>> events = EventRegistry()
>>> @events.on("access.suspended")
... def revoke_course_access(event):
...     print("revoke", event.enrollment_id)
>>> events.kinds()
['access.suspended']

The registry is itself the handler :meth:`~enrollpay.PaymentSystem.dispatch_events`
calls (``system.dispatch_events(events)``, or ``events.dispatch(system)``).
For each event it calls the functions registered for its kind, then the
catch-all ones (:meth:`EventRegistry.on_any`), each in the order they were
registered. A function that raises stops the run: the event stays in the
outbox and is handed out again by the next run, to every function, so each
function must tolerate seeing an event twice (dedupe by ``event.id``).
FastAPI and Flask apps use it directly (both modules re-export it); the
Django integration sends signals from the same place
(:mod:`enrollpay.integrations.djangoapp`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from enrollpay.domain.events import EVENT_KINDS, DomainEvent
from enrollpay.errors import InvalidInputError
from enrollpay.errors_events import UnknownEventKindError
from enrollpay.service.system import PaymentSystem

__all__ = ["ANY", "EventFunction", "EventRegistry", "check_kind"]

EventFunction = Callable[[DomainEvent], object]
F = TypeVar("F", bound=EventFunction)

#: The pseudo-kind of the catch-all functions: ``events.on(ANY)`` is ``events.on_any``.
ANY = "*"


def check_kind(kind: str) -> str:
    """``kind`` if the library emits it; else an ``UnknownEventKindError``.

    Checked when a function is registered, so a misspelt kind fails at
    start-up instead of never firing.
    """
    if not isinstance(kind, str) or kind not in EVENT_KINDS:
        raise UnknownEventKindError(str(kind))
    return kind


class EventRegistry:
    """Functions to call for each kind of domain event; pass it to ``dispatch_events``."""

    def __init__(self) -> None:
        self._by_kind: dict[str, list[EventFunction]] = {}
        self._any: list[EventFunction] = []

    def on(self, *kinds: str) -> Callable[[F], F]:
        """Decorator: call the function for events of ``kinds`` (``"*"``: every event)."""
        if not kinds:
            raise InvalidInputError('on() needs at least one event kind (or "*")')
        checked = [kind if kind == ANY else check_kind(kind) for kind in kinds]

        def register(function: F) -> F:
            for kind in checked:
                self.add(kind, function)
            return function

        return register

    def on_any(self, function: F) -> F:
        """Decorator: call the function for every event, after the kind's own functions."""
        self.add(ANY, function)
        return function

    def add(self, kind: str, function: EventFunction) -> None:
        """Register ``function`` for ``kind`` (``"*"``: every event) without a decorator."""
        if not callable(function):
            raise TypeError(f"an event function must be callable, got {function!r}")
        if kind == ANY:
            self._any.append(function)
        else:
            self._by_kind.setdefault(check_kind(kind), []).append(function)

    def functions_for(self, kind: str) -> list[EventFunction]:
        """What an event of ``kind`` is handed to, in call order."""
        return [*self._by_kind.get(kind, ()), *self._any]

    def kinds(self) -> list[str]:
        """The kinds that have functions of their own, sorted."""
        return sorted(self._by_kind)

    def __call__(self, event: DomainEvent) -> None:
        """Hand ``event`` to its kind's functions, then to the catch-all ones."""
        for function in self.functions_for(event.kind):
            function(event)

    def dispatch(self, system: PaymentSystem, *, limit: int | None = None) -> int:
        """``system.dispatch_events(self, limit=limit)``: how many events were delivered."""
        return system.dispatch_events(self, limit=limit)
