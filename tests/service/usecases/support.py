"""Helpers of the use-case tests: the outbox, refusals that write nothing, common set-ups.

Everything here reads state through the public :class:`~enrollpay.PaymentSystem`
facade (and the fake gateway's request log), never through store transactions.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from enrollpay import PaymentSystem
from enrollpay.domain.events import DomainEvent
from enrollpay.domain.records import AuditEntry, Product
from enrollpay.gateways.fake import FakeCall
from enrollpay.service.results import EnrollmentResult
from enrollpay.testing import FakeGateway, FrozenClock
from tests.service.conftest import state_of

#: When the second of three monthly installments (from START) falls due.
SECOND_DUE = datetime(2027, 4, 15, 9, 0, tzinfo=UTC)


def usd_data(minor: int) -> dict[str, Any]:
    """An amount as event data carries it."""
    return {"minor": minor, "currency": "USD"}


class Outbox:
    """The outbox of one system: what is there, and what arrived since the last mark."""

    def __init__(self, system: PaymentSystem) -> None:
        self.system = system
        self._mark = 0

    def all(self) -> list[DomainEvent]:
        """Every event, oldest first."""
        return self.system.list_events()

    def mark(self) -> None:
        """Remember how many events there are now; :meth:`new` returns the later ones."""
        self._mark = len(self.all())

    def new(self) -> list[DomainEvent]:
        """Events written since the last :meth:`mark` (all of them before the first)."""
        return self.all()[self._mark :]

    def new_kinds(self) -> list[str]:
        """The kinds of :meth:`new`, in order."""
        return [e.kind for e in self.new()]

    def take(self) -> list[DomainEvent]:
        """:meth:`new`, then mark."""
        events = self.new()
        self.mark()
        return events


def kinds(events: list[DomainEvent]) -> list[str]:
    """The kinds of ``events``, in order."""
    return [e.kind for e in events]


def everything(system: PaymentSystem) -> dict[str, Any]:
    """All state the facade shows, the outbox included."""
    state = state_of(system)
    state["rules"] = system.list_plan_rules()
    state["events"] = system.list_events()
    return state


@contextmanager
def refused(
    system: PaymentSystem,
    error: type[BaseException],
    *,
    fake: FakeGateway | None = None,
    match: str | None = None,
) -> Iterator[pytest.ExceptionInfo[BaseException]]:
    """Expect ``error``; then state, outbox and (given ``fake``) its call log are unchanged."""
    before = everything(system)
    calls = None if fake is None else len(fake.calls)
    with pytest.raises(error, match=match) as info:
        yield info
    assert everything(system) == before
    if fake is not None:
        assert fake.calls[calls:] == []


def calls_of(fake: FakeGateway, verb: str, since: int = 0) -> list[FakeCall]:
    """The calls of one verb the fake received (from index ``since`` of its log)."""
    return [c for c in fake.calls[since:] if c.verb == verb]


def enroll_and_pay(
    system: PaymentSystem, fake: FakeGateway, product: Product, user: str = "u-1"
) -> EnrollmentResult:
    """Enroll ``user`` and pay the first item on-session (its webhook delivered)."""
    result = system.enroll(user_id=user, product_id=product.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret)
    fake.deliver(system)
    return result


def data(event: DomainEvent) -> Mapping[str, Any]:
    """An event's data as a plain dict (for equality with literals)."""
    return dict(event.data)


def run_retries(system: PaymentSystem, clock: FrozenClock, failures: int) -> None:
    """Collect on the day the next installment falls due and on each retry day after it.

    With the default policy (retries 1, 3 and 7 days apart) and the fake
    scripted to decline, ``failures=4`` ends in a defaulted item. The clock
    starts a month before the installment is due.
    """
    steps = [timedelta(days=31), *system.config.retry_policy.delays][:failures]
    for step in steps:
        clock.advance(step)
        system.collect_due()


def save_card(system: PaymentSystem, fake: FakeGateway, user: str, method: str) -> None:
    """The student saves a card through the setup flow (its webhook delivered)."""
    secret = system.start_payment_method_update(user)
    fake.complete_setup(secret, payment_method=method)
    fake.deliver(system)


def audited(system: PaymentSystem, entity_id: str, action: str) -> list[AuditEntry]:
    """The audit entries of one entity with one action, in chain order."""
    return [e for e in system.audit_log(entity_id=entity_id) if e.action == action]
