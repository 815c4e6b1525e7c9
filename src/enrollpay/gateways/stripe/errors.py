"""Stripe's exceptions translated to the library's, at the adapter boundary.

A request Stripe refused (bad parameter, reused key, bad API key) is a
:class:`~enrollpay.errors.GatewayRequestError`; anything that leaves the
outcome unknown (no connection, 5xx after the retries, 429) is a
:class:`~enrollpay.errors.GatewayUnavailableError`. Messages never contain
the API key, a webhook secret or a client secret.
"""

from __future__ import annotations

import re
from typing import Any, Final

import stripe

from enrollpay.errors import GatewayError, GatewayRequestError, GatewayUnavailableError

__all__ = ["redact", "translate"]

# API keys, webhook secrets and client secrets (pi_..._secret_..., seti_..._secret_...).
_SECRET_PATTERN: Final = re.compile(
    r"\b(?:sk|rk|pk)_(?:live|test)_\w+|\bwhsec_\w+|\b[a-z]+_\w+?_secret_\w+"
)


def redact(text: str | None) -> str:
    """``text`` with every API key, webhook secret and client secret replaced."""
    return _SECRET_PATTERN.sub("[redacted]", text or "")


def _retry_after(exc: stripe.StripeError) -> float | None:
    value = (exc.headers or {}).get("Retry-After") or (exc.headers or {}).get("retry-after")
    try:
        return None if value is None else float(value)
    except ValueError:
        return None


def translate(exc: stripe.StripeError, action: str) -> GatewayError:
    """The library error for a Stripe exception (the caller raises it ``from`` ``exc``)."""
    status = exc.http_status
    details: dict[str, Any] = {
        "code": exc.code,
        "http_status": status,
        "request_id": exc.request_id,
    }
    if isinstance(exc, stripe.APIConnectionError):
        return GatewayUnavailableError(
            f"could not reach Stripe to {action}; the outcome is unknown"
        )
    if isinstance(exc, stripe.RateLimitError):
        return GatewayUnavailableError(
            f"Stripe rate-limited the request to {action} (HTTP {status})",
            retry_after=_retry_after(exc),
        )
    if isinstance(exc, stripe.IdempotencyError):
        return GatewayRequestError(
            f"Stripe refused to {action}: the idempotency key was already used with "
            f"other parameters ({redact(exc.user_message)})",
            param="idempotency_key",
            **details,
        )
    if isinstance(exc, (stripe.InvalidRequestError, stripe.CardError)):
        param = exc.param
        where = f" (param: {param})" if param else ""
        return GatewayRequestError(
            f"Stripe refused to {action}{where}: {redact(exc.user_message)}",
            param=param,
            **details,
        )
    if isinstance(exc, (stripe.AuthenticationError, stripe.PermissionError)):
        # Stripe's own message may quote part of the key: leave it out.
        return GatewayRequestError(
            f"Stripe refused the API key when asked to {action} (HTTP {status}); "
            "check STRIPE_SECRET_KEY and the key's permissions",
            **details,
        )
    if status is not None and 400 <= status < 500 and status != 409:
        return GatewayRequestError(
            f"Stripe refused to {action} (HTTP {status}): {redact(exc.user_message)}", **details
        )
    return GatewayUnavailableError(
        f"Stripe failed to {action} (HTTP {status}); the outcome is unknown"
    )
