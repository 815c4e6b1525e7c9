"""FastAPI wiring: the webhook route and the system on ``app.state``.

>>> from fastapi import FastAPI
>>> from enrollpay.integrations.fastapi import attach_system, system_from_env, webhook_router
>>> app = FastAPI()
>>> system = attach_system(app, system_from_env({"ENROLLPAY_DATABASE_URL": "sqlite://"}))
>>> app.include_router(webhook_router(), prefix="/api")
>>> app.include_router(api_router(), prefix="/api")  # GET /api/plans, /api/enrollments/...

The webhook route reads the raw body (never parsed as JSON first: the signature
covers its exact bytes), runs the blocking ``handle_webhook`` in the thread
pool, and answers with the status codes of :mod:`enrollpay.integrations`.
Needs the ``fastapi`` extra.

Outbox events reach the app through an
:class:`~enrollpay.integrations.events.EventRegistry` (re-exported here):
``@events.on("access.suspended")`` on your functions, then
``events.dispatch(system)`` from the worker that runs ``collect_due``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from enrollpay.integrations import (
    MAX_WEBHOOK_BODY,
    WEBHOOK_TOO_LARGE,
    WebhookResponse,
    body_too_large,
    system_from_env,
    webhook_response,
)
from enrollpay.integrations.api import ApiAnswer, payment_details_answer, plans_answer
from enrollpay.integrations.events import EventRegistry
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
    "STATE_KEY",
    "EventRegistry",
    "api_router",
    "attach_system",
    "get_system",
    "handle_stripe_webhook",
    "plan_change_router",
    "read_raw_body",
    "system_from_env",
    "webhook_router",
]

#: The attribute of ``app.state`` that holds the system.
STATE_KEY = "enrollpay_system"


def attach_system(app: FastAPI, system: PaymentSystem) -> PaymentSystem:
    """Keep ``system`` on ``app.state`` for :func:`get_system` (returns it)."""
    setattr(app.state, STATE_KEY, system)
    return system


def get_system(request: Request) -> PaymentSystem:
    """A dependency: the system attached to the request's app.

    Use it as ``system: Annotated[PaymentSystem, Depends(get_system)]``.
    """
    system = getattr(request.app.state, STATE_KEY, None)
    if not isinstance(system, PaymentSystem):
        raise RuntimeError("no PaymentSystem attached: call attach_system(app, system) first")
    return system


async def read_raw_body(request: Request, limit: int = MAX_WEBHOOK_BODY) -> bytes | None:
    """The request body as bytes, or None as soon as it grows past ``limit``."""
    if body_too_large(request.headers.get("content-length")):
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _json(answer: WebhookResponse) -> JSONResponse:
    return JSONResponse(dict(answer.body), status_code=answer.status)


async def handle_stripe_webhook(
    request: Request, system: PaymentSystem | Callable[[], PaymentSystem]
) -> JSONResponse:
    """Answer one webhook request (for apps that declare the route themselves).

    ``system`` may be a zero-argument callable: then a system that cannot be
    had is a logged 500 like any other failure.
    """
    body = await read_raw_body(request)
    if body is None:
        return _json(WEBHOOK_TOO_LARGE)
    headers: Mapping[str, str] = dict(request.headers.items())
    # handle_webhook does blocking database work: keep it off the event loop.
    answer = await run_in_threadpool(webhook_response, system, body, headers)
    return _json(answer)


def webhook_router(
    system: PaymentSystem | None = None, *, path: str = "/webhooks/stripe"
) -> APIRouter:
    """A router with ``POST {path}``; without ``system`` it uses the attached one."""
    router = APIRouter()

    @router.post(path, name="enrollpay_stripe_webhook", response_class=JSONResponse)
    async def stripe_webhook(request: Request) -> JSONResponse:
        """Verify, deduplicate and apply a gateway webhook."""
        return await handle_stripe_webhook(request, system or (lambda: get_system(request)))

    return router


def _answer(answer: ApiAnswer) -> JSONResponse:
    return JSONResponse(dict(answer.body), status_code=answer.status)


def api_router(system: PaymentSystem | None = None) -> APIRouter:
    """A router with the JSON API of :mod:`enrollpay.integrations.api` (reads, but for seats).

    ``GET /plans?product=...`` (the plans a checkout may offer, with their
    schedules) and ``GET /enrollments/{enrollment_id}/payment`` (payment
    details with ``has_access`` and ``paid_through``), and the receipt routes
    of :mod:`enrollpay.integrations.receipts_api` (``GET /receipts/{id}``,
    ``/receipts/{id}/html``, ``/receipts/{id}/pdf``) and the payer routes of
    :mod:`enrollpay.integrations.payers_api` (``GET /payers``,
    ``/payers/{id}``, ``/payers/{id}/statement``), and the seat routes of
    :mod:`enrollpay.integrations.seats_api` (``GET /products/{id}/seats``,
    ``POST /products/{id}/waitlist``, ``POST /seat-offers/{id}/accept``:
    these two write). Without ``system``
    it uses the attached one. The routes check no identity: include the
    router behind your own authentication dependencies.
    """
    router = APIRouter()

    # Plain ``def`` routes: FastAPI runs them in its thread pool, off the event loop.
    @router.get("/plans", name="enrollpay_plans", response_class=JSONResponse)
    def plans(request: Request) -> JSONResponse:
        """The plans a checkout may offer for a product, each with its schedule."""
        target = system or get_system(request)
        return _answer(plans_answer(target, dict(request.query_params.items())))

    @router.get(
        "/enrollments/{enrollment_id}/payment",
        name="enrollpay_payment_details",
        response_class=JSONResponse,
    )
    def payment_details(request: Request, enrollment_id: str) -> JSONResponse:
        """An enrollment's schedule, payments, balances, access and paid-through date."""
        target = system or get_system(request)
        return _answer(payment_details_answer(target, enrollment_id))

    @router.get("/receipts/{receipt_id}", name="enrollpay_receipt", response_class=JSONResponse)
    def receipt(request: Request, receipt_id: str) -> JSONResponse:
        """A receipt or credit note as JSON."""
        return _answer(receipt_answer(system or get_system(request), receipt_id))

    @router.get("/receipts/{receipt_id}/html", name="enrollpay_receipt_html")
    def receipt_html(request: Request, receipt_id: str) -> Response:
        """The receipt as an HTML page (``?locale=fr_FR&timezone=Europe/Paris``)."""
        target = system or get_system(request)
        query = dict(request.query_params.items())
        return _document(receipt_document(target, receipt_id, "html", query))

    @router.get("/receipts/{receipt_id}/pdf", name="enrollpay_receipt_pdf")
    def receipt_pdf(request: Request, receipt_id: str) -> Response:
        """The receipt as a PDF download (same query parameters)."""
        target = system or get_system(request)
        query = dict(request.query_params.items())
        return _document(receipt_document(target, receipt_id, "pdf", query))

    @router.get("/payers", name="enrollpay_payers", response_class=JSONResponse)
    def payers(request: Request) -> JSONResponse:
        """Every payer."""
        return _answer(payers_answer(system or get_system(request)))

    @router.get("/payers/{payer_id}", name="enrollpay_payer", response_class=JSONResponse)
    def payer(request: Request, payer_id: str) -> JSONResponse:
        """One payer."""
        return _answer(payer_answer(system or get_system(request), payer_id))

    @router.get(
        "/payers/{payer_id}/statement",
        name="enrollpay_payer_statement",
        response_class=JSONResponse,
    )
    def payer_statement(request: Request, payer_id: str) -> JSONResponse:
        """A payer's statement (``?currency=USD``)."""
        query = dict(request.query_params)
        return _answer(statement_answer(system or get_system(request), payer_id, query))

    @router.get("/products/{product_id}/seats", name="enrollpay_seats")
    def product_seats(request: Request, product_id: str) -> JSONResponse:
        """A product's seat counts, open offers and waitlist in order."""
        return _answer(seats_answer(system or get_system(request), product_id))

    @router.post("/products/{product_id}/waitlist", name="enrollpay_join_waitlist")
    async def join(request: Request, product_id: str) -> JSONResponse:
        """Put ``{"user_id": ...}`` in line for a full product (201, the entry)."""
        target = system or get_system(request)
        body = await _body(request)
        return _answer(await run_in_threadpool(join_waitlist_answer, target, product_id, body))

    @router.post("/seat-offers/{offer_id}/accept", name="enrollpay_accept_seat_offer")
    async def accept(request: Request, offer_id: str) -> JSONResponse:
        """Enroll the offered student with the seat (201, the enrollment)."""
        target = system or get_system(request)
        body = await _body(request)
        return _answer(await run_in_threadpool(accept_offer_answer, target, offer_id, body))

    return router


