"""Migration 0020 on a database built by 0019 with rows in it, on SQLite and PostgreSQL.

0020 adds each schedule item's tax to ``enrollpay_schedule_items`` (empty
on existing rows: they were not taxed); the downgrade drops it and keeps
the rows.
"""

from __future__ import annotations

import attrs
import pytest
import sqlalchemy as sa

from enrollpay.domain.money import Money
from enrollpay.domain.taxes import TaxLine
from enrollpay.storage.sql import SqlStore, migrate

from ..contract.test_store_contract import an_item  # noqa: TID252 - tests/ off sys.path
from .test_migration_0004 import empty_url  # noqa: F401 - the fixture, parametrised per database
from .test_sql_store import _downgrade, _schema_diff, _seed_at

_TAX_COLUMNS = {"tax_minor", "tax_rate_ppm", "tax_jurisdiction", "tax_mode"}


def _columns(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            found = sa.inspect(conn).get_columns("enrollpay_schedule_items")
            return {str(c["name"]) for c in found if str(c["name"]).startswith("tax_")}
    finally:
        engine.dispose()


def test_0020_adds_an_empty_item_tax_that_round_trips_then_downgrades(
    empty_url: str,  # noqa: F811
) -> None:
    """Existing items are untaxed; a tax written after the upgrade comes back; a half is refused."""
    _seed_at(empty_url, "0019", [an_item("itm_1", seq=1)])
    assert _columns(empty_url) == set()

    migrate(empty_url)

    assert _schema_diff(empty_url) == []
    assert _columns(empty_url) == _TAX_COLUMNS
    store = SqlStore.from_url(empty_url, migrate=False)
    try:
        with store.transaction() as tx:
            old = tx.get_item("itm_1")
            assert old is not None
            assert old.tax is None
            currency = old.amount.currency
            tax = Money(old.amount.minor // 10, currency)
            line = TaxLine(old.amount - tax, tax, 100_000, "US-CA", "inclusive")
            tx.update_item(attrs.evolve(old, tax=line))
        with store.transaction() as tx:
            stored = tx.get_item("itm_1")
            assert stored is not None
            assert stored.tax == line
        engine = sa.create_engine(empty_url)
        try:
            with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
                conn.execute(sa.text("UPDATE enrollpay_schedule_items SET tax_mode = NULL"))
        finally:
            engine.dispose()
    finally:
        store.close()

    _downgrade(empty_url, "0019")

    assert _columns(empty_url) == set()
    engine = sa.create_engine(empty_url)
    try:
        with engine.connect() as conn:
            count = conn.execute(sa.text("SELECT count(*) FROM enrollpay_schedule_items")).scalar()
        assert count == 1
    finally:
        engine.dispose()
