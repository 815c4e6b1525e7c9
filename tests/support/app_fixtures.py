"""The frozen clock, fake gateway and in-memory system that app-level tests share.

A conftest imports the three fixtures by name (pytest then finds them in
that conftest's namespace): the integrations' route tests and the example
apps' end-to-end tests both run on them.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from enrollpay import PaymentSystem
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds

__all__ = ["clock", "fake", "system"]


@pytest.fixture
def clock() -> FrozenClock:
    """The seed's enrollment day, a Monday, 09:00 UTC."""
    return FrozenClock(datetime(2027, 3, 15, 9, 0, tzinfo=UTC))


@pytest.fixture
def fake(clock: FrozenClock) -> FakeGateway:
    """The fake gateway on the frozen clock (it signs its webhooks on it)."""
    return FakeGateway(clock=clock)


@pytest.fixture
def system(fake: FakeGateway, clock: FrozenClock) -> PaymentSystem:
    """An in-memory system on the fake gateway, with sequential ids."""
    return PaymentSystem(store=InMemoryStore(), gateway=fake, clock=clock, ids=SequentialIds())
