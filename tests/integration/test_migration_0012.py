"""Migration 0012 on a database built by the revision before it, on SQLite and PostgreSQL.

0012 adds ``enrollpay_sync_cursors``, empty: the first ``reconcile`` after
the upgrade walks the gateway's record from the configured look-back. The
downgrade drops the table and keeps every other row.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from enrollpay.ports import SyncCursor
from enrollpay.storage.sql import SqlStore, migrate

from ..contract.test_store_contract import T0, an_item  # noqa: TID252 - tests/ off sys.path
from .test_migration_0004 import empty_url  # noqa: F401 - the fixture, parametrised per database
from .test_sql_store import _downgrade, _schema_diff, _seed_at

_TABLE = "enrollpay_sync_cursors"


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return set(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()


def test_0012_adds_an_empty_cursor_table_and_the_downgrade_drops_it(empty_url: str) -> None:  # noqa: F811
    """Upgraded: no cursor yet, the schema matches, cursors move; downgraded: table gone."""
    _seed_at(empty_url, "0011", [an_item("itm_1")])
    assert _TABLE not in _tables(empty_url)
    migrate(empty_url)
    assert _schema_diff(empty_url) == []
    store = SqlStore.from_url(empty_url, migrate=False)
    moved = SyncCursor("stripe", "refunds", T0, T0 + timedelta(hours=1))
    try:
        with store.reader() as view:
            assert view.sync_cursor("stripe", "refunds") is None
            assert view.get_item("itm_1") is not None
        with store.transaction() as tx:
            assert tx.advance_sync_cursor(moved) == moved
        with store.reader() as view:
            assert view.sync_cursor("stripe", "refunds") == moved
    finally:
        store.close()
    _downgrade(empty_url, "0011")
    assert _TABLE not in _tables(empty_url)
    assert "enrollpay_schedule_items" in _tables(empty_url)
