"""Receivers for every kind's signal and for ``event_dispatched``, appending to ``received``."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig

from enrollpay import PaymentSystem
from enrollpay.domain.events import DomainEvent
from enrollpay.integrations.djangoapp import SIGNALS, event_dispatched


class SignalAppConfig(AppConfig):  # type: ignore[misc] # Django is untyped
    name = "tests.integrations.django_signal_app"
    label = "django_signal_app"

    def ready(self) -> None:
        """Connect one receiver per signal; each records (signal, event id, sender)."""
        self.received: list[tuple[str, str]] = []
        self.fail_on: set[str] = set()
        for name, signal in [*SIGNALS.items(), ("*", event_dispatched)]:

            def receiver(
                sender: Any, event: DomainEvent, system: PaymentSystem, _name: str = name, **_: Any
            ) -> None:
                assert sender is DomainEvent
                assert system.get_enrollment(event.enrollment_id or "").id == event.enrollment_id
                if _name != "*" and event.id in self.fail_on:
                    raise RuntimeError(f"receiver failed on {event.id}")
                self.received.append((_name, event.id))

            uid = f"django_signal_app:{name}"
            signal.disconnect(dispatch_uid=uid)
            signal.connect(receiver, dispatch_uid=uid, weak=False)
