"""Objects the task-queue unit tests name by import path, as a host app's settings would."""

from __future__ import annotations

from enrollpay import PaymentSystem
from enrollpay.domain.events import DomainEvent

__all__ = ["NOT_CALLABLE", "built", "current", "handled", "make_handler", "record", "system"]

#: The system :func:`system` hands out (set by the test).
current: list[PaymentSystem] = []
#: How many times :func:`system` and :func:`make_handler` were called.
built: list[str] = []
#: The ids of the events :func:`record` received.
handled: list[str] = []
NOT_CALLABLE = 42


def system() -> PaymentSystem:
    """The factory: the test's system."""
    built.append("system")
    return current[-1]


def not_a_system() -> object:
    """A factory that returns something else."""
    return "not a system"


def record(event: DomainEvent) -> None:
    """A handler: keeps each event's id."""
    handled.append(event.id)


def make_handler() -> object:
    """A handler factory (``...:make_handler()``)."""
    built.append("handler")
    return record
