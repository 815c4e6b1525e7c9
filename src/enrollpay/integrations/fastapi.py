"""FastAPI wiring: the webhook route and the system on ``app.state``.

>>> from fastapi import FastAPI
>>> from enrollpay.integrations.fastapi import attach_system, system_from_env, webhook_router
>>> app = FastAPI()
>>> system = attach_system(app, system_from_env({"ENROLLPAY_DATABASE_URL": "sqlite://"}))
>>> app.include_router(webhook_router(), prefix="/api")

The route reads the raw body (never parsed as JSON first: the signature
covers its exact bytes), runs the blocking ``handle_webhook`` in the thread
pool, and answers with the status codes of :mod:`enrollpay.integrations`.
Needs the ``fastapi`` extra.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from enrollpay.integrations import (
    MAX_WEBHOOK_BODY,
    WEBHOOK_TOO_LARGE,
    WebhookResponse,
    body_too_large,
    system_from_env,
    webhook_response,
)
from enrollpay.service.system import PaymentSystem

__all__ = [
    "STATE_KEY",
    "attach_system",
    "get_system",
    "handle_stripe_webhook",
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