def plan_change_router(system: PaymentSystem | None = None) -> APIRouter:
    """A router with the plan-change routes of :mod:`enrollpay.integrations.plan_change_api`.

    ``POST /enrollments/{enrollment_id}/plan-change/preview`` (writes
    nothing) and ``POST /enrollments/{enrollment_id}/plan-change`` (moves
    the enrollment to another plan). Apart from :func:`api_router` because
    it writes: include it only behind the staff's authentication, and pass
    who asks as ``actor`` in the body. Without ``system`` it uses the
    attached one.
    """
    router = APIRouter()

    @router.post("/enrollments/{enrollment_id}/plan-change/preview", name="enrollpay_plan_preview")
    async def plan_change_preview(request: Request, enrollment_id: str) -> JSONResponse:
        """What moving the enrollment to another plan would do; writes nothing."""
        return await _plan_change(request, system, enrollment_id, apply=False)

    @router.post("/enrollments/{enrollment_id}/plan-change", name="enrollpay_plan_change")
    async def plan_change(request: Request, enrollment_id: str) -> JSONResponse:
        """Move the enrollment's remaining balance to another plan (audited)."""
        return await _plan_change(request, system, enrollment_id, apply=True)

    return router


async def _plan_change(
    request: Request, system: PaymentSystem | None, enrollment_id: str, *, apply: bool
) -> JSONResponse:
    try:
        body = await request.json()
    except ValueError:
        body = None
    target = system or get_system(request)
    answer = await run_in_threadpool(plan_change_answer, target, enrollment_id, body, apply=apply)
    return _answer(answer)


async def _body(request: Request) -> dict[str, Any] | None:
    """The request's JSON object (None: empty or not an object)."""
    raw = await request.body()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _document(answer: ReceiptDocument) -> Response:
    headers = {}
    if answer.filename is not None:
        headers["Content-Disposition"] = f'attachment; filename="{answer.filename}"'
    return Response(answer.body, answer.status, headers=headers, media_type=answer.content_type)
