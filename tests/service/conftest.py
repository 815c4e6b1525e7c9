"""Fixtures for the service tests: a payment system over a store, the fake gateway and a clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from enrollpay import Money, PaymentSystem
from enrollpay.domain.records import Product
from enrollpay.ports import Store
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds

START = datetime(2027, 3, 15, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    """A frozen clock at 2027-03-15 09:00 UTC."""
    return FrozenClock(START)


@pytest.fixture
def fake(clock: FrozenClock) -> FakeGateway:
    """The fake gateway: events dated by the frozen clock, signed by the system clock."""
    return FakeGateway(clock=clock)


@pytest.fixture
def store(store_factory: Callable[[], Store]) -> Store:
    """A fresh store of the kind under test."""
    return store_factory()


@pytest.fixture
def system(store: Store, fake: FakeGateway, clock: FrozenClock) -> Iterator[PaymentSystem]:
    """A payment system; after the test its audit chain must still verify."""
    payment_system = PaymentSystem(store=store, gateway=fake, clock=clock, ids=SequentialIds())
    yield payment_system
    verification = payment_system.verify_audit_chain()
    assert verification.ok, verification


@pytest.fixture
def course(system: PaymentSystem) -> Product:
    """The seed's course: React Masterclass, 299.99 USD, automatic plan assignment."""
    return system.register_product(
        product_type="course",
        product_id="course-uuid",
        name="React Masterclass",
        price=Money.of("299.99", "USD"),
        auto_assign_payment_plan=True,
    )


def usd(amount: str) -> Money:
    """Dollars."""
    return Money.of(amount, "USD")


def state_of(system: PaymentSystem) -> dict[str, Any]:
    """Everything observable through the public API, for 'nothing was written' checks."""
    enrollments = system.list_enrollments()
    details = [system.payment_details(e.id) for e in enrollments]
    return {
        "products": system.list_products(),
        "enrollments": enrollments,
        "items": system.list_schedule_items(),
        "payments": [d.payments for d in details],
        "refunds": [d.refunds for d in details],
        "attempts": [d.attempts for d in details],
        "audit": system.audit_log(),
    }
