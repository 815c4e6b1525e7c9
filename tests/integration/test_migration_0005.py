"""Migration 0005 on a database built by 0004 with rows in it, on SQLite and PostgreSQL.

0005 adds ``enrollpay_enrollments.access_granted_at``, set to ``created_at``
where access was certainly given (active, past_due or completed now, or a
payment exists) and empty elsewhere; the downgrade drops the column.
"""

from __future__ import annotations

import sqlalchemy as sa

from enrollpay.storage.sql import migrate
from enrollpay.storage.sql.schema import enrollments, payments

from ..contract.test_store_contract import T0, an_item, usd  # noqa: TID252 - tests/ off sys.path
from .test_migration_0004 import empty_url  # noqa: F401 - the fixture, parametrised per database
from .test_sql_store import _downgrade, _schema_diff, _seed_at

#: (enrollment id, status, has a payment) as 0004 stores them.
_ROWS = [
    ("enr_active", "active", False),
    ("enr_pending", "pending_payment", False),
    ("enr_suspended_paid", "suspended", True),
    ("enr_suspended_unpaid", "suspended", False),
]


def _add_enrollments(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            # The columns 0004 has: neither 0005's nor any added since.
            present = {c["name"] for c in sa.inspect(conn).get_columns("enrollpay_enrollments")}
            at_0004 = [c for c in enrollments.c if c.name in present]
            template = conn.execute(sa.select(*at_0004)).mappings().one()
            for enrollment_id, status, paid in _ROWS:
                row = dict(template)
                row.update(id=enrollment_id, status=status, user_id=enrollment_id)
                conn.execute(enrollments.insert().values(row))
                if paid:
                    conn.execute(
                        payments.insert().values(
                            id=f"pay_{enrollment_id}",
                            enrollment_id=enrollment_id,
                            item_id="itm_1",
                            amount_minor=usd("10.00").minor,
                            currency="USD",
                            method="cash",
                            received_at=T0,
                        )
                    )
    finally:
        engine.dispose()


def _granted(url: str) -> dict[str, object]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("enrollpay_enrollments")}
            if "access_granted_at" not in columns:
                return {}
            rows = conn.execute(sa.select(enrollments.c.id, enrollments.c.access_granted_at))
            return {row.id: row.access_granted_at for row in rows}
    finally:
        engine.dispose()


def test_0005_dates_access_where_it_was_certainly_given(empty_url: str) -> None:  # noqa: F811
    """Active and paid enrollments get created_at; the others stay empty; downgrade drops it."""
    url = empty_url
    _seed_at(url, "0004", [an_item("itm_1", seq=1)])
    _add_enrollments(url)
    assert _granted(url) == {}

    migrate(url)
    granted = _granted(url)
    assert granted["enr_active"] == T0
    assert granted["enr_suspended_paid"] == T0
    assert granted["enr_pending"] is None
    assert granted["enr_suspended_unpaid"] is None
    assert _schema_diff(url) == []

    _downgrade(url, "0004")
    assert _granted(url) == {}
    migrate(url)
    assert _granted(url)["enr_active"] == T0
