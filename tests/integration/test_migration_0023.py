"""Migration 0023 on a database built by 0022 with rows in it, on SQLite and PostgreSQL.

0023 gives products a seat limit (empty: existing products keep no limit)
and adds the seat and waitlist tables, both empty. After it the existing
product sells without a limit as before, and a limit set on it is kept by
the store. The downgrade drops the tables and the column and keeps the rest.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from enrollpay import PaymentSystem
from enrollpay.errors_seats import SeatsFullError
from enrollpay.storage.sql import SqlStore, migrate
from enrollpay.testing import FrozenClock

from ..contract.test_store_contract import T0  # noqa: TID252 - tests/ off sys.path
from .test_migration_0004 import empty_url  # noqa: F401 - the fixture, parametrised per database
from .test_sql_store import _downgrade, _schema_diff, _seed_at

_TABLES = ("enrollpay_seats", "enrollpay_waitlist")


def _shape(url: str) -> tuple[set[str], set[str]]:
    """The database's tables, and the columns of its products table."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            columns = {c["name"] for c in inspector.get_columns("enrollpay_products")}
            return set(inspector.get_table_names()), columns
    finally:
        engine.dispose()


def test_0023_adds_seat_limits_and_empty_seat_tables(empty_url: str) -> None:  # noqa: F811
    """The product keeps its row with no limit; seats then work; downgrade drops them only."""
    _seed_at(empty_url, "0022")
    tables, columns = _shape(empty_url)
    assert not set(_TABLES) & tables
    assert "seat_limit" not in columns

    migrate(empty_url)

    assert _schema_diff(empty_url) == []
    store = SqlStore.from_url(empty_url, migrate=False)
    try:
        system = PaymentSystem(store=store, clock=FrozenClock(T0))
        product = system.get_product("prod_1")
        assert product.seat_limit is None
        assert system.seats("prod_1").counts.free is None
        system.set_seat_limit("prod_1", 1, actor="admin")
        system.enroll(user_id="u-9", product_id="prod_1")
        with pytest.raises(SeatsFullError):
            system.enroll(user_id="u-10", product_id="prod_1")
        assert system.seats("prod_1").counts.taken == 1
    finally:
        store.close()

    _downgrade(empty_url, "0022")

    tables, columns = _shape(empty_url)
    assert not set(_TABLES) & tables
    assert "seat_limit" not in columns
    assert "enrollpay_enrollments" in tables
