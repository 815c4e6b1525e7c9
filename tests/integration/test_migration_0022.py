"""Migration 0022 on a database built by 0021 with rows in it, on SQLite and PostgreSQL.

0022 gives every schedule item a schedule version (existing rows: 1) and
admits the ``superseded`` status. The downgrade drops the column and turns
superseded items into cancelled ones (never collected), keeping the rest.
"""

from __future__ import annotations

import sqlalchemy as sa

from enrollpay.domain.statuses import ItemStatus
from enrollpay.storage.sql import SqlStore, migrate

from ..contract.test_store_contract import an_item  # noqa: TID252 - tests/ off sys.path
from .test_migration_0004 import empty_url  # noqa: F401 - the fixture, parametrised per database
from .test_sql_store import _downgrade, _schema_diff, _seed_at

_ITEMS = "enrollpay_schedule_items"


def _rows(url: str) -> list[tuple[str, str]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            query = sa.text(f"SELECT id, status FROM {_ITEMS} ORDER BY seq")  # noqa: S608
            return [(str(r[0]), str(r[1])) for r in conn.execute(query)]
    finally:
        engine.dispose()


def _columns(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {c["name"] for c in sa.inspect(conn).get_columns(_ITEMS)}
    finally:
        engine.dispose()


def test_0022_versions_existing_items_one_and_admits_superseded(
    empty_url: str,  # noqa: F811
) -> None:
    """Rows keep their values at version 1; superseded items store; downgrade cancels them."""
    _seed_at(empty_url, "0021", [an_item("itm_1", seq=1), an_item("itm_2", seq=2)])
    assert "schedule_version" not in _columns(empty_url)

    migrate(empty_url)

    assert _schema_diff(empty_url) == []
    store = SqlStore.from_url(empty_url, migrate=False)
    try:
        with store.transaction() as tx:
            assert tx.items_of("enr_1") == [an_item("itm_1", seq=1), an_item("itm_2", seq=2)]
            tx.replace_open_items(
                "enr_1",
                [an_item("itm_2", seq=2, status=ItemStatus.SUPERSEDED)],
                [an_item("itm_3", seq=3, schedule_version=2)],
            )
        with store.transaction() as tx:
            assert [i.schedule_version for i in tx.items_of("enr_1")] == [1, 1, 2]
    finally:
        store.close()

    _downgrade(empty_url, "0021")

    assert "schedule_version" not in _columns(empty_url)
    assert _rows(empty_url) == [
        ("itm_1", "scheduled"),
        ("itm_2", "cancelled"),
        ("itm_3", "scheduled"),
    ]
