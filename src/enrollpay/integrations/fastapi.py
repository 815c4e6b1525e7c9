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

:func:`api_router` and :func:`plan_change_router` mount the JSON API's one
route table (:mod:`enrollpay.integrations.routes`), as Flask's ``init_app``
and Django's ``api_urls`` do: the three serve the same routes and answers.

Outbox events reach the app through an
:class:`~enrollpay.integrations.events.EventRegistry` (re-exported here):
``@events.on("access.suspended")`` on your functions, then
``events.dispatch(system)`` from the worker that runs ``collect_due``.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping

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
from enrollpay.integrations.events import EventRegistry
from enrollpay.integrations.routes import API_ROUTES, PLAN_CHANGE_ROUTES, Route, serve
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


def _mount(router: APIRouter, routes: tuple[Route, ...], system: PaymentSystem | None) -> None:
    for route in routes:
        router.add_api_route(
            route.path,
            _endpoint(route, system),
            methods=[route.method],
            name=route.name,
            summary=route.summary,
            response_class=JSONResponse,
        )


def _endpoint(route: Route, system: PaymentSystem | None) -> Callable[..., Awaitable[Response]]:
    """The FastAPI endpoint of ``route``: its path parameters declared, for the OpenAPI schema."""

    async def endpoint(request: Request, **parameters: str) -> Response:
        target = system if system is not None else get_system(request)
        raw = await request.body() if route.method == "POST" else b""
        query = dict(request.query_params.items())
        # The handlers do blocking database work: keep it off the event loop.
        answer = await run_in_threadpool(serve, route, target, parameters, query, raw)
        return Response(
            answer.body,
            answer.status,
            headers=dict(answer.headers),
            media_type=answer.content_type,
        )

    declared = [inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                  annotation=Request)]  # fmt: skip
    declared += [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=str)
        for name in route.parameters
    ]
    endpoint.__signature__ = inspect.Signature(declared)  # type: ignore[attr-defined]
    endpoint.__name__ = route.name
    return endpoint


def api_router(system: PaymentSystem | None = None) -> APIRouter:
    """A router with the JSON API of :data:`~enrollpay.integrations.routes.API_ROUTES`.

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
    _mount(router, API_ROUTES, system)
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
    _mount(router, PLAN_CHANGE_ROUTES, system)
    return router
