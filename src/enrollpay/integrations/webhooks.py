"""Outgoing webhooks: every outbox event POSTed as signed JSON to the host's endpoints.

For hosts that are not written in Python. :class:`WebhookSender` is a
handler for :meth:`~enrollpay.PaymentSystem.dispatch_events`::

    sender = WebhookSender(
        [WebhookEndpoint("lms", "https://lms.example/hooks/enrollpay", secret="whsec_...")],
        system=system,
    )
    system.dispatch_events(sender)      # from cron, a worker or a task

Each request's body is the event's JSON (:meth:`DomainEvent.to_json`), its
``Enrollpay-Signature`` header signs it as :mod:`enrollpay.integrations.signing`
describes, and a receiver checks it with
:func:`enrollpay.integrations.signing.verify`.

Delivery, and why nothing is lost:

- An endpoint accepts an event by answering 2xx. Anything else (a refused
  connection, a timeout, a redirect, a 4xx or 5xx) is retried within the
  run after ``backoff * 2 ** (n - 1)`` seconds (capped at ``max_backoff``),
  up to ``attempts`` attempts.
- Each acceptance is recorded in the store's log of sent notifications
  (kind ``webhook:<endpoint name>``) before the handler moves on, so an
  event handed out again is not POSTed again to an endpoint that has it.
- When an endpoint still refuses after the last attempt, the handler raises
  :class:`~enrollpay.errors_events.WebhookDeliveryError`: dispatch stops and
  the event, with every later one, stays in the outbox for the next run,
  which resumes with the endpoints that do not have it yet. A crash at any
  point leaves the same state. Receivers therefore get events in order, at
  least once: they dedupe by the event's ``id``.

The HTTP client is the standard library's (no extra to install); redirects
are not followed (a moved endpoint is a configuration error, and a
redirected POST would lose its body).
"""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Final
from urllib.parse import urlsplit

import attrs

from enrollpay.domain.calendar import ensure_aware
from enrollpay.domain.events import EVENT_KINDS, DomainEvent
from enrollpay.errors_events import WebhookDeliveryError, WebhookEndpointError
from enrollpay.integrations.signing import SIGNATURE_HEADER, signature_header
from enrollpay.service.system import PaymentSystem

__all__ = [
    "DELIVERY_LOG_PREFIX",
    "WEBHOOK_DEDUPE_WINDOW",
    "WebhookEndpoint",
    "WebhookSender",
    "event_body",
]

logger = logging.getLogger("enrollpay.webhooks")

#: Acceptances are recorded in the sent-notification log under ``webhook:<endpoint name>``.
DELIVERY_LOG_PREFIX: Final = "webhook:"
#: How long an acceptance is remembered (the log is pruned after it).
WEBHOOK_DEDUPE_WINDOW: Final = timedelta(days=7)
_PRUNE_EVERY: Final = timedelta(hours=1)
_USER_AGENT: Final = "enrollpay-webhooks/1"


def _name(_instance: object, _attribute: object, value: str) -> None:
    if not isinstance(value, str) or not value or not value.replace("-", "_").isidentifier():
        raise WebhookEndpointError(f"an endpoint name is letters, digits, _ and -: {value!r}")


def _url(_instance: object, _attribute: object, value: str) -> None:
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookEndpointError(f"an endpoint URL is http(s)://host/...: {value!r}")


def _secret(_instance: object, _attribute: object, value: tuple[str, ...]) -> None:
    if not value or not all(isinstance(s, str) and s for s in value):
        raise WebhookEndpointError("an endpoint needs a non-empty secret")


