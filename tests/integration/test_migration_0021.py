"""Migration 0021 on a database built by 0020 with rows in it, on SQLite and PostgreSQL.

0021 adds the payers table and ``payer_id`` on schedule items. Items
written before it keep NULL there (the student pays them, as before); a
payer can then be stored and an item can name it. The downgrade drops
both and keeps the items.
"""

from __future__ import annotations

import sqlalchemy as sa

from enrollpay.storage.sql import SqlStore, migrate

from ..contract.test_payer_contract import a_payer  # noqa: TID252 - tests/ off sys.path
from ..contract.test_store_contract import an_item  # noqa: TID252
from .test_migration_0004 import empty_url  # noqa: F401 - the fixture, parametrised per database
from .test_sql_store import _downgrade, _schema_diff, _seed_at


def _columns(url: str, table: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            if table not in inspector.get_table_names():
                return set()
            return {c["name"] for c in inspector.get_columns(table)}
    finally:
        engine.dispose()


def test_0021_adds_payers_and_old_items_stay_the_students(empty_url: str) -> None:  # noqa: F811
    """Old items keep their rows with no payer; payers can be stored and named; downgrade."""
    _seed_at(empty_url, "0020", [an_item("itm_1", seq=1)])
    assert "payer_id" not in _columns(empty_url, "enrollpay_schedule_items")
    assert _columns(empty_url, "enrollpay_payers") == set()

    migrate(empty_url)

    assert _schema_diff(empty_url) == []
    store = SqlStore.from_url(empty_url, migrate=False)
    try:
        with store.reader() as view:
            old = view.get_item("itm_1")
        assert old is not None
        assert old.payer_id is None
        with store.transaction() as tx:
            tx.add_payer(a_payer())
            tx.add_items([an_item("itm_2", seq=2, payer_id="pay_1")])
        with store.reader() as view:
            assert [i.id for i in view.items_of_payer("pay_1")] == ["itm_2"]
    finally:
        store.close()

    _downgrade(empty_url, "0020")

    assert "payer_id" not in _columns(empty_url, "enrollpay_schedule_items")
    assert _columns(empty_url, "enrollpay_payers") == set()
    assert "amount_minor" in _columns(empty_url, "enrollpay_schedule_items")
