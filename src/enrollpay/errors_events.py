"""Errors of the host-facing event integrations: handler registries and outgoing webhooks.

Kept apart from :mod:`enrollpay.errors` (which is near its size limit); every
class derives from :class:`~enrollpay.errors.EnrollpayError` and the builtin
a caller would catch, like the rest of the hierarchy.
"""

from __future__ import annotations

from enrollpay.errors import EnrollpayError, InvalidInputError

__all__ = [
    "SignatureHeaderError",
    "SignatureMismatchError",
    "SignatureTimestampError",
    "UnknownEventKindError",
    "WebhookDeliveryError",
    "WebhookEndpointError",
    "WebhookVerificationError",
]


class UnknownEventKindError(InvalidInputError):
    """A handler was registered for an event kind the library never emits."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"unknown event kind {kind!r} (see enrollpay.domain.events.EVENT_KINDS)")
        self.kind = kind


class WebhookEndpointError(InvalidInputError):
    """An outgoing webhook endpoint is misconfigured (URL, secret, name or kinds)."""


class WebhookDeliveryError(EnrollpayError, ConnectionError):
    """An endpoint did not accept an event after every attempt of one dispatch run.

    The event stays undelivered in the outbox; the next dispatch run tries
    it again (endpoints that already accepted it are not sent it twice).
    """

    def __init__(
        self, *, endpoint: str, event_id: str, attempts: int, status: int | None, reason: str
    ) -> None:
        super().__init__(
            f"webhook endpoint {endpoint!r} did not accept event {event_id} "
            f"after {attempts} attempt(s): {reason}"
        )
        self.endpoint = endpoint
        self.event_id = event_id
        self.attempts = attempts
        self.status = status
        self.reason = reason


class WebhookVerificationError(InvalidInputError):
    """A received enrollpay webhook failed verification; answer it with 400."""


class SignatureHeaderError(WebhookVerificationError):
    """The signature header is missing or not of the form ``t=<seconds>,v1=<hex>``."""


class SignatureMismatchError(WebhookVerificationError):
    """No ``v1`` signature in the header matches the payload under any of the secrets."""


class SignatureTimestampError(WebhookVerificationError):
    """The signature's timestamp is outside the tolerance window: a replay, or a wrong clock."""

    def __init__(self, *, timestamp: int, now: float, tolerance: float) -> None:
        super().__init__(
            f"signature timestamp {timestamp} is {abs(now - timestamp):.0f} s from now "
            f"(tolerance {tolerance:.0f} s)"
        )
        self.timestamp = timestamp
        self.now = now
        self.tolerance = tolerance
