"""One Django signal per event kind, and one for every event.

>>> from enrollpay.integrations.djangoapp.signals import SIGNALS, signal_for
>>> signal_for("access.suspended") is SIGNALS["access.suspended"]
True
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from django.dispatch import Signal

from enrollpay.domain.events import EVENT_KINDS, DomainEvent
from enrollpay.integrations.events import check_kind
from enrollpay.service.system import PaymentSystem

__all__ = ["SIGNALS", "event_dispatched", "send_signals", "signal_for"]

#: Sent for every event, after the kind's own signal.
event_dispatched: Final[Any] = Signal()
#: The signal of each event kind (every kind of :data:`~enrollpay.domain.events.EVENT_KINDS`).
SIGNALS: Final[Mapping[str, Any]] = MappingProxyType({kind: Signal() for kind in EVENT_KINDS})


def signal_for(kind: str) -> Any:
    """The signal sent for events of ``kind``; an unknown kind raises ``UnknownEventKindError``."""
    return SIGNALS[check_kind(kind)]


def send_signals(event: DomainEvent, *, system: PaymentSystem | None = None) -> None:
    """Send the kind's signal, then :data:`event_dispatched`; a receiver's exception propagates.

    Receivers get ``sender=DomainEvent``, ``event`` and ``system`` (the
    :class:`~enrollpay.PaymentSystem` whose outbox it is, to look the
    enrollment up). ``send``, not ``send_robust``: an exception must stop
    dispatch so that the event stays in the outbox and comes again.
    """
    SIGNALS[event.kind].send(sender=DomainEvent, event=event, system=system)
    event_dispatched.send(sender=DomainEvent, event=event, system=system)
