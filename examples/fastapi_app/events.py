"""The FastAPI app's event handlers: the LMS follows enrollpay's access events.

The worker (``python -m examples.fastapi_app.worker``) dispatches the
outbox to :data:`events` after each collection run::

    events = lms_events(system, lms)
    events.dispatch(system)
"""

from __future__ import annotations

from functools import partial

from enrollpay import PaymentSystem
from enrollpay.integrations.fastapi import EventRegistry
from examples.lms import Lms, on_access_restored, on_access_suspended

__all__ = ["lms_events"]


def lms_events(system: PaymentSystem, lms: Lms) -> EventRegistry:
    """A registry that revokes LMS access on ``access.suspended`` and grants it back."""
    events = EventRegistry()
    events.on("access.suspended", "access.revoked")(partial(on_access_suspended, system, lms))
    events.on("access.granted", "access.restored")(partial(on_access_restored, system, lms))
    return events
