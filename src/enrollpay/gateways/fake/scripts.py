"""Scripted outcomes: what the fake does on its next calls, and its request-rate limit.

By default every call succeeds. :class:`ScriptBook` holds queues of
:class:`Outcome` values, one per verb and one per saved payment method (the
method's queue wins, so each student's card can have its own story).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Literal, cast

import attrs

__all__ = ["Outcome", "OutcomeKind", "RateWindow", "ScriptBook", "Verb", "as_outcome"]

OutcomeKind = Literal[
    "succeed",
    "decline",
    "requires_action",
    "processing",
    "timeout_before",
    "timeout_after",
    "rate_limited",
]
Verb = Literal[
    "charge_off_session",
    "start_payment",
    "refund",
    "ensure_customer",
    "payment_status",
    "cancel_payment",
    "create_subscription",
    "cancel_subscription",
    "create_invoice",
    "invoice_item",
    "pay_invoice",
    "start_payment_method_update",
    "list_payments",
    "list_refunds",
    "list_disputes",
]


@attrs.frozen
class Outcome:
    """What the fake does on one scripted call.

    A ``processing`` outcome with ``after_days`` is a bank debit: it settles
    as ``then`` (default: succeed) once the fake's clock is ``after_days``
    days past the payment's creation and :meth:`FakeGateway.advance
    <enrollpay.gateways.fake.FakeGateway.advance>` is called.
    """

    kind: OutcomeKind = "succeed"
    decline_code: str | None = None
    latency: float = 0.0
    after_days: int | None = None
    then: Outcome | None = None


def as_outcome(outcome: Outcome | str) -> Outcome:
    """``outcome``, or the :class:`Outcome` of that kind when it is a string."""
    return Outcome(cast("OutcomeKind", outcome)) if isinstance(outcome, str) else outcome


class ScriptBook:
    """Queues of outcomes by verb and by payment method; an empty queue means succeed."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[Outcome]] = {}

    def add_for_verb(self, verb: str, outcomes: Iterable[Outcome | str]) -> None:
        """Queue outcomes for the next calls of ``verb``."""
        self._add(verb, outcomes)

    def add_for_method(self, payment_method_id: str, outcomes: Iterable[Outcome | str]) -> None:
        """Queue outcomes for the next off-session charges of one saved method."""
        self._add(f"method:{payment_method_id}", outcomes)

    def _add(self, key: str, outcomes: Iterable[Outcome | str]) -> None:
        queue = self._queues.setdefault(key, deque())
        queue.extend(as_outcome(outcome) for outcome in outcomes)

    def next(self, verb: str, payment_method_id: str | None = None) -> Outcome:
        """The outcome of the next call: the method's queue first, then the verb's."""
        for key in (f"method:{payment_method_id}", verb):
            queue = self._queues.get(key)
            if queue:
                return queue.popleft()
        return Outcome()

    def clear(self) -> None:
        """Forget every queued outcome."""
        self._queues.clear()


class RateWindow:
    """At most ``limit`` requests in any second; the next one is refused as a 429."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._recent: deque[float] = deque()
        self._lock = threading.Lock()

    def admit(self, limit: float) -> bool:
        """Count one request; False (not counted) if it is over ``limit``: a 429."""
        with self._lock:
            now = self._monotonic()
            while self._recent and now - self._recent[0] >= 1.0:
                self._recent.popleft()
            if len(self._recent) >= limit:
                return False
            self._recent.append(now)
            return True
