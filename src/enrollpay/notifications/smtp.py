"""The SMTP notifier: each notification as a MIME e-mail, sent with the standard library.

>>> notifier = SmtpNotifier("smtp.example.org", sender="Acme Academy <billing@acme.example>",
...                         username="billing", password="app-password")

Each message has a text part and an HTML alternative, the notification's
locale as ``Content-Language``, ``Auto-Submitted: auto-generated`` (RFC
3834: no vacation replies) and a Message-ID made from the event id and the
kind, so a message sent again after a crash carries the Message-ID of the
first. One connection is opened on first use and kept (checked with
``NOOP`` before reuse, opened again if the server dropped it); :meth:`close`
ends it.

Failures become :class:`~enrollpay.errors.NotificationDeliveryError`:
``permanent`` when the server refused the recipient or the message for good
(a 5xx answer to ``RCPT`` or ``DATA``) or the address cannot be written in
an e-mail header at all (``ana..b@example.org``), transient otherwise (no connection,
a timeout, a 4xx answer, refused credentials or sender: those are fixed on
the server's side, and the event waits in the outbox until they are).
"""

from __future__ import annotations

import html
import smtplib
import ssl
import threading
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from types import TracebackType
from typing import Literal

from enrollpay.errors import NotificationConfigError, NotificationDeliveryError
from enrollpay.ports.notifier import Notification

__all__ = ["Security", "SmtpNotifier"]

#: How the connection is secured: STARTTLS after connecting, TLS from the start, or not at all.
Security = Literal["starttls", "ssl", "none"]
_PORTS: dict[str, int] = {"starttls": 587, "ssl": 465, "none": 25}
_PERMANENT = 500


def _sender(value: str) -> Address:
    name, address = parseaddr(value)
    local, at, domain = address.rpartition("@")
    if not (local and at and domain):
        raise NotificationConfigError(f"sender must be an e-mail address, got {value!r}")
    return Address(display_name=name, addr_spec=address)


class SmtpNotifier:
    """Sends notifications through an SMTP server (see the module doc)."""

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        sender: str,
        security: Security = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
        reply_to: str | None = None,
        message_id_domain: str | None = None,
        local_hostname: str | None = None,
    ) -> None:
        if security not in _PORTS:
            raise NotificationConfigError(f"security must be one of {list(_PORTS)}")
        if (username is None) != (password is None):
            raise NotificationConfigError("give both username and password, or neither")
        if username is not None and security == "none":
            raise NotificationConfigError("a password is never sent unencrypted: use starttls/ssl")
        self._host = host
        self._port = _PORTS[security] if port is None else port
        self._sender = _sender(sender)
        self._reply_to = None if reply_to is None else _sender(reply_to)
        self._security = security
        self._credentials = None if username is None else (username, password or "")
        self._timeout = timeout
        self._context = ssl_context or ssl.create_default_context()
        self._domain = message_id_domain or self._sender.domain
        self._local_hostname = local_hostname
        self._connection: smtplib.SMTP | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SmtpNotifier({self._host}:{self._port}, {self._security}, from {self._sender})"

    def message(self, notification: Notification) -> EmailMessage:
        """The e-mail ``notification`` becomes (what :meth:`send` sends)."""
        n = notification
        message = EmailMessage()
        message["Subject"] = n.subject
        message["From"] = self._sender
        message["To"] = Address(display_name=n.recipient.name or "", addr_spec=n.recipient.address)
        if self._reply_to is not None:
            message["Reply-To"] = self._reply_to
        message["Date"] = format_datetime(n.at)
        message["Message-ID"] = n.message_id(self._domain)
        message["Auto-Submitted"] = "auto-generated"
        message["X-Enrollpay-Notification"] = n.kind
        message.set_content(n.text)
        message.add_alternative(_document(n), subtype="html")
        # After the parts are made: making them moves every Content-* header into the first.
        message["Content-Language"] = n.locale.replace("_", "-")
        return message

    def send(self, notification: Notification) -> None:
        """Send it, or raise :class:`~enrollpay.errors.NotificationDeliveryError` (see above)."""
        try:
            message = self.message(notification)
        except ValueError as error:  # the email package's header defects are ValueErrors
            raise NotificationDeliveryError(
                f"cannot write an e-mail to {notification.recipient.address!r}: {error}",
                permanent=True,
            ) from error
        with self._lock:
            try:
                self._open().send_message(message)
            except smtplib.SMTPRecipientsRefused as error:
                self._drop()
                codes = [code for code, _ in error.recipients.values()]
                raise NotificationDeliveryError(
                    f"the server refused {notification.recipient.address}: {error.recipients}",
                    permanent=all(code >= _PERMANENT for code in codes),
                ) from error
            except smtplib.SMTPDataError as error:
                self._drop()
                raise NotificationDeliveryError(
                    f"the server refused the message: {error.smtp_code} {error.smtp_error!r}",
                    permanent=error.smtp_code >= _PERMANENT,
                ) from error
            except (smtplib.SMTPException, OSError) as error:
                self._drop()
                raise NotificationDeliveryError(
                    f"could not send through {self._host}:{self._port}: {error}"
                ) from error

    def close(self) -> None:
        """End the connection, if one is open (politely; errors ignored)."""
        with self._lock:
            if self._connection is not None:
                try:
                    self._connection.quit()
                except (smtplib.SMTPException, OSError):
                    self._connection.close()
                self._connection = None

    def __enter__(self) -> SmtpNotifier:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _error: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _open(self) -> smtplib.SMTP:
        """The kept connection if it still answers, else a new one (secured, logged in)."""
        if self._connection is not None:
            try:
                if self._connection.noop()[0] == 250:
                    return self._connection
            except (smtplib.SMTPException, OSError):
                pass
            self._drop()
        connection: smtplib.SMTP
        if self._security == "ssl":
            connection = smtplib.SMTP_SSL(
                self._host,
                self._port,
                local_hostname=self._local_hostname,
                timeout=self._timeout,
                context=self._context,
            )
        else:
            connection = smtplib.SMTP(
                self._host, self._port, local_hostname=self._local_hostname, timeout=self._timeout
            )
        try:
            if self._security == "starttls":
                connection.starttls(context=self._context)
            if self._credentials is not None:
                connection.login(*self._credentials)
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        return connection

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _document(notification: Notification) -> str:
    """The HTML part as a document: a fragment gets a minimal page around it."""
    body = notification.html
    if body.lstrip()[:9].lower() in ("<!doctype", "<html>") or body.lstrip().startswith("<html "):
        return body
    lang = html.escape(notification.locale.replace("_", "-"))
    title = html.escape(notification.subject)
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head><meta charset="utf-8">'
        f"<title>{title}</title></head>\n<body>\n{body.strip()}\n</body>\n</html>\n"
    )
