"""Library errors as HTTP answers: ``{"error": code, "message": ...}`` with a fitting status.

| error | status |
| --- | --- |
| bad JSON | 400 |
| ``InvalidInputError`` (precision, currency, plan, refund > paid, ...), ``MoneyTypeError`` | 422 |
| ``NotFoundError`` | 404 |
| ``DuplicateEnrollmentError`` (with ``existing_enrollment_id``), ``InvalidStateError`` | 409 |
| ``PermissionDeniedError`` | 403 |
| ``GatewayUnavailableError``, ``ConcurrencyError`` (try again) | 503 |
| anything else | 500, logged, with a generic message |

The library's messages name the offending value and never a secret, so the
4xx answers pass them on; a 5xx answer says nothing about the cause.
"""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from enrollpay.errors import (
    ConcurrencyError,
    DuplicateEnrollmentError,
    DuplicateError,
    EnrollpayError,
    GatewayNotConfiguredError,
    GatewayUnavailableError,
    InvalidInputError,
    InvalidStateError,
    MoneyTypeError,
    NotFoundError,
    PermissionDeniedError,
)

from .payloads import ApiError

__all__ = ["error_code", "install_error_handlers"]

logger = logging.getLogger(__name__)


def error_code(exc: BaseException) -> str:
    """``RefundExceedsPaidError`` -> ``refund_exceeds_paid``."""
    name = type(exc).__name__.removesuffix("Error")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _answer(status: int, code: str, message: str, **extra: object) -> JSONResponse:
    return JSONResponse({"error": code, "message": message, **extra}, status_code=status)


def library_error(exc: EnrollpayError) -> JSONResponse:
    """The HTTP answer for an error the library raised."""
    if isinstance(exc, DuplicateEnrollmentError):
        return _answer(
            409, "duplicate_enrollment", str(exc), existing_enrollment_id=exc.existing_id
        )
    if isinstance(exc, NotFoundError):
        return _answer(404, "not_found", str(exc))
    if isinstance(exc, PermissionDeniedError):
        return _answer(403, "permission_denied", "you may not do this")
    if isinstance(exc, (InvalidInputError, MoneyTypeError)):
        return _answer(422, error_code(exc), str(exc))
    if isinstance(exc, GatewayNotConfiguredError):
        return _answer(409, "gateway_not_configured", "this needs a payment gateway")
    if isinstance(exc, (InvalidStateError, DuplicateError)):
        return _answer(409, error_code(exc), str(exc))
    if isinstance(exc, (GatewayUnavailableError, ConcurrencyError)):
        response = _answer(503, "try_again", "the payment service is busy; try again")
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            response.headers["Retry-After"] = str(max(1, round(retry_after)))
        return response
    logger.error("request failed", exc_info=exc)
    return _answer(500, "internal_error", "internal error")


def install_error_handlers(app: FastAPI) -> None:
    """Answer library and request errors as JSON (see the module table)."""

    async def on_library_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, EnrollpayError)
        return library_error(exc)

    async def on_api_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return _answer(exc.status, exc.code, exc.message)

    app.add_exception_handler(EnrollpayError, on_library_error)
    app.add_exception_handler(ApiError, on_api_error)
