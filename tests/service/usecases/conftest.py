"""Fixtures of the use-case tests: the facade over InMemoryStore, FakeGateway and FrozenClock.

The parent ``tests/service/conftest.py`` runs its tests on every store kind;
here the ``store`` fixture is overridden with one in-memory store, so these
tests assert use-case behaviour (end state, outbox events, gateway calls)
without repeating the store contract, which ``tests/contract`` checks on
memory, SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest

from enrollpay import FullPayment, Installments, PaymentSystem
from enrollpay.domain.records import Product
from enrollpay.ports import Store
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway
from tests.service.conftest import usd
from tests.service.usecases.support import Outbox, enroll_and_pay


@pytest.fixture
def store() -> Store:
    """One fresh in-memory store (overrides the parent's parametrised fixture)."""
    return InMemoryStore()


@pytest.fixture
def outbox(system: PaymentSystem) -> Outbox:
    """The system's outbox, read through ``list_events``."""
    return Outbox(system)


@pytest.fixture
def three(system: PaymentSystem) -> Product:
    """A 300.00 USD course on three monthly installments of 100.00."""
    return system.register_product(
        product_type="course",
        product_id="three",
        name="Three installments",
        price=usd("300.00"),
        payment_plan=Installments(3),
    )


@pytest.fixture
def full(system: PaymentSystem) -> Product:
    """A 299.99 USD course paid in full."""
    return system.register_product(
        product_type="course",
        product_id="full",
        name="Paid in full",
        price=usd("299.99"),
        payment_plan=FullPayment(),
    )


@pytest.fixture
def paid_first(system: PaymentSystem, fake: FakeGateway, outbox: Outbox, three: Product) -> str:
    """u-1 on three installments, the first paid on-session (card saved); outbox marked."""
    result = enroll_and_pay(system, fake, three)
    outbox.mark()
    return result.enrollment_id
