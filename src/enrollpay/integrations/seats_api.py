"""The seat routes of the JSON API, framework-free like :mod:`.api`.

``GET {prefix}/products/{id}/seats`` answers a product's seats
(:func:`seats_answer`): the limit and the counts (held, reserved, offered,
free), the open offers and the waitlist in order. ``POST
{prefix}/products/{id}/waitlist`` with ``{"user_id": "..."}`` puts a
student in line (:func:`join_waitlist_answer`, 201; the entry comes back
``offered`` when a seat was free). ``POST {prefix}/seat-offers/{id}/accept``
enrolls the offered student with the seat (:func:`accept_offer_answer`,
201, the enrollment; optional ``{"start": "YYYY-MM-DD"}``).

Answers: 404 for an unknown product or offer; 409 when the product is
full, has no limit, the student is already on the list or enrolled, or
the offer is not open (expired, accepted, still waiting); 422 for bad
input. Each error is ``{"error": code, "message": text}``. Like the other
routes they check no identity: the host app must check that the
``user_id`` (or the offer's student) is the signed-in student.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from enrollpay.domain.seats import SeatCounts, WaitlistEntry
from enrollpay.errors import DuplicateError, InvalidInputError, InvalidStateError, NotFoundError
from enrollpay.integrations.api import ApiAnswer, enrollment
from enrollpay.service.seats import SeatsView
from enrollpay.service.system import PaymentSystem

__all__ = [
    "accept_offer_answer",
    "counts",
    "join_waitlist_answer",
    "seats_answer",
    "seats_view",
    "waitlist_entry",
]

JSON = dict[str, Any]


def counts(value: SeatCounts) -> JSON:
    """The limit (None: none) and the seats by holder, with what is free (None: no limit)."""
    return {
        "limit": value.limit,
        "held": value.held,
        "reserved": value.reserved,
        "offered": value.offered,
        "taken": value.taken,
        "free": value.free,
    }


def waitlist_entry(value: WaitlistEntry) -> JSON:
    """An entry: its place in line is its index in ``waitlist``; an offer has its expiry."""
    return {
        "id": value.id,
        "product_id": value.product_id,
        "user_id": value.user_id,
        "status": str(value.status),
        "joined_at": value.joined_at.isoformat(),
        "offered_at": None if value.offered_at is None else value.offered_at.isoformat(),
        "offer_expires_at": (
            None if value.offer_expires_at is None else value.offer_expires_at.isoformat()
        ),
        "enrollment_id": value.enrollment_id,
    }


def seats_view(value: SeatsView) -> JSON:
    """A product's seats: counts, the open offers and the whole open line in order."""
    return {
        "product_id": value.product_id,
        "seats": counts(value.counts),
        "offers": [waitlist_entry(e) for e in value.offers],
        "waitlist": [waitlist_entry(e) for e in value.waitlist],
    }


def _error(status: int, code: str, message: str) -> ApiAnswer:
    return ApiAnswer(status, {"error": code, "message": message})


def _refusal(exc: Exception) -> ApiAnswer:
    """The answer for a typed refusal of the facade."""
    if isinstance(exc, NotFoundError):
        return _error(404, "not_found", str(exc))
    if isinstance(exc, (InvalidStateError, DuplicateError)):
        return _error(409, "conflict", str(exc))
    return _error(422, "invalid_input", str(exc))


def seats_answer(system: PaymentSystem, product_id: str) -> ApiAnswer:
    """Answer ``GET /products/{id}/seats``."""
    try:
        return ApiAnswer(200, seats_view(system.seats(product_id)))
    except (NotFoundError, InvalidInputError) as exc:
        return _refusal(exc)


def join_waitlist_answer(
    system: PaymentSystem, product_id: str, body: Mapping[str, Any] | None
) -> ApiAnswer:
    """Answer ``POST /products/{id}/waitlist`` with ``{"user_id": ...}``."""
    user_id = (body or {}).get("user_id")
    if not isinstance(user_id, str) or not user_id.strip():
        return _error(422, "invalid_input", "user_id (a string) is required")
    try:
        return ApiAnswer(201, waitlist_entry(system.join_waitlist(user_id, product_id)))
    except (NotFoundError, InvalidInputError, InvalidStateError, DuplicateError) as exc:
        return _refusal(exc)


def accept_offer_answer(
    system: PaymentSystem, offer_id: str, body: Mapping[str, Any] | None
) -> ApiAnswer:
    """Answer ``POST /seat-offers/{id}/accept`` (optional ``{"start": "YYYY-MM-DD"}``)."""
    raw = (body or {}).get("start")
    try:
        start = None if raw is None else date.fromisoformat(str(raw))
    except ValueError:
        return _error(422, "invalid_input", "start must be an ISO date (YYYY-MM-DD)")
    try:
        result = system.accept_seat_offer(offer_id, start=start)
    except (NotFoundError, InvalidInputError, InvalidStateError, DuplicateError) as exc:
        return _refusal(exc)
    return ApiAnswer(
        201,
        {
            "enrollment": enrollment(result.enrollment),
            "requires_immediate_payment": result.requires_immediate_payment,
            "client_secret": result.client_secret,
        },
    )
