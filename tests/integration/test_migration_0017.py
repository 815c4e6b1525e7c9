"""Migration 0017 on a database built by 0016 with rows in it, on SQLite and PostgreSQL.

0017 adds the receipts and their counters, both empty: payments recorded
before it keep no receipt (none is invented), and the first payment after
it is receipt number 1. The downgrade drops both tables and keeps the rest.
"""

from __future__ import annotations

import sqlalchemy as sa

from enrollpay import PaymentSystem
from enrollpay.storage.sql import SqlStore, migrate
from enrollpay.testing import FrozenClock

from ..contract.test_store_contract import T0, an_item  # noqa: TID252 - tests/ off sys.path
from .test_migration_0004 import empty_url  # noqa: F401 - the fixture, parametrised per database
from .test_sql_store import _downgrade, _schema_diff, _seed_at

_TABLES = ("enrollpay_receipt_counters", "enrollpay_receipts")


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return set(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()


def test_0017_adds_empty_receipt_tables_and_the_next_payment_is_receipt_one(
    empty_url: str,  # noqa: F811
) -> None:
    """Items keep their rows; the new tables start empty; numbering starts at 1; downgrade."""
    _seed_at(empty_url, "0016", [an_item("itm_1", seq=1)])
    assert not set(_TABLES) & _tables(empty_url)

    migrate(empty_url)

    assert _schema_diff(empty_url) == []
    store = SqlStore.from_url(empty_url, migrate=False)
    try:
        system = PaymentSystem(store=store, clock=FrozenClock(T0))
        assert system.list_receipts("enr_1") == []
        payment = system.record_manual_payment("itm_1", method="cash", actor="admin")
        receipt = system.receipt_for_payment(payment.id)
        assert receipt is not None
        assert receipt.number == "R-000001"
    finally:
        store.close()

    _downgrade(empty_url, "0016")

    assert not set(_TABLES) & _tables(empty_url)
    assert "enrollpay_payments" in _tables(empty_url)
