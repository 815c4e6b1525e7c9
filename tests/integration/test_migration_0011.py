"""Migration 0011 on a database built by 0010 with rows in it, on SQLite and PostgreSQL.

0011 adds ``enrollpay_disputes`` and ``enrollpay_enrollments.dispute_hold``
(false for every existing enrollment: no dispute was recorded before); the
downgrade drops both and keeps the other rows.
"""

from __future__ import annotations

import sqlalchemy as sa

from enrollpay.domain.records import Payment
from enrollpay.storage.sql import SqlStore, metadata, migrate
from enrollpay.storage.sql import mapping as m

from ..contract.test_dispute_contract import a_dispute  # noqa: TID252 - tests/ off sys.path
from ..contract.test_store_contract import T0, an_item, usd  # noqa: TID252
from .test_migration_0004 import empty_url  # noqa: F401 - the fixture, parametrised per database
from .test_sql_store import _downgrade, _schema_diff, _seed_at

_PAYMENT = Payment("pay_1", "enr_1", "itm_1", usd("100.00"), "gateway", T0, "pi_1")


def _inspect(url: str) -> tuple[set[str], list[tuple[object, ...]]]:
    """The enrollpay tables, and each enrollment's id with its dispute_hold if it has one."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            tables = set(inspector.get_table_names())
            names = {c["name"] for c in inspector.get_columns("enrollpay_enrollments")}
            wanted = "id, dispute_hold" if "dispute_hold" in names else "id"
            rows = conn.execute(
                sa.text(f"SELECT {wanted} FROM enrollpay_enrollments ORDER BY id")  # noqa: S608 - fixed names
            ).all()
            return tables, [tuple(row) for row in rows]
    finally:
        engine.dispose()


def test_0011_adds_disputes_and_an_empty_hold(empty_url: str) -> None:  # noqa: F811
    """Rows keep their values; no hold; disputes can be written; the downgrade drops both."""
    _seed_at(empty_url, "0010", [an_item("itm_1")])
    engine = sa.create_engine(empty_url)
    try:
        with engine.begin() as conn:
            conn.execute(metadata.tables["enrollpay_payments"].insert(), m.payment_to_row(_PAYMENT))
    finally:
        engine.dispose()
    tables, rows = _inspect(empty_url)
    assert "enrollpay_disputes" not in tables
    assert rows == [("enr_1",)]

    migrate(empty_url)
    assert _schema_diff(empty_url) == []
    tables, rows = _inspect(empty_url)
    assert "enrollpay_disputes" in tables
    assert rows == [("enr_1", False)]
    store = SqlStore.from_url(empty_url, migrate=False)
    try:
        with store.transaction() as tx:
            enrollment = tx.get_enrollment("enr_1")
            assert enrollment is not None
            assert not enrollment.dispute_hold
            tx.add_dispute(a_dispute())
        with store.reader() as view:
            assert view.disputes_of("enr_1") == [a_dispute()]
    finally:
        store.close()

    _downgrade(empty_url, "0010")
    tables, rows = _inspect(empty_url)
    assert "enrollpay_disputes" not in tables
    assert rows == [("enr_1",)]
