"""Webhook signatures in Stripe's scheme, verified more strictly than usual.

A signature header reads ``t=<unix seconds>,v1=<hex hmac>[,v1=...]`` and
``v1 = HMAC-SHA256(secret, f"{t}.{body}")``. Verification here refuses:
bodies over ``max_body`` bytes (before any HMAC work), headers that do not
parse, timestamps more than ``tolerance`` seconds in the past *or the
future*, and signatures that match none of the configured secrets (several
are allowed, for rotation). Comparisons are constant time. Error messages
never include a secret or a signature.

``now`` is the wall-clock time the delivery arrived, never the business
clock: the gateway stamps signatures with the real time, so a frozen or
moved business clock must not decide whether one is fresh.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime

from enrollpay.domain.calendar import ensure_aware
from enrollpay.errors import InvalidInputError, WebhookSignatureError

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_TOLERANCE_SECONDS",
    "check_tolerance",
    "header_value",
    "sign_payload",
    "verify_signature",
]

MAX_BODY_BYTES = 1024 * 1024
MAX_TOLERANCE_SECONDS = 24 * 60 * 60


def check_tolerance(tolerance: int | float) -> float:
    """Validate a tolerance: a positive number of seconds no larger than one day."""
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)):
        raise InvalidInputError(f"tolerance must be a number of seconds, got {tolerance!r}")
    if not 0 < tolerance <= MAX_TOLERANCE_SECONDS:
        raise InvalidInputError(
            f"tolerance must be above 0 and at most {MAX_TOLERANCE_SECONDS} seconds, "
            f"got {tolerance!r}; signature checks cannot be disabled"
        )
    return float(tolerance)


def _hmac(secret: str, timestamp: str, payload: bytes) -> str:
    message = timestamp.encode("ascii") + b"." + payload
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign_payload(payload: bytes, secret: str, timestamp: int) -> str:
    """The signature header for ``payload`` signed with ``secret`` at ``timestamp``."""
    return f"t={timestamp},v1={_hmac(secret, str(timestamp), payload)}"


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """A header by case-insensitive name."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def verify_signature(  # noqa: PLR0912 - one branch per documented refusal
    payload: bytes,
    header: str | None,
    secrets: Sequence[str],
    *,
    now: datetime,
    tolerance: float,
    max_body: int = MAX_BODY_BYTES,
) -> int:
    """Verify ``header`` for ``payload``; return the signed timestamp or raise.

    Raises :class:`~enrollpay.errors.WebhookSignatureError` for every refusal.
    """
    if not isinstance(payload, (bytes, bytearray)):
        raise WebhookSignatureError("webhook body must be the raw request bytes")
    if len(payload) > max_body:
        raise WebhookSignatureError(f"webhook body larger than {max_body} bytes")
    if not header:
        raise WebhookSignatureError("missing signature header")
    if not secrets:
        raise WebhookSignatureError("no webhook secret configured")
    timestamp: str | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise WebhookSignatureError("malformed signature header")
        if key == "t":
            if timestamp is not None:
                raise WebhookSignatureError("malformed signature header")
            timestamp = value
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not timestamp.isdigit() or len(timestamp) > 12:
        raise WebhookSignatureError("signature header has no valid timestamp")
    if not signatures:
        raise WebhookSignatureError("signature header has no v1 signature")
    age = ensure_aware(now, "now").timestamp() - int(timestamp)
    if age > tolerance:
        raise WebhookSignatureError("signature timestamp is too old")
    if -age > tolerance:
        raise WebhookSignatureError("signature timestamp is in the future")
    body = bytes(payload)
    for secret in secrets:
        expected = _hmac(secret, timestamp, body)
        # Check every candidate so timing does not reveal which one matched.
        matched = [hmac.compare_digest(expected, candidate) for candidate in signatures]
        if any(matched):
            return int(timestamp)
    raise WebhookSignatureError("no signature matches the configured secrets")
