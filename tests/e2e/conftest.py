"""Fixtures of the example apps' end-to-end tests: a frozen clock, the fake gateway, a system."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from enrollpay import PaymentSystem
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds


@pytest.fixture
def clock() -> FrozenClock:
    """The seed's enrollment day, 09:00 UTC."""
    return FrozenClock(datetime(2027, 3, 15, 9, 0, tzinfo=UTC))


@pytest.fixture
def fake(clock: FrozenClock) -> FakeGateway:
    """The fake gateway, signing webhooks on the frozen clock."""
    return FakeGateway(clock=clock)


@pytest.fixture
def system(fake: FakeGateway, clock: FrozenClock) -> PaymentSystem:
    """An in-memory system on the fake gateway."""
    return PaymentSystem(store=InMemoryStore(), gateway=fake, clock=clock, ids=SequentialIds())
