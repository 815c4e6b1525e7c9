"""Signing outgoing webhooks, and the ``verify`` helper for the apps that receive them.

The scheme is Stripe's: the header

    Enrollpay-Signature: t=1805000000,v1=<64 hex digits>

carries the Unix time of signing and ``v1``, the hex HMAC-SHA256 of
``"{t}.{body}"`` under the endpoint's secret. A receiver recomputes it
over the raw body, compares in constant time, and refuses a timestamp more
than a tolerance window away from its clock (a captured request replayed
later fails). While a secret is rotated, the sender signs with both and
the header holds two ``v1`` entries; :func:`verify` accepts any match.

>>> body = b'{"id":"evt_1","kind":"access.suspended"}'
>>> header = signature_header(body, ["whsec_test"], timestamp=1805000000)
>>> verify(body, header, "whsec_test", now=1805000030)["kind"]
'access.suspended'
>>> verify(body, header, "whsec_test", now=1805000400)  # replayed 400 s later
Traceback (most recent call last):
...
enrollpay.errors_events.SignatureTimestampError: signature timestamp 1805000000 is 400 s ...

Stdlib only: a receiver needs nothing but ``enrollpay`` installed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any, Final

from enrollpay.errors_events import (
    SignatureHeaderError,
    SignatureMismatchError,
    SignatureTimestampError,
    WebhookVerificationError,
)

__all__ = [
    "DEFAULT_TOLERANCE",
    "SIGNATURE_HEADER",
    "compute_signature",
    "parse_signature_header",
    "signature_header",
    "verify",
]

#: The request header that carries the signature.
SIGNATURE_HEADER: Final = "Enrollpay-Signature"
#: How far (seconds) a signature's timestamp may be from the receiver's clock, either way.
DEFAULT_TOLERANCE: Final = 300.0
_SCHEME: Final = "v1"


def _bytes(payload: bytes | str) -> bytes:
    return payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)


def compute_signature(payload: bytes | str, secret: str, *, timestamp: int) -> str:
    """The hex HMAC-SHA256 of ``"{timestamp}.{payload}"`` under ``secret``."""
    signed = f"{timestamp}.".encode() + _bytes(payload)
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def signature_header(payload: bytes | str, secrets: Iterable[str], *, timestamp: int) -> str:
    """``t=...,v1=...`` with one ``v1`` per secret (two while a secret is rotated)."""
    parts = [f"t={timestamp}"]
    parts += [f"{_SCHEME}={compute_signature(payload, s, timestamp=timestamp)}" for s in secrets]
    return ",".join(parts)


def parse_signature_header(header: str | None) -> tuple[int, list[str]]:
    """The timestamp and the ``v1`` signatures of a header (other schemes are ignored)."""
    if not header or not isinstance(header, str):
        raise SignatureHeaderError(f"no {SIGNATURE_HEADER} header")
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise SignatureHeaderError(f"malformed {SIGNATURE_HEADER} header")
        if key == "t":
            if not value.isdigit() or timestamp is not None:
                raise SignatureHeaderError(f"malformed timestamp in {SIGNATURE_HEADER}")
            timestamp = int(value)
        elif key == _SCHEME:
            signatures.append(value)
    if timestamp is None:
        raise SignatureHeaderError(f"no timestamp in {SIGNATURE_HEADER}")
    if not signatures:
        raise SignatureHeaderError(f"no {_SCHEME} signature in {SIGNATURE_HEADER}")
    return timestamp, signatures


def verify(
    payload: bytes | str,
    header: str | None,
    secret: str | Iterable[str],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> dict[str, Any]:
    """Check an enrollpay webhook and return its event as a dict; raise if it is not genuine.

    ``payload`` is the raw request body, ``header`` the value of
    :data:`SIGNATURE_HEADER`, ``secret`` the endpoint's secret (or several,
    while rotating). ``now`` is the receiver's Unix time (default: the
    system clock). Raises a subclass of
    :class:`~enrollpay.errors_events.WebhookVerificationError`:
    :class:`~enrollpay.errors_events.SignatureHeaderError` (no or garbled
    header), :class:`~enrollpay.errors_events.SignatureMismatchError` (wrong
    secret or altered body) or
    :class:`~enrollpay.errors_events.SignatureTimestampError` (outside
    ``tolerance`` seconds: a replay). The signature is checked first, so a
    forger learns nothing from the timestamp check. Events may arrive more
    than once: dedupe by the returned ``"id"``.
    """
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if not secrets or not all(isinstance(s, str) and s for s in secrets):
        raise WebhookVerificationError("verify needs the endpoint's secret")
    if tolerance < 0:
        raise WebhookVerificationError(f"tolerance must be at least 0, got {tolerance}")
    timestamp, signatures = parse_signature_header(header)
    expected = [compute_signature(payload, s, timestamp=timestamp) for s in secrets]
    if not any(hmac.compare_digest(e, given) for e in expected for given in signatures):
        raise SignatureMismatchError("no signature matches the payload")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureTimestampError(timestamp=timestamp, now=current, tolerance=tolerance)
    try:
        event = json.loads(_bytes(payload))
    except ValueError as error:  # signed by the sender, so this means a bug, not an attack
        raise WebhookVerificationError("the payload is not JSON") from error
    if not isinstance(event, Mapping):
        raise WebhookVerificationError("the payload is not a JSON object")
    return dict(event)
