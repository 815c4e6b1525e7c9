"""The fake's webhooks: Stripe-shaped events, signed on delivery, and strict parsing.

Like Stripe, an event is created when something happens but signed when it
is delivered (:meth:`WebhookOutbox.take`), so its signature is as fresh as
the wall clock at delivery. Events carry the business clock's time
(``created``); signatures carry the wall clock's, as Stripe's carry the real
time whatever a test does to the business clock. Tests drive the real
webhook path with these payloads, duplicates and reordering included.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol

import attrs

from enrollpay.domain.money import Money
from enrollpay.errors import WebhookSignatureError
from enrollpay.gateways.events import event_body, normalise_event
from enrollpay.gateways.signing import header_value, sign_payload, verify_signature
from enrollpay.ports import Clock, GatewayEvent

__all__ = [
    "SIGNATURE_HEADER",
    "SignedWebhook",
    "WebhookOutbox",
    "WebhookReceiver",
    "deliver",
    "parse_webhook",
]

SIGNATURE_HEADER = "Stripe-Signature"


@attrs.frozen
class SignedWebhook:
    """A webhook as it would arrive over HTTP: raw body and headers."""

    payload: bytes
    headers: Mapping[str, str] = attrs.field(hash=False)
    event_id: str
    event_type: str


class WebhookReceiver(Protocol):
    """Whatever takes webhooks: a :class:`~enrollpay.PaymentSystem`, a test endpoint."""

    def handle_webhook(self, payload: bytes, headers: Mapping[str, str]) -> Any:
        """Handle one delivery."""
        ...


class WebhookOutbox:
    """Events created but not delivered yet, and the signing of any payload.

    ``clock`` dates the events; ``wall_clock`` stamps their signatures.
    ``on_event``, when given, receives every event as soon as it is created
    (signed), instead of the event waiting in the outbox.
    """

    def __init__(
        self,
        *,
        secret: str,
        clock: Clock,
        wall_clock: Clock,
        new_id: Callable[[str], str],
        lock: threading.RLock,
        on_event: Callable[[SignedWebhook], None] | None,
    ) -> None:
        self._secret = secret
        self._clock = clock
        self._wall_clock = wall_clock
        self._new_id = new_id
        self._lock = lock
        self._on_event = on_event
        self._pending: list[tuple[bytes, str, str]] = []

    def body(
        self,
        event_type: str,
        obj: Mapping[str, Any],
        *,
        at: datetime,
        event_id: str | None,
        livemode: bool,
    ) -> tuple[bytes, str]:
        """An event's JSON body in Stripe's shape, and its id."""
        with self._lock:
            body = {
                "id": event_id or self._new_id("evt"),
                "object": "event",
                "type": event_type,
                "created": int(at.timestamp()),
                "livemode": livemode,
                "data": {"object": dict(obj)},
            }
        return json.dumps(body, separators=(",", ":")).encode(), str(body["id"])

    def sign(
        self, payload: bytes, *, at: datetime | None = None, secret: str | None = None
    ) -> dict[str, str]:
        """Signature headers for ``payload`` sent at ``at`` (default: the wall clock's now)."""
        when = at or self._wall_clock.now()
        header = sign_payload(payload, secret or self._secret, int(when.timestamp()))
        return {SIGNATURE_HEADER: header}

    def emit(self, event_type: str, obj: Mapping[str, Any], *, livemode: bool) -> None:
        """Create an event now; it waits in the outbox (or goes to ``on_event``)."""
        payload, ident = self.body(
            event_type, obj, at=self._clock.now(), event_id=None, livemode=livemode
        )
        self._pending.append((payload, ident, event_type))
        if self._on_event is not None:
            for hook in self.take():
                self._on_event(hook)

    @property
    def pending(self) -> list[tuple[bytes, str, str]]:
        """Events created but not delivered yet: (payload, event id, type)."""
        return list(self._pending)

    def take(self) -> list[SignedWebhook]:
        """Remove and return the waiting events, oldest first, signed as of the wall clock."""
        with self._lock:
            pending, self._pending = self._pending, []
        return [SignedWebhook(p, self.sign(p), ident, kind) for p, ident, kind in pending]


def deliver(
    events: list[SignedWebhook], receiver: WebhookReceiver, *, reverse: bool, times: int
) -> list[Any]:
    """Send ``events`` to ``receiver.handle_webhook``, ``times`` each, maybe newest first."""
    ordered: Iterable[SignedWebhook] = reversed(events) if reverse else events
    outcomes = []
    for hook in ordered:
        for _ in range(times):
            outcomes.append(receiver.handle_webhook(hook.payload, hook.headers))
    return outcomes


def parse_webhook(
    payload: bytes,
    headers: Mapping[str, str],
    *,
    now: datetime,
    secret: str,
    tolerance: float,
    livemode: bool,
) -> GatewayEvent:
    """Verify the signature (strictly), check the mode, and normalise the event."""
    verify_signature(
        payload, header_value(headers, SIGNATURE_HEADER), [secret], now=now, tolerance=tolerance
    )
    data = event_body(payload)
    if bool(data.get("livemode", False)) != livemode:
        raise WebhookSignatureError("event livemode does not match the gateway's mode")
    return normalise_event(data, to_money=Money)