def _secrets(value: str | Iterable[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _kinds(value: Iterable[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    kinds = frozenset([value] if isinstance(value, str) else value)
    unknown = sorted(k for k in kinds if k not in EVENT_KINDS)
    if unknown or not kinds:
        raise WebhookEndpointError(f"unknown event kinds for an endpoint: {unknown or '(none)'}")
    return kinds


@attrs.frozen
class WebhookEndpoint:
    """Where to POST events: a stable ``name`` (the delivery log's key), a URL and a secret.

    ``secret`` may be several while one is rotated (each signs; receivers
    accept any). ``kinds`` limits the events sent (default: all).
    """

    name: str = attrs.field(validator=_name)
    url: str = attrs.field(validator=_url)
    secret: tuple[str, ...] = attrs.field(
        kw_only=True, converter=_secrets, validator=_secret, repr=False
    )
    kinds: frozenset[str] | None = attrs.field(kw_only=True, default=None, converter=_kinds)

    def wants(self, kind: str) -> bool:
        """Whether events of ``kind`` go to this endpoint."""
        return self.kinds is None or kind in self.kinds


def event_body(event: DomainEvent) -> bytes:
    """The JSON body POSTed for ``event``: compact, keys sorted, UTF-8."""
    return json.dumps(event.to_json(), sort_keys=True, separators=(",", ":")).encode("utf-8")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: object, **_kwargs: object) -> None:
        return None  # a 3xx then surfaces as an HTTPError: not accepted


class WebhookSender:
    """Posts each event to the endpoints that want it; pass it to ``dispatch_events``.

    ``system`` provides the clock (signature timestamps) and the store that
    keeps the delivery log. ``sleep`` waits between attempts (tests pass
    their own); ``timeout`` bounds each request, in seconds.
    """

    def __init__(
        self,
        endpoints: Iterable[WebhookEndpoint],
        *,
        system: PaymentSystem,
        attempts: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        timeout: float = 10.0,
        dedupe_window: timedelta = WEBHOOK_DEDUPE_WINDOW,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self.endpoints = tuple(endpoints)
        names = [e.name for e in self.endpoints]
        if not all(isinstance(e, WebhookEndpoint) for e in self.endpoints):
            raise WebhookEndpointError("endpoints must be WebhookEndpoint values")
        if len(set(names)) != len(names):
            raise WebhookEndpointError(f"endpoint names must differ: {names}")
        if attempts < 1 or backoff < 0 or max_backoff < 0 or timeout <= 0:
            raise WebhookEndpointError(
                "attempts must be at least 1, backoff and max_backoff at least 0, timeout positive"
            )
        if dedupe_window <= timedelta(0):
            raise WebhookEndpointError(f"dedupe_window must be positive, got {dedupe_window}")
        self._system = system
        self._attempts = attempts
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._timeout = timeout
        self._window = dedupe_window
        self._sleep = sleep
        self._pruned_at: datetime | None = None
        self._opener = urllib.request.build_opener(_NoRedirect)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based): doubling, capped."""
        return float(min(self._max_backoff, self._backoff * 2 ** (attempt - 1)))

    def __call__(self, event: DomainEvent) -> None:
        """POST ``event`` to every endpoint that wants it and has not accepted it yet."""
        for endpoint in self.endpoints:
            if not endpoint.wants(event.kind):
                continue
            sent = self._accepted_at(endpoint, event)
            if sent is not None and sent > self._now() - self._window:
                logger.info("event %s: %s has it already, not again", event.id, endpoint.name)
                continue
            self._deliver(endpoint, event)
            self._record(endpoint, event, stale=sent is not None)

    # -- one endpoint ----------------------------------------------------------------------

    def _deliver(self, endpoint: WebhookEndpoint, event: DomainEvent) -> None:
        body = event_body(event)
        status: int | None = None
        reason = ""
        for attempt in range(1, self._attempts + 1):
            status, reason = self._post(endpoint, event, body)
            if status is not None and 200 <= status < 300:
                logger.info("event %s accepted by %s (%s)", event.id, endpoint.name, status)
                return
            logger.warning(
                "event %s to %s, attempt %d/%d: %s",
                event.id, endpoint.name, attempt, self._attempts, reason,
            )  # fmt: skip
            if attempt < self._attempts:
                self._sleep(self.delay(attempt))
        raise WebhookDeliveryError(
            endpoint=endpoint.name,
            event_id=event.id,
            attempts=self._attempts,
            status=status,
            reason=reason,
        )

    def _post(
        self, endpoint: WebhookEndpoint, event: DomainEvent, body: bytes
    ) -> tuple[int | None, str]:
        timestamp = int(self._now().timestamp())  # signed afresh at each attempt, as Stripe does
        request = urllib.request.Request(  # noqa: S310 - the URL's scheme is checked (http/https)
            endpoint.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": _USER_AGENT,
                SIGNATURE_HEADER: signature_header(body, endpoint.secret, timestamp=timestamp),
                "Enrollpay-Event-Id": event.id,
                "Enrollpay-Event-Kind": event.kind,
            },
        )
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                response.read(65536)  # drain a little so the connection closes cleanly
                return int(response.status), f"HTTP {response.status}"
        except urllib.error.HTTPError as error:
            with error:
                return int(error.code), f"HTTP {error.code}"
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            # Refused, timed out, reset, or not HTTP at all: no answer to count as acceptance.
            reason = getattr(error, "reason", error)
            return None, f"no answer: {reason!r}"

    # -- the delivery log ------------------------------------------------------------------

    def _accepted_at(self, endpoint: WebhookEndpoint, event: DomainEvent) -> datetime | None:
        with self._system.store.reader() as view:
            return view.notification_sent_at(event.id, DELIVERY_LOG_PREFIX + endpoint.name)

    def _record(self, endpoint: WebhookEndpoint, event: DomainEvent, *, stale: bool) -> None:
        done = self._now()
        # A record older than the window (``stale``) must go before the new one is written.
        prune = stale or self._pruned_at is None or done - self._pruned_at >= _PRUNE_EVERY
        with self._system.store.transaction() as tx:
            if prune:
                # The log is shared with the notifications handler: give both the same window
                # (both default to 7 days), or the shorter one prunes the other's records early.
                tx.prune_notifications(before=done - self._window)
                self._pruned_at = done
            tx.record_notification(event.id, DELIVERY_LOG_PREFIX + endpoint.name, sent_at=done)

    def _now(self) -> datetime:
        return ensure_aware(self._system.clock.now(), "clock.now()")
