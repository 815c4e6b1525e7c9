"""A Stripe list API for the drift benchmark, serving one generated record fast.

``python -m benchmarks.ledger_server PAYMENTS REFUNDS`` starts an HTTP
server on a free local port, prints the port on one line, and answers
``GET /v1/payment_intents``, ``GET /v1/refunds`` and ``GET /v1/disputes``
(none: the record has no disputes) as Stripe does
(``created[gte]``, ``limit``, ``starting_after``, ``has_more``, newest
first) until it is killed. It runs in a process of its own so that the
measured process spends its time in the client alone.

The record (:func:`record`): ``PAYMENTS`` succeeded PaymentIntents of
100.00 USD, ``pi_bench_<n>`` of customer ``cus_<n>`` with the library's
metadata, one second apart before the benchmark's instant; and ``REFUNDS``
refunds of 25.00 made in the dashboard (no metadata), spread evenly over
the payments. Each list is kept newest first with an index of positions,
so a page costs its own JSON and nothing more.
"""

from __future__ import annotations

import bisect
import json
import sys
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from benchmarks.seed import BENCH_NOW, INSTALLMENT_MINOR, gateway_payment_id

__all__ = ["REFUND_MINOR", "record", "refunded_payments"]

#: What each dashboard refund gives back (of a 100.00 payment).
REFUND_MINOR = 2_500


def refunded_payments(payments: int, refunds: int) -> list[int]:
    """Which payments (by number) the dashboard refunds, spread evenly."""
    step = max(payments // max(refunds, 1), 1)
    return [k * step for k in range(refunds)]


def record(payments: int, refunds: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The gateway's PaymentIntents and Refunds, each list newest first."""
    first = int((BENCH_NOW - timedelta(seconds=payments + refunds + 10)).timestamp())
    intents = [
        {
            "id": gateway_payment_id(n),
            "object": "payment_intent",
            "amount": INSTALLMENT_MINOR,
            "currency": "usd",
            "customer": f"cus_{n:07d}",
            "payment_method": "pm_card_visa",
            "status": "succeeded",
            "created": first + n,
            "livemode": False,
            "last_payment_error": None,
            "metadata": {
                "attempt_id": f"att_{n:07d}",
                "item_id": f"itm_{n:07d}_1",
                "enrollment_id": f"enr_{n:07d}",
                "enrollpay_attempt_key": f"item:itm_{n:07d}_1:attempt:1",
            },
        }
        for n in range(payments)
    ]
    made = [
        {
            "id": f"re_bench_{k:07d}",
            "object": "refund",
            "amount": REFUND_MINOR,
            "currency": "usd",
            "payment_intent": gateway_payment_id(n),
            "status": "succeeded",
            "created": first + payments + k,
            "metadata": {},
        }
        for k, n in enumerate(refunded_payments(payments, refunds))
    ]
    return intents[::-1], made[::-1]


class _Listing:
    """One list, newest first: a page after an id, of the objects created since a time."""

    def __init__(self, url: str, objects: list[dict[str, Any]]) -> None:
        self.url = url
        self.objects = objects
        self.position = {o["id"]: i for i, o in enumerate(objects)}
        # Ascending negated times, for bisect: created >= gte <=> -created <= -gte.
        self._keys = [-int(o["created"]) for o in objects]

    def page(self, query: dict[str, list[str]]) -> dict[str, Any]:
        gte = query.get("created[gte]")
        end = len(self.objects) if gte is None else bisect.bisect_right(self._keys, -int(gte[0]))
        after = query.get("starting_after")
        start = 0 if after is None else self.position[after[0]] + 1
        limit = int(query.get("limit", ["10"])[0])
        data = self.objects[start : min(start + limit, end)]
        return {"object": "list", "url": self.url, "data": data, "has_more": start + limit < end}


def _handler(listings: dict[str, _Listing]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as Stripe's API
        # Headers and body go out as two writes: without this, the client's
        # delayed ACK holds the body back about 40 ms per request.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            split = urlsplit(self.path)
            listing = listings.get(split.path)
            status, body = (
                (404, {"error": {"type": "invalid_request_error", "message": "no route"}})
                if listing is None
                else (200, listing.page(parse_qs(split.query)))
            )
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", "req_bench")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    return Handler


def main(argv: list[str]) -> None:
    """Serve the record of ``argv`` (payments, refunds) until killed."""
    intents, refunds = record(int(argv[0]), int(argv[1]))
    listings = {
        "/v1/payment_intents": _Listing("/v1/payment_intents", intents),
        "/v1/refunds": _Listing("/v1/refunds", refunds),
        "/v1/disputes": _Listing("/v1/disputes", []),
    }
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(listings))
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
