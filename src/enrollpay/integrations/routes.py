"""The JSON API's routes, written once for every framework adapter.

Each :class:`Route` is a method, a path template with named parameters
(``/payers/{payer_id}/statement``), a route name and a handler taking
``(system, path parameters, query parameters, parsed JSON body or None)``.
:func:`serve` runs one and turns its answer into a :class:`Reply` (status,
content type, bytes, extra headers) that FastAPI, Flask and Django each
wrap in their own response class, so the three answer the same bytes.
:data:`API_ROUTES` is the API a student portal may serve (reads, and the
seat routes, which write); :data:`PLAN_CHANGE_ROUTES` are the staff's plan
changes, kept apart so an app serves them only behind its staff's
authentication. :func:`flask_path` and :func:`django_path` translate a
template to those frameworks' syntax (FastAPI's is the template itself).

Every POST route takes a JSON object or nothing. An empty body reaches
the handler as None (422 where the route needs a body); a body that is
not JSON, or is JSON but not an object, is refused by :func:`serve` with
422 ``invalid_input`` before any handler runs, so a broken request never
falls back to a default (an offer accepted with the default start).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal

import attrs

from enrollpay.integrations.api import ApiAnswer, payment_details_answer, plans_answer
from enrollpay.integrations.payers_api import payer_answer, payers_answer, statement_answer
from enrollpay.integrations.plan_change_api import plan_change_answer
from enrollpay.integrations.receipts_api import ReceiptDocument, receipt_answer, receipt_document
from enrollpay.integrations.seats_api import (
    accept_offer_answer,
    join_waitlist_answer,
    seats_answer,
)
from enrollpay.service.system import PaymentSystem

__all__ = [
    "API_ROUTES",
    "PLAN_CHANGE_ROUTES",
    "ROUTES_BY_NAME",
    "Handler",
    "Reply",
    "Route",
    "django_path",
    "flask_path",
    "parse_body",
    "reply",
    "serve",
]

#: A route's work: (system, path parameters, query parameters, JSON body or None) -> answer.
Handler = Callable[
    [PaymentSystem, Mapping[str, str], Mapping[str, str], object],
    ApiAnswer | ReceiptDocument,
]

_PARAMETER: Final = re.compile(r"\{([a-z_]+)\}")


@attrs.frozen
class Route:
    """One route of the API: what it answers, where, and how."""

    method: Literal["GET", "POST"]
    #: The path under the app's prefix, parameters in braces: ``/payers/{payer_id}``.
    path: str
    #: The route's name in every framework (FastAPI's route name, Flask's endpoint).
    name: str
    handler: Handler
    #: One line for the framework's route listing (FastAPI's OpenAPI summary).
    summary: str

    @property
    def parameters(self) -> tuple[str, ...]:
        """The names of the path parameters, in order."""
        return tuple(_PARAMETER.findall(self.path))


@attrs.frozen
class Reply:
    """An answer ready for any framework's response class."""

    status: int
    content_type: str
    body: bytes
    headers: Mapping[str, str] = attrs.field(factory=dict)


def flask_path(template: str) -> str:
    """``/payers/{payer_id}`` as Flask routes it: ``/payers/<payer_id>``."""
    return _PARAMETER.sub(r"<\1>", template)


def django_path(template: str) -> str:
    """``/payers/{payer_id}`` as Django's ``path()`` routes it: ``payers/<str:payer_id>``.

    Without the leading slash: Django's patterns are relative to where the
    project ``include()`` s them.
    """
    return _PARAMETER.sub(r"<str:\1>", template).removeprefix("/")


