"""Migration 0010 on a database built by 0009 with rows in it, on SQLite and PostgreSQL.

0010 lets ``enrollpay_enrollments.status`` be ``defaulted`` (the
``after_final_failure="default"`` end state). The rows keep their values;
the downgrade turns a defaulted enrollment back into ``suspended``.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from enrollpay.domain.lifecycle import ItemStatus
from enrollpay.storage.sql import migrate

from ..contract.test_store_contract import an_item  # noqa: TID252 - tests/ off sys.path
from .test_migration_0004 import empty_url  # noqa: F401 - the fixture, parametrised per database
from .test_sql_store import _downgrade, _schema_diff, _seed_at


def _status(url: str) -> str:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return str(
                conn.execute(
                    sa.text("SELECT status FROM enrollpay_enrollments WHERE id = 'enr_1'")
                ).scalar_one()
            )
    finally:
        engine.dispose()


def _set_status(url: str, status: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE enrollpay_enrollments SET status = :s WHERE id = 'enr_1'"),
                {"s": status},
            )
    finally:
        engine.dispose()


def test_0010_admits_defaulted_and_the_downgrade_suspends_it(empty_url: str) -> None:  # noqa: F811
    """0009 refuses ``defaulted``; 0010 keeps the rows and takes it; down turns it to suspended."""
    _seed_at(empty_url, "0009", [an_item("itm_1", seq=1, status=ItemStatus.DEFAULTED)])
    before = _status(empty_url)
    with pytest.raises(sa.exc.IntegrityError):
        _set_status(empty_url, "defaulted")
    assert _status(empty_url) == before

    migrate(empty_url)
    assert _schema_diff(empty_url) == []
    assert _status(empty_url) == before
    _set_status(empty_url, "defaulted")
    assert _status(empty_url) == "defaulted"

    _downgrade(empty_url, "0009")
    assert _status(empty_url) == "suspended"
    with pytest.raises(sa.exc.IntegrityError):
        _set_status(empty_url, "defaulted")
