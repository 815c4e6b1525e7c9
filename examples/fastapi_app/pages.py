"""Mount the server-rendered pages (student portal and admin) on the API app.

``install_pages`` adds Starlette's signed-cookie ``SessionMiddleware``, the
page routers, and error handling that answers page requests with HTML (a
redirect to the sign-in page when nobody is signed in; 403 for a form
without the session's token) while ``/api`` keeps its JSON errors.
"""

from __future__ import annotations

import logging
import os
import secrets

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.middleware.sessions import SessionMiddleware

from enrollpay.errors import EnrollpayError, NotFoundError

from . import (
    admin_enrollment_actions,
    admin_enrollment_pages,
    admin_item_pages,
    admin_pages,
    admin_plan_change_pages,
    receipt_pages,
    student_pages,
)
from .errors import library_error
from .web import (
    SETTINGS_KEY,
    FormTokenError,
    LoginRequiredError,
    PageSettings,
    page,
    redirect,
)

__all__ = ["DEMO_ADMIN_PASSWORD", "install_pages"]

logger = logging.getLogger(__name__)

#: The example's admin password unless ``ENROLLPAY_ADMIN_PASSWORD`` sets one.
DEMO_ADMIN_PASSWORD = "demo-admin"  # noqa: S105 - a documented demo default


def install_pages(
    app: FastAPI, *, admin_password: str | None = None, session_secret: str | None = None
) -> None:
    """Add the pages, the session cookie and HTML error pages to ``app``."""
    password = admin_password or os.environ.get("ENROLLPAY_ADMIN_PASSWORD", DEMO_ADMIN_PASSWORD)
    # Without a configured secret, sessions last as long as the process: fine for a demo.
    secret = session_secret or os.environ.get("ENROLLPAY_SESSION_SECRET") or secrets.token_hex(32)
    setattr(app.state, SETTINGS_KEY, PageSettings(admin_password=password))
    app.state.stripe_publishable_key = os.environ.get("STRIPE_PUBLISHABLE_KEY")
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie="enrollpay_session",
        same_site="lax",
        https_only=False,  # the example runs on http://127.0.0.1; set True behind TLS
    )

    async def on_login_required(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequiredError)
        return redirect(exc.login_url)

    async def on_library_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, EnrollpayError)
        if request.url.path.startswith("/api"):
            return library_error(exc)
        answer = library_error(exc)  # the same status (and logging) as the API
        message = "Not found." if isinstance(exc, NotFoundError) else str(exc)
        if answer.status_code >= 500:
            message = "Something went wrong; please try again."
        return page(request, "error.html", {"message": message}, status=answer.status_code)

    async def on_form_token(request: Request, _exc: Exception) -> Response:
        message = (
            "This form could not be accepted: it came from another site or an old page. "
            "Go back, reload the page and try again."
        )
        return page(request, "error.html", {"message": message}, status=403)

    app.add_exception_handler(LoginRequiredError, on_login_required)
    app.add_exception_handler(FormTokenError, on_form_token)
    app.add_exception_handler(EnrollpayError, on_library_error)
    app.include_router(student_pages.router)
    app.include_router(receipt_pages.router)
    app.include_router(admin_pages.router)
    app.include_router(admin_enrollment_pages.router)
    app.include_router(admin_item_pages.router)
    # Before the enrollment actions: their /{action} route would take change-plan too.
    app.include_router(admin_plan_change_pages.router)
    app.include_router(admin_enrollment_actions.router)
