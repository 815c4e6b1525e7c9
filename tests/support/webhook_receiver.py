"""A real HTTP receiver for the outgoing-webhook tests: http.server on loopback, in a thread.

It answers the next status of its script (200 once the script is spent),
and records every request. With a ``secret`` it behaves as a host app
should: it checks the signature with :func:`enrollpay.integrations.signing.verify`
against the test's clock and answers 400 to a request that fails, 200 to
one that passes. It can be stopped and started again on the same port, to
play a receiver that is down, then up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs

from enrollpay.errors_events import WebhookVerificationError
from enrollpay.integrations.signing import SIGNATURE_HEADER, verify
from tests.support.smtp_server import free_port

__all__ = ["Received", "Receiver"]


@attrs.frozen
class Received:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    status: int
    verified: dict[str, Any] | None = None
    refusal: str | None = None


class Receiver:
    """A webhook receiver on ``http://127.0.0.1:<port>/hooks``."""

    def __init__(
        self, *, secret: str | None = None, now: Callable[[], float] | None = None
    ) -> None:
        self.port = free_port()
        self.secret = secret
        self.now = now
        self.script: list[int] = []
        self.received: list[Received] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Where to POST."""
        return f"http://127.0.0.1:{self.port}/hooks"

    @property
    def accepted(self) -> list[Received]:
        """The requests answered 2xx."""
        return [r for r in self.received if 200 <= r.status < 300]

    def start(self) -> None:
        """Listen (again, on the same port)."""
        if self._server is not None:
            return
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, verified, refusal = receiver.answer(headers, body)
                receiver.received.append(
                    Received(self.path, headers, body, status, verified, refusal)
                )
                self.send_response(status)
                if status in (301, 302, 307, 308):
                    self.send_header("Location", receiver.url + "/moved")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass  # keep the test output clean

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening: connections are refused until :meth:`start`."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        assert self._thread is not None
        self._thread.join(timeout=5)
        self._server = self._thread = None

    def answer(
        self, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any] | None, str | None]:
        """The scripted status; else, with a secret, 400 unless the signature verifies."""
        if self.script:
            return self.script.pop(0), None, None
        if self.secret is None:
            return 200, None, None
        try:
            now = None if self.now is None else self.now()
            event = verify(body, headers.get(SIGNATURE_HEADER.lower()), self.secret, now=now)
        except WebhookVerificationError as error:
            return 400, None, type(error).__name__
        return 200, event, None
