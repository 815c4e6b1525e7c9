"""Migration 0007 on a database built by 0006 with rows in it, on SQLite and PostgreSQL.

0007 adds ``enrollpay_schedule_items.overdue_at``, empty for every existing
item (the first sweep after the upgrade announces the items that are
overdue already); the downgrade drops it and keeps the rows.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from enrollpay import PaymentSystem
from enrollpay.domain.lifecycle import EnrollmentStatus, ItemStatus
from enrollpay.storage.sql import SqlStore, migrate
from enrollpay.testing import FrozenClock

from ..contract.test_store_contract import T0, TODAY, an_item  # noqa: TID252 - tests/ off sys.path
from .test_migration_0004 import empty_url  # noqa: F401 - the fixture, parametrised per database
from .test_sql_store import _downgrade, _schema_diff, _seed_at


def _columns(url: str) -> dict[str, list[object]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            names = {c["name"] for c in sa.inspect(conn).get_columns("enrollpay_schedule_items")}
            wanted = ["id", "status"] + (["overdue_at"] if "overdue_at" in names else [])
            rows = conn.execute(
                sa.text(f"SELECT {', '.join(wanted)} FROM enrollpay_schedule_items ORDER BY seq")  # noqa: S608 - fixed names
            ).all()
            return {str(row[0]): list(row[1:]) for row in rows}
    finally:
        engine.dispose()


def test_0007_adds_an_empty_overdue_at_and_the_next_sweep_fills_it(empty_url: str) -> None:  # noqa: F811
    """Rows keep their values; overdue_at starts empty; a sweep marks the late one; downgrade."""
    late = an_item("itm_1", seq=1, due=TODAY - timedelta(days=10), status=ItemStatus.FAILED)
    paid = an_item("itm_2", seq=2, due=TODAY - timedelta(days=40), status=ItemStatus.PAID)
    _seed_at(empty_url, "0006", [late, paid])
    assert _columns(empty_url) == {"itm_1": ["failed"], "itm_2": ["paid"]}
    migrate(empty_url)
    assert _schema_diff(empty_url) == []
    assert _columns(empty_url) == {"itm_1": ["failed", None], "itm_2": ["paid", None]}
    store = SqlStore.from_url(empty_url, migrate=False)
    try:
        system = PaymentSystem(store=store, clock=FrozenClock(T0))
        report = system.sweep()
        assert (report.items_overdue, report.changed) == (1, 1)
        assert system.get_enrollment("enr_1").status == EnrollmentStatus.PAST_DUE
        assert [e.kind for e in system.list_events()] == [
            "installment.overdue",
            "enrollment.past_due",
        ]
        assert system.sweep().items_overdue == 0  # announced once
    finally:
        store.close()
    columns = _columns(empty_url)
    assert columns["itm_1"][1] is not None
    assert columns["itm_2"] == ["paid", None]
    _downgrade(empty_url, "0006")
    assert _columns(empty_url) == {"itm_1": ["failed"], "itm_2": ["paid"]}
