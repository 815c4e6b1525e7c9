"""Fixtures of the adversarial suite: a wired system over the store kind under test.

The suite runs on every store ``store_factory`` offers (see ``tests/conftest.py``):
memory, SQLite and PostgreSQL. The module-scoped ``shared_world`` catalogues
add PostgreSQL only in the long run (``ENROLLPAY_STRESS=1``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from enrollpay import Installments, PaymentSystem
from enrollpay.domain.records import Product
from enrollpay.ports import Store
from enrollpay.storage.memory import InMemoryStore
from enrollpay.storage.sql import SqlStore
from tests.adversarial.support import World, make_world, usd

STRESS = os.environ.get("ENROLLPAY_STRESS") == "1"


@pytest.fixture
def world(store_factory: Callable[[], Store]) -> Iterator[World]:
    """A system, its fake gateway and clock; its audit chain must verify afterwards."""
    made = make_world(store_factory())
    yield made
    verification = made.system.verify_audit_chain()
    assert verification.ok, verification


SHARED_KINDS = ("memory", "sqlite", "postgres") if STRESS else ("memory", "sqlite")


@pytest.fixture(scope="module", params=SHARED_KINDS)
def shared_world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """One system per module and store kind, for catalogues of calls that must write nothing.

    Sharing is sound because every test using it asserts that the store is
    exactly as it was before its call; a test that wrote would fail itself.
    """
    kind: str = request.param
    url: str | None = None
    store: Store
    if kind == "memory":
        store = InMemoryStore()
    elif kind == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path_factory.mktemp("shared") / "shared.db"
        shutil.copyfile(template, path)
        store = SqlStore.from_url(f"sqlite:///{path}", migrate=False)
    else:
        databases = request.getfixturevalue("pg_databases")
        url = databases.create()
        store = SqlStore.from_url(url, migrate=False)
    made = make_world(store)
    yield made
    assert made.system.verify_audit_chain().ok
    if isinstance(store, SqlStore):
        store.close()
    if url is not None:
        request.getfixturevalue("pg_databases").drop(url)


@pytest.fixture
def system(world: World) -> PaymentSystem:
    """The system of :func:`world`."""
    return world.system


@pytest.fixture
def course(system: PaymentSystem) -> Product:
    """A 300.00 USD course on three monthly installments."""
    return system.register_product(
        product_type="course",
        product_id="adv-course",
        name="Adversarial course",
        price=usd("300.00"),
        payment_plan=Installments(3),
    )
