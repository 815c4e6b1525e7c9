"""A real SMTP server for the notifier tests: aiosmtpd on loopback, in a thread of the test.

:class:`MailServer` keeps every message it accepted (as parsed e-mails), can
refuse chosen recipients with a chosen reply, and can require STARTTLS or
implicit TLS and a login. Certificates come from ``trustme``: a throwaway
CA whose :meth:`MailServer.client_context` the notifier trusts.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Mapping
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

__all__ = ["MailServer", "free_port"]

USER, PASSWORD = "billing", "app-password"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class _Handler:
    def __init__(self, server: MailServer) -> None:
        self._server = server

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, _server: SMTP, _session: Session, envelope: Envelope, address: str, _options: Any
    ) -> str:
        refusal = self._server.refuse.get(address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, _server: SMTP, _session: Session, envelope: Envelope
    ) -> str:
        if self._server.refuse_data is not None:
            return self._server.refuse_data
        content = envelope.original_content or b""
        message = BytesParser(policy=policy.default).parsebytes(content)
        assert isinstance(message, EmailMessage)
        with self._server.lock:
            self._server.received.append(message)
            self._server.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted"


def _authenticate(
    _server: SMTP, _session: Session, _envelope: Envelope, _mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)  # handled=False: the server replies 535


class MailServer:
    """An SMTP server on 127.0.0.1 and a free port, until :meth:`stop`.

    ``security``: ``"none"``, ``"starttls"`` (STARTTLS offered and required)
    or ``"ssl"`` (TLS from the first byte). ``auth``: a login is required
    (``billing`` / ``app-password``), over TLS only.
    """

    def __init__(self, *, security: str = "none", auth: bool = False, port: int = 0) -> None:
        self.port = port or free_port()
        self.received: list[EmailMessage] = []
        self.envelopes: list[tuple[str | None, list[str]]] = []
        #: Recipient address -> the reply that refuses it ("550 5.1.1 no such user").
        self.refuse: dict[str, str] = {}
        #: The reply that refuses every message's content ("554 5.6.0 rejected"), if set.
        self.refuse_data: str | None = None
        self.lock = threading.Lock()
        self._ca = trustme.CA()
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_context)
        options: dict[str, Any] = {"authenticator": _authenticate} if auth else {}
        if auth:
            options["auth_required"] = True
            # aiosmtpd counts only STARTTLS as TLS for AUTH; under implicit TLS
            # the whole connection is encrypted anyway.
            options["auth_require_tls"] = security == "starttls"
        if security == "starttls":
            options["tls_context"] = server_context
            options["require_starttls"] = True
        self._controller = Controller(
            _Handler(self),
            hostname="127.0.0.1",
            port=self.port,
            ssl_context=server_context if security == "ssl" else None,
            server_hostname="127.0.0.1",
            **options,
        )
        self._controller.start()

    def client_context(self) -> ssl.SSLContext:
        """An SSL context that trusts this server's certificate."""
        context = ssl.create_default_context()
        self._ca.configure_trust(context)
        return context

    def stop(self) -> None:
        """Stop listening (connections open now are closed)."""
        self._controller.stop()

    def messages(self) -> list[EmailMessage]:
        """A copy of what was accepted so far, oldest first."""
        with self.lock:
            return list(self.received)

    def by_message_id(self) -> Mapping[str, int]:
        """How many accepted messages carry each Message-ID."""
        counts: dict[str, int] = {}
        for message in self.messages():
            key = str(message["Message-ID"])
            counts[key] = counts.get(key, 0) + 1
        return counts