def parse_body(raw: bytes) -> object:
    """The JSON value of a request body; None when it is empty or not JSON."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:  # UnicodeDecodeError included
        return None


def reply(answer: ApiAnswer | ReceiptDocument) -> Reply:
    """The answer as status, content type and bytes (JSON written as FastAPI writes it)."""
    if isinstance(answer, ReceiptDocument):
        headers = {}
        if answer.filename is not None:
            headers["Content-Disposition"] = f'attachment; filename="{answer.filename}"'
        return Reply(answer.status, answer.content_type, answer.body, headers)
    text = json.dumps(dict(answer.body), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return Reply(answer.status, "application/json", text.encode())


def serve(
    route: Route,
    system: PaymentSystem,
    parameters: Mapping[str, str],
    query: Mapping[str, str],
    raw_body: bytes = b"",
) -> Reply:
    """Run ``route`` for one request (the body is read only by POST routes)."""
    body = None
    if route.method == "POST":
        body = parse_body(raw_body)
        if not isinstance(body, dict) and raw_body.strip():
            return reply(_NOT_AN_OBJECT)
    return reply(route.handler(system, parameters, query, body))


_NOT_AN_OBJECT: Final = ApiAnswer(
    422, {"error": "invalid_input", "message": "the body must be a JSON object"}
)


def _object(body: object) -> dict[str, Any] | None:
    """The body when it is a JSON object (the seat routes read nothing else)."""
    return body if isinstance(body, dict) else None


API_ROUTES: Final[tuple[Route, ...]] = (
    Route(
        "GET", "/plans", "enrollpay_plans",
        lambda system, _, query, __: plans_answer(system, query),
        "The plans a checkout may offer for a product, each with its schedule.",
    ),
    Route(
        "GET", "/enrollments/{enrollment_id}/payment", "enrollpay_payment_details",
        lambda system, path, _, __: payment_details_answer(system, path["enrollment_id"]),
        "An enrollment's schedule, payments, balances, access and paid-through date.",
    ),
    Route(
        "GET", "/receipts/{receipt_id}", "enrollpay_receipt",
        lambda system, path, _, __: receipt_answer(system, path["receipt_id"]),
        "A receipt or credit note as JSON.",
    ),
    Route(
        "GET", "/receipts/{receipt_id}/html", "enrollpay_receipt_html",
        lambda system, path, query, _: receipt_document(system, path["receipt_id"], "html", query),
        "The receipt as an HTML page (?locale=fr_FR&timezone=Europe/Paris).",
    ),
    Route(
        "GET", "/receipts/{receipt_id}/pdf", "enrollpay_receipt_pdf",
        lambda system, path, query, _: receipt_document(system, path["receipt_id"], "pdf", query),
        "The receipt as a PDF download (same query parameters).",
    ),
    Route(
        "GET", "/payers", "enrollpay_payers",
        lambda system, _, __, ___: payers_answer(system),
        "Every payer.",
    ),
    Route(
        "GET", "/payers/{payer_id}", "enrollpay_payer",
        lambda system, path, _, __: payer_answer(system, path["payer_id"]),
        "One payer.",
    ),
    Route(
        "GET", "/payers/{payer_id}/statement", "enrollpay_payer_statement",
        lambda system, path, query, _: statement_answer(system, path["payer_id"], query),
        "A payer's statement (?currency=USD).",
    ),
    Route(
        "GET", "/products/{product_id}/seats", "enrollpay_seats",
        lambda system, path, _, __: seats_answer(system, path["product_id"]),
        "A product's seat counts, open offers and waitlist in order.",
    ),
    Route(
        "POST", "/products/{product_id}/waitlist", "enrollpay_join_waitlist",
        lambda system, path, _, body: join_waitlist_answer(
            system, path["product_id"], _object(body)
        ),
        'Put {"user_id": ...} in line for a full product (201, the entry).',
    ),
    Route(
        "POST", "/seat-offers/{offer_id}/accept", "enrollpay_accept_seat_offer",
        lambda system, path, _, body: accept_offer_answer(system, path["offer_id"], _object(body)),
        "Enroll the offered student with the seat (201, the enrollment).",
    ),
)  # fmt: skip

PLAN_CHANGE_ROUTES: Final[tuple[Route, ...]] = (
    Route(
        "POST", "/enrollments/{enrollment_id}/plan-change/preview", "enrollpay_plan_preview",
        lambda system, path, _, body: plan_change_answer(
            system, path["enrollment_id"], body, apply=False
        ),
        "What moving the enrollment to another plan would do; writes nothing.",
    ),
    Route(
        "POST", "/enrollments/{enrollment_id}/plan-change", "enrollpay_plan_change",
        lambda system, path, _, body: plan_change_answer(
            system, path["enrollment_id"], body, apply=True
        ),
        "Move the enrollment's remaining balance to another plan (audited).",
    ),
)  # fmt: skip

#: Every route by its name (``ROUTES_BY_NAME["enrollpay_plans"]``).
ROUTES_BY_NAME: Final[Mapping[str, Route]] = {
    route.name: route for route in API_ROUTES + PLAN_CHANGE_ROUTES
}
