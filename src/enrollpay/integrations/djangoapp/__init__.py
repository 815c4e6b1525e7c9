"""The Django app: outbox events as Django signals, a dispatch command and a task function.

Add it to ``INSTALLED_APPS``::

    INSTALLED_APPS = [..., "enrollpay.integrations.djangoapp"]

then connect receivers, in your app's ``AppConfig.ready``::

    from django.dispatch import receiver
    from enrollpay.integrations.djangoapp import signal_for

    @receiver(signal_for("access.suspended"))
    def revoke_course_access(sender, event, system, **kwargs):
        enrollment = system.get_enrollment(event.enrollment_id)
        ...

and dispatch the outbox: ``python manage.py enrollpay_dispatch`` from cron,
or :func:`dispatch` from a task. For each event, in the order they
occurred, the kind's signal is sent, then :data:`event_dispatched` (every
event), then the ``EVENT_HANDLERS`` and ``WEBHOOKS`` of the ``ENROLLPAY``
setting (see :func:`event_handler`). Receivers get ``sender=DomainEvent``,
``event=`` the :class:`~enrollpay.domain.events.DomainEvent` and
``system=`` the :class:`~enrollpay.PaymentSystem` it came from.

Delivery is at least once: a receiver that raises stops the run and the
event is sent again, to every receiver, by the next one; a crash between a
receiver's return and the delivery mark does the same. Receivers dedupe
by ``event.id``.
"""

from enrollpay.integrations.djangoapp.signals import (
    SIGNALS,
    event_dispatched,
    send_signals,
    signal_for,
)
from enrollpay.integrations.djangoapp.wiring import dispatch, event_handler

__all__ = [
    "SIGNALS",
    "dispatch",
    "event_dispatched",
    "event_handler",
    "send_signals",
    "signal_for",
]
