"""Migration 0015 on a database built by 0014 with rows in it, on SQLite and PostgreSQL.

0015 adds the coupon, redemption and scholarship tables (empty) and three
empty discount columns on enrollments: an existing enrollment reads back
undiscounted, with the price it had. The downgrade drops them all and
keeps the enrollment's row.
"""

from __future__ import annotations

import sqlalchemy as sa

from enrollpay.domain.discounts import Coupon
from enrollpay.storage.sql import SqlStore, migrate

from ..contract.test_store_contract import T0, an_enrollment, an_item  # noqa: TID252 - tests/ off sys.path
from .test_migration_0004 import empty_url  # noqa: F401 - the fixture, parametrised per database
from .test_sql_store import _downgrade, _schema_diff, _seed_at

_NEW_TABLES = ("enrollpay_coupons", "enrollpay_coupon_redemptions", "enrollpay_scholarships")


def _shape(url: str) -> tuple[set[str], set[str]]:
    """The discount tables present, and the enrollment table's columns."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            tables = {name for name in _NEW_TABLES if inspector.has_table(name)}
            columns = {c["name"] for c in inspector.get_columns("enrollpay_enrollments")}
            return tables, columns
    finally:
        engine.dispose()


def test_0015_adds_empty_discount_tables_and_columns(empty_url: str) -> None:  # noqa: F811
    """Existing enrollments read back undiscounted; coupons work after; downgrade drops all."""
    _seed_at(empty_url, "0014", [an_item("itm_1")])
    tables, columns = _shape(empty_url)
    assert tables == set()
    assert "list_price_minor" not in columns

    migrate(empty_url)

    assert _schema_diff(empty_url) == []
    tables, columns = _shape(empty_url)
    assert tables == set(_NEW_TABLES)
    assert {"list_price_minor", "coupon_code", "scholarship_id"} <= columns
    store = SqlStore.from_url(empty_url, migrate=False)
    try:
        with store.transaction() as tx:
            found = tx.get_enrollment("enr_1")
            assert found == an_enrollment()
            assert found is not None
            assert found.list_price is None
            tx.add_coupon(Coupon("SPRING", percent_off=1000, created_at=T0))
        with store.transaction() as tx:
            assert tx.redeem_coupon("SPRING", user_id="u-1", enrollment_id="enr_1", at=T0) == (
                "redeemed"
            )
    finally:
        store.close()

    _downgrade(empty_url, "0014")

    tables, columns = _shape(empty_url)
    assert tables == set()
    assert not {"list_price_minor", "coupon_code", "scholarship_id"} & columns
    engine = sa.create_engine(empty_url)
    try:
        with engine.connect() as conn:
            ids = conn.execute(sa.text("SELECT id FROM enrollpay_enrollments")).scalars().all()
    finally:
        engine.dispose()
    assert ids == ["enr_1"]
