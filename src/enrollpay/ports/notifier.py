"""The notifier port: what a notification is, who it is for, and what sends it.

:class:`~enrollpay.notifications.NotificationHandler` turns outbox events
into :class:`Notification` values (rendered from templates in the
recipient's language) and hands each to a :class:`Notifier`. Adapters: the
SMTP notifier (:mod:`enrollpay.notifications.smtp`), the logging notifier
(:mod:`enrollpay.notifications.log`) and the recording notifier for tests
(:class:`enrollpay.testing.RecordingNotifier`); a host application may
write its own (a transactional-mail API, a push service).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from enrollpay.errors import InvalidInputError

__all__ = ["Notification", "Notifier", "Recipient"]

#: The longest address SMTP carries (RFC 5321's path limit, less the brackets).
_MAX_ADDRESS = 254
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: What may stand in a Message-ID's left part as it is (RFC 5322 dot-atom text, roughly).
_ID_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def _address(_instance: object, _attribute: object, value: str) -> None:
    if not isinstance(value, str):
        raise InvalidInputError(f"a recipient address must be a string, got {value!r}")
    local, at, domain = value.rpartition("@")
    if (
        not at
        or not local
        or not domain
        or len(value) > _MAX_ADDRESS
        or any(c.isspace() for c in value)
        or _CONTROL.search(value)
    ):
        raise InvalidInputError(f"not an e-mail address: {value!r}")


def _one_line(_instance: object, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is not None and (not isinstance(value, str) or _CONTROL.search(value)):
        raise InvalidInputError(f"recipient {attribute.name} must be one line of text")


def _zone(_instance: object, _attribute: object, value: str | None) -> None:
    if value is None:
        return
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as error:
        raise InvalidInputError(f"unknown time zone {value!r}") from error


def _strings(values: Mapping[str, str]) -> Mapping[str, str]:
    return dict(values)


@attrs.frozen
class Recipient:
    """Who a notification is for, as the host application knows them.

    ``locale`` (``"fr"``, ``"fr_CA"``, ``"ja-JP"``) picks the language of the
    text and how money and dates are written; None means the handler's
    default. ``timezone`` (an IANA name) decides on which day an instant,
    such as the next retry, falls for them; None means the system's
    business time zone.
    """

    address: str = attrs.field(validator=_address)
    name: str | None = attrs.field(default=None, validator=_one_line)
    locale: str | None = attrs.field(default=None, validator=_one_line)
    timezone: str | None = attrs.field(default=None, validator=_zone)


@attrs.frozen
class Notification:
    """One message to one recipient, rendered and ready to send.

    ``kind`` is a notification kind (``payment_failed``, see
    :data:`~enrollpay.notifications.NOTIFICATION_KINDS`) and ``event_id``
    the outbox event it tells of: together they identify it (:attr:`key`),
    so a notifier that sees the same pair twice is seeing one message
    again. ``locale`` is the one it was written in; ``values`` are what
    the template was filled with; ``at`` is when it was composed.
    """

    kind: str
    event_id: str
    enrollment_id: str | None
    user_id: str
    recipient: Recipient
    locale: str
    subject: str
    text: str
    html: str
    at: datetime
    values: Mapping[str, str] = attrs.field(factory=dict, converter=_strings, hash=False)

    @property
    def key(self) -> str:
        """``event_id.kind``: the same for every send of this notification (an idempotency key)."""
        return f"{self.event_id}.{self.kind}"

    def message_id(self, domain: str) -> str:
        """A Message-ID header made from :attr:`key`: equal for every send of this notification.

        ``<key@domain>``, with any character a Message-ID may not hold in
        its left part replaced by ``-``. Mail systems that drop a message
        whose Message-ID they have seen recognise a resend by it.
        """
        if not domain or _CONTROL.search(domain) or any(c in domain for c in "<>@ "):
            raise InvalidInputError(f"not a Message-ID domain: {domain!r}")
        return f"<{_ID_SAFE.sub('-', self.key)}@{domain}>"


@runtime_checkable
class Notifier(Protocol):
    """Sends notifications: e-mail, a mail API, a push service, a log, a list in a test.

    :meth:`send` returns once the message is accepted for delivery. It
    raises :class:`~enrollpay.errors.NotificationDeliveryError` when it was
    not: ``permanent=True`` when sending again cannot help (the handler then
    logs it and moves on), else the failure is transient and the event
    stays in the outbox for the next dispatch. Any other exception is
    treated as transient too.
    """

    def send(self, notification: Notification) -> None:
        """Deliver ``notification`` (or raise, see the class)."""
        ...
