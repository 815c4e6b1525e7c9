"""Tell students what happened: e-mails built from the outbox's events, sent once each.

>>> from enrollpay.notifications import NOTIFICATION_KINDS
>>> [(kind.name, kind.event_kind) for kind in NOTIFICATION_KINDS.values()][:2]
[('payment_failed', 'payment.failed'), ('access_suspended', 'access.suspended')]

The port is :class:`Notifier` (what sends a :class:`Notification` to a
:class:`Recipient`); :class:`NotificationHandler` is the handler
``PaymentSystem.dispatch_events`` calls. Adapters: :mod:`.smtp`
(``SmtpNotifier``), :mod:`.log` (``LoggingNotifier``) and, for tests,
:class:`enrollpay.testing.RecordingNotifier`. See
docs/howto/notifications.md.
"""

from enrollpay.notifications.handler import (
    DEDUPE_WINDOW,
    NOTIFICATION_FAULT_POINTS,
    NotificationHandler,
)
from enrollpay.notifications.kinds import COMMON_VALUES, NOTIFICATION_KINDS, NotificationKind
from enrollpay.notifications.templates import Greeting, Template, Templates
from enrollpay.ports.notifier import Notification, Notifier, Recipient

__all__ = [
    "COMMON_VALUES",
    "DEDUPE_WINDOW",
    "NOTIFICATION_FAULT_POINTS",
    "NOTIFICATION_KINDS",
    "Greeting",
    "Notification",
    "NotificationHandler",
    "NotificationKind",
    "Notifier",
    "Recipient",
    "Template",
    "Templates",
]
