"""A pytest plugin with ready-made fixtures (registered through the ``pytest11`` entry point).

Fixtures: ``enrollpay_clock`` (a :class:`FrozenClock` at 2027-01-04 09:00 UTC),
``enrollpay_gateway`` (a :class:`FakeGateway` on that clock),
``enrollpay_store`` (an :class:`InMemoryStore`) and ``enrollpay_system`` (a
:class:`~enrollpay.PaymentSystem` over the three, with sequential ids).
Override any of them in your ``conftest.py`` to change the wiring.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from enrollpay.gateways.fake import FakeGateway
from enrollpay.service.system import PaymentSystem
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing.clock import FrozenClock
from enrollpay.testing.ids import SequentialIds

__all__ = ["enrollpay_clock", "enrollpay_gateway", "enrollpay_store", "enrollpay_system"]


@pytest.fixture
def enrollpay_clock() -> FrozenClock:
    """A frozen clock at Monday 2027-01-04 09:00 UTC."""
    return FrozenClock(datetime(2027, 1, 4, 9, 0, tzinfo=UTC))


@pytest.fixture
def enrollpay_gateway(enrollpay_clock: FrozenClock) -> FakeGateway:
    """A fake gateway on the frozen clock (its webhooks are signed with the real time)."""
    return FakeGateway(clock=enrollpay_clock)


@pytest.fixture
def enrollpay_store() -> InMemoryStore:
    """An empty in-memory store."""
    return InMemoryStore()


@pytest.fixture
def enrollpay_system(
    enrollpay_store: InMemoryStore, enrollpay_gateway: FakeGateway, enrollpay_clock: FrozenClock
) -> PaymentSystem:
    """A payment system over the in-memory store, the fake gateway and the frozen clock."""
    return PaymentSystem(
        store=enrollpay_store,
        gateway=enrollpay_gateway,
        clock=enrollpay_clock,
        ids=SequentialIds(),
    )
