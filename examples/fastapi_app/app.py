"""``create_app``: the seed's REST API on enrollpay, SQLite by default.

Run it (``pip install "enrollpay[fastapi,sql]" uvicorn``)::

    uvicorn --factory examples.fastapi_app.app:create_app

Without an argument the system is configured from the environment by
:func:`enrollpay.integrations.fastapi.system_from_env`
(``ENROLLPAY_DATABASE_URL``, default ``sqlite:///enrollpay.db``; Stripe
keys, else no gateway). Tests pass their own system, e.g. one on the fake
gateway and a frozen clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from enrollpay import PaymentSystem
from enrollpay.integrations.fastapi import attach_system, system_from_env, webhook_router

from .errors import install_error_handlers
from .pages import install_pages
from .routes import router

__all__ = ["create_app"]


def create_app(
    system: PaymentSystem | None = None,
    *,
    admin_password: str | None = None,
    session_secret: str | None = None,
) -> FastAPI:
    """The API and the pages over ``system`` (default: one configured from the environment).

    The admin pages' password defaults to ``ENROLLPAY_ADMIN_PASSWORD``, else
    the demo's ``demo-admin``; the session cookie is signed with
    ``session_secret`` (default ``ENROLLPAY_SESSION_SECRET``, else a random
    one per process).
    """
    owned = system is None
    chosen = system_from_env() if system is None else system

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        close = getattr(chosen.store, "close", None)
        if owned and callable(close):
            close()  # the store this app opened; an injected one belongs to the caller

    app = FastAPI(title="enrollpay example API", lifespan=lifespan)
    attach_system(app, chosen)
    install_error_handlers(app)
    app.include_router(router)
    app.include_router(webhook_router(), prefix="/api")
    install_pages(app, admin_password=admin_password, session_secret=session_secret)
    return app
