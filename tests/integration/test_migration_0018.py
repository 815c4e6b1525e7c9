"""Migration 0018 on a database built by 0017 with rows in it, on SQLite and PostgreSQL.

0018 adds ``gateway_invoice_id`` and ``hosted_invoice_url`` to schedule
items and payment attempts, NULL for the rows already there (they were
charged directly); the store then keeps an invoice's link; the downgrade
drops the columns and keeps the rows.
"""

from __future__ import annotations

import attrs
import sqlalchemy as sa

from enrollpay.domain.lifecycle import AttemptStatus
from enrollpay.storage.sql import SqlStore, migrate

from ..contract.test_store_contract import an_attempt, an_item  # noqa: TID252 - tests/ off sys.path
from .test_migration_0004 import empty_url  # noqa: F401 - the fixture, parametrised per database
from .test_sql_store import _attempts_as_of, _downgrade, _schema_diff, _seed_at

_TABLES = ("enrollpay_schedule_items", "enrollpay_payment_attempts")
_NEW = {"gateway_invoice_id", "hosted_invoice_url"}


def _columns(url: str, table: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {c["name"] for c in sa.inspect(conn).get_columns(table)}
    finally:
        engine.dispose()


def test_0018_adds_invoice_links_empty_and_the_store_keeps_them(empty_url: str) -> None:  # noqa: F811
    """Old rows read with no invoice; a link written after the upgrade reads back; downgrade."""
    failed = an_attempt("att_1", status=AttemptStatus.FAILED, gateway_payment_id="pi_1")
    _seed_at(empty_url, "0017", [an_item("itm_1", seq=1)], [failed])
    for table in _TABLES:
        assert not _NEW & _columns(empty_url, table)

    migrate(empty_url)

    assert _schema_diff(empty_url) == []
    for table in _TABLES:
        assert _columns(empty_url, table) >= _NEW
    assert _attempts_as_of(empty_url) == {"att_1": failed}
    store = SqlStore.from_url(empty_url, migrate=False)
    try:
        with store.transaction() as tx:
            item = tx.get_item("itm_1")
            assert item is not None
            assert (item.gateway_invoice_id, item.hosted_invoice_url) == (None, None)
            tx.update_item(
                attrs.evolve(item, gateway_invoice_id="in_1", hosted_invoice_url="https://i/1")
            )
            linked = an_attempt("att_2", number=2, gateway_invoice_id="in_1",
                                hosted_invoice_url="https://i/1")  # fmt: skip
            tx.add_attempt(linked)
        with store.transaction() as tx:
            item = tx.get_item("itm_1")
            assert item is not None
            assert (item.gateway_invoice_id, item.hosted_invoice_url) == ("in_1", "https://i/1")
            assert tx.get_attempt("att_2") == linked
    finally:
        store.close()

    _downgrade(empty_url, "0017")

    for table in _TABLES:
        assert not _NEW & _columns(empty_url, table)
    assert set(_attempts_as_of(empty_url)) == {"att_1", "att_2"}
