"""A handler the ``EVENT_HANDLERS`` setting names: an EventRegistry recording what it got."""

from __future__ import annotations

from enrollpay.domain.events import DomainEvent
from enrollpay.integrations.events import EventRegistry

seen: list[str] = []
registry = EventRegistry()


@registry.on_any
def record(event: DomainEvent) -> None:
    """Remember the event's id."""
    seen.append(event.id)


NOT_CALLABLE = 42
