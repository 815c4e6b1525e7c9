"""Migration 0013 on a database built by 0012 with rows in it, on SQLite and PostgreSQL.

0013 adds ``enrollpay_schedule_items.reminded_at`` (empty for every existing
item: the next sweep announces the items due soon) and the empty log of sent
notifications; the downgrade drops both and keeps the rows.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from enrollpay import PaymentSystem
from enrollpay.domain.lifecycle import ItemStatus
from enrollpay.storage.sql import SqlStore, migrate
from enrollpay.testing import FrozenClock

from ..contract.test_store_contract import T0, TODAY, an_item  # noqa: TID252 - tests/ off sys.path
from .test_migration_0004 import empty_url  # noqa: F401 - the fixture, parametrised per database
from .test_sql_store import _downgrade, _schema_diff, _seed_at

_LOG = "enrollpay_sent_notifications"


def _reminded(url: str) -> dict[str, list[object]]:
    """Each item's status, and its reminded_at where the column exists."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            names = {c["name"] for c in sa.inspect(conn).get_columns("enrollpay_schedule_items")}
            wanted = ["id", "status"] + (["reminded_at"] if "reminded_at" in names else [])
            rows = conn.execute(
                sa.text(f"SELECT {', '.join(wanted)} FROM enrollpay_schedule_items ORDER BY seq")  # noqa: S608 - fixed names
            ).all()
            return {str(row[0]): list(row[1:]) for row in rows}
    finally:
        engine.dispose()


def _has_log(url: str) -> bool:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return sa.inspect(conn).has_table(_LOG)
    finally:
        engine.dispose()


def test_0013_adds_an_empty_reminder_column_and_log_and_the_next_sweep_reminds(
    empty_url: str,  # noqa: F811
) -> None:
    """Rows keep their values; reminded_at starts empty; a sweep reminds once; downgrade."""
    soon = an_item("itm_1", seq=1, due=TODAY + timedelta(days=2))
    later = an_item("itm_2", seq=2, due=TODAY + timedelta(days=30))
    _seed_at(empty_url, "0012", [soon, later])
    assert _reminded(empty_url) == {"itm_1": ["scheduled"], "itm_2": ["scheduled"]}
    assert not _has_log(empty_url)

    migrate(empty_url)

    assert _schema_diff(empty_url) == []
    assert _reminded(empty_url) == {"itm_1": ["scheduled", None], "itm_2": ["scheduled", None]}
    store = SqlStore.from_url(empty_url, migrate=False)
    try:
        system = PaymentSystem(store=store, clock=FrozenClock(T0))
        assert system.sweep().items_reminded == 1
        assert [(e.kind, e.data["item_id"]) for e in system.list_events()] == [
            ("installment.upcoming", "itm_1")
        ]
        assert system.sweep().items_reminded == 0
        assert system.get_schedule_item("itm_1").status == ItemStatus.SCHEDULED
        with store.transaction() as tx:
            assert tx.record_notification("evt_1", "payment_failed", sent_at=T0)
    finally:
        store.close()
    assert _reminded(empty_url)["itm_1"][1] is not None
    assert _reminded(empty_url)["itm_2"] == ["scheduled", None]

    _downgrade(empty_url, "0012")

    assert _reminded(empty_url) == {"itm_1": ["scheduled"], "itm_2": ["scheduled"]}
    assert not _has_log(empty_url)
