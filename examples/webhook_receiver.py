"""A receiver for enrollpay's outgoing webhooks, on the standard library's HTTP server.

What a school's own server does with each POST: verify the signature over
the raw body, answer 400 to anything that fails, skip an event it has seen
(delivery is at least once), act on the new ones, answer 200 quickly.
Run it with ``python -m examples.webhook_receiver`` (secret in
``ENROLLPAY_WEBHOOK_SECRET``), and point a
:class:`~enrollpay.integrations.webhooks.WebhookEndpoint` at
``http://127.0.0.1:8099/``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from enrollpay.errors_events import WebhookVerificationError
from enrollpay.integrations.signing import SIGNATURE_HEADER, verify

__all__ = ["make_server"]

Act = Callable[[dict[str, Any]], None]


def make_server(
    secret: str, act: Act, *, host: str = "127.0.0.1", port: int = 8099
) -> ThreadingHTTPServer:
    """A server that verifies each webhook and calls ``act(event)`` once per event id."""
    seen: set[str] = set()  # a real app keeps this in its database, next to what ``act`` changes

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                event = verify(body, self.headers.get(SIGNATURE_HEADER), secret)
            except WebhookVerificationError as error:
                self._answer(400, {"error": type(error).__name__})
                return
            if event["id"] not in seen:
                act(event)
                seen.add(event["id"])
            self._answer(200, {"received": event["id"]})

        def _answer(self, status: int, body: dict[str, str]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args: Any) -> None:
            pass

    return ThreadingHTTPServer((host, port), Handler)


def main() -> None:
    """Serve until interrupted, printing the access changes."""

    def act(event: dict[str, Any]) -> None:
        if event["kind"] in ("access.suspended", "access.revoked"):
            print("revoke LMS access for enrollment", event["enrollment_id"])

    make_server(os.environ["ENROLLPAY_WEBHOOK_SECRET"], act).serve_forever()


if __name__ == "__main__":
    main()
