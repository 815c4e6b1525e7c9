"""The app's configuration: its receivers are connected when Django is ready."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig

from enrollpay import PaymentSystem
from enrollpay.domain.events import DomainEvent
from enrollpay.integrations.djangoapp import signal_for
from examples.lms import Lms, on_access_restored, on_access_suspended

#: (kind, what to do): the LMS follows access, one receiver per kind
_RECEIVERS = (
    ("access.suspended", on_access_suspended),
    ("access.revoked", on_access_suspended),
    ("access.granted", on_access_restored),
    ("access.restored", on_access_restored),
)


class DjangoLmsConfig(AppConfig):  # type: ignore[misc] # Django is untyped (see pyproject)
    """Holds the LMS client and connects one receiver per access event."""

    name = "examples.django_lms"
    label = "django_lms"

    def ready(self) -> None:
        """Connect the receivers (again, if Django's app registry is rebuilt, as in tests)."""
        self.lms = Lms()
        for kind, action in _RECEIVERS:

            def receiver(
                sender: Any, event: DomainEvent, system: PaymentSystem, _act: Any = action, **_: Any
            ) -> None:
                _act(system, self.lms, event)

            signal = signal_for(kind)
            uid = f"examples.django_lms:{kind}"
            signal.disconnect(dispatch_uid=uid)  # a registry rebuilt in tests calls ready again
            signal.connect(receiver, dispatch_uid=uid, weak=False)  # a closure: keep it alive
