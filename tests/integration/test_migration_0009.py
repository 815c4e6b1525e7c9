"""Migration 0009 on a database built by 0008 with rows in it, on SQLite and PostgreSQL.

0009 adds ``enrollpay_enrollments.awaiting_payment_method`` (not null,
false for every existing enrollment: trials enrolled before it started
without a card and keep their status); the downgrade drops it and keeps
the rows.
"""

from __future__ import annotations

import attrs
import sqlalchemy as sa

from enrollpay import Interval, Subscription
from enrollpay.domain.lifecycle import EnrollmentStatus
from enrollpay.storage.sql import SqlStore, migrate

from ..contract.test_store_contract import an_enrollment  # noqa: TID252 - tests/ off sys.path
from .test_migration_0004 import empty_url  # noqa: F401 - the fixture, parametrised per database
from .test_sql_store import _downgrade, _schema_diff, _seed_at

_TRIAL = Subscription(Interval.months(1), cycles=None, trial_days=14)


def _columns(url: str) -> dict[str, list[object]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            names = {c["name"] for c in sa.inspect(conn).get_columns("enrollpay_enrollments")}
            wanted = ["id", "status"]
            wanted += ["awaiting_payment_method"] if "awaiting_payment_method" in names else []
            rows = conn.execute(
                sa.text(f"SELECT {', '.join(wanted)} FROM enrollpay_enrollments ORDER BY id")  # noqa: S608 - fixed names
            ).all()
            return {str(row[0]): [bool(v) if isinstance(v, int) else v for v in row[1:]]
                    for row in rows}  # fmt: skip
    finally:
        engine.dispose()


def test_0009_adds_a_false_awaiting_payment_method_the_store_reads_and_writes(
    empty_url: str,  # noqa: F811
) -> None:
    """Rows keep their values with false; the store writes true; downgrade keeps the rows."""
    _seed_at(empty_url, "0008")
    assert _columns(empty_url) == {"enr_1": ["active"]}
    migrate(empty_url)
    assert _schema_diff(empty_url) == []
    assert _columns(empty_url) == {"enr_1": ["active", False]}
    waiting = an_enrollment(
        "enr_2",
        user="u-2",
        status=EnrollmentStatus.PENDING_PAYMENT,
        plan=_TRIAL,
        awaiting_payment_method=True,
    )
    store = SqlStore.from_url(empty_url, migrate=False)
    try:
        with store.transaction() as tx:
            assert tx.get_enrollment("enr_1") == an_enrollment()
            tx.add_enrollment(waiting)
        with store.transaction() as tx:
            assert tx.get_enrollment("enr_2") == waiting
            tx.update_enrollment(attrs.evolve(waiting, awaiting_payment_method=False))
        with store.reader() as view:
            stored = view.get_enrollment("enr_2")
            assert stored is not None
            assert stored.awaiting_payment_method is False
    finally:
        store.close()
    assert _columns(empty_url) == {
        "enr_1": ["active", False],
        "enr_2": ["pending_payment", False],
    }
    _downgrade(empty_url, "0008")
    assert _columns(empty_url) == {"enr_1": ["active"], "enr_2": ["pending_payment"]}
    migrate(empty_url)
    assert _columns(empty_url)["enr_2"] == ["pending_payment", False]
