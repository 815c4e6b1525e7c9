"""Migration 0006 on a database built by 0005 with rows in it, on SQLite and PostgreSQL.

0006 adds ``enrollpay_enrollments.paused_days`` (never negative), filled
from the ``enrollment.resumed`` audit entries each enrollment already has:
their ``shifted_days``, each cut to the days since the service start. The
downgrade drops the column.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from enrollpay.storage.sql import migrate
from enrollpay.storage.sql.schema import audit_log, enrollments

from ..contract.test_store_contract import T0, TODAY  # noqa: TID252 - tests/ off sys.path
from .test_migration_0004 import empty_url  # noqa: F401 - the fixture, parametrised per database
from .test_sql_store import _downgrade, _schema_diff, _seed_at

#: enrollment id -> its service start, as 0005 stores them.
_STARTS = {
    "enr_twice": TODAY,
    "enr_later_start": date(2027, 5, 1),
    "enr_never": TODAY,
    "enr_odd_entries": TODAY,
}
#: (enrollment id, action, data, when): the audit entries 0005 holds.
_ENTRIES: list[tuple[str, str, dict[str, object], datetime]] = [
    ("enr_twice", "enrollment.paused", {"items": 2, "reason": None}, T0 + timedelta(days=16)),
    ("enr_twice", "enrollment.resumed", {"shifted_days": 10}, T0 + timedelta(days=26)),
    ("enr_twice", "enrollment.resumed", {"shifted_days": 5}, T0 + timedelta(days=80)),
    # Paused from 2027-04-24, a week before its start, resumed three days after it.
    (
        "enr_later_start",
        "enrollment.resumed",
        {"shifted_days": 10},
        datetime(2027, 5, 4, 23, 0, tzinfo=T0.tzinfo),
    ),
    ("enr_odd_entries", "enrollment.resumed", {"status": "active"}, T0 + timedelta(days=3)),
    ("enr_odd_entries", "enrollment.resumed", {"shifted_days": 0}, T0 + timedelta(days=4)),
    ("enr_odd_entries", "enrollment.cancelled", {"shifted_days": 9}, T0 + timedelta(days=5)),
]


def _add_rows(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            present = {c["name"] for c in sa.inspect(conn).get_columns("enrollpay_enrollments")}
            at_0005 = [c for c in enrollments.c if c.name in present]
            assert "paused_days" not in present
            template = conn.execute(sa.select(*at_0005)).mappings().one()
            for enrollment_id, start in _STARTS.items():
                row = dict(template)
                row.update(id=enrollment_id, user_id=enrollment_id, start_date=start)
                conn.execute(enrollments.insert().values(row))
            for seq, (enrollment_id, action, data, at) in enumerate(_ENTRIES, start=1):
                conn.execute(
                    audit_log.insert().values(
                        seq=seq,
                        at=at,
                        actor="admin",
                        action=action,
                        entity_type="enrollment",
                        entity_id=enrollment_id,
                        data=data,
                        prev_hash=f"{seq - 1:064d}",
                        hash=f"{seq:064d}",
                    )
                )
    finally:
        engine.dispose()


def _paused(url: str) -> dict[str, object]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("enrollpay_enrollments")}
            if "paused_days" not in columns:
                return {}
            rows = conn.execute(sa.select(enrollments.c.id, enrollments.c.paused_days))
            return {row.id: row.paused_days for row in rows}
    finally:
        engine.dispose()


def _set_paused_days(url: str, days: int) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                enrollments.update().where(enrollments.c.id == "enr_1").values(paused_days=days)
            )
    finally:
        engine.dispose()


def test_0006_counts_the_days_of_past_pauses_from_the_audit_trail(empty_url: str) -> None:  # noqa: F811
    """Resume entries add up, cut to the service; others give 0; never negative; downgrade drops."""
    url = empty_url
    _seed_at(url, "0005")
    _add_rows(url)
    assert _paused(url) == {}

    migrate(url)
    assert _paused(url) == {
        "enr_1": 0,
        "enr_twice": 15,
        "enr_later_start": 3,
        "enr_never": 0,
        "enr_odd_entries": 0,
    }
    assert _schema_diff(url) == []
    with pytest.raises(sa.exc.IntegrityError):
        _set_paused_days(url, -1)
    _set_paused_days(url, 4)
    assert _paused(url)["enr_1"] == 4

    _downgrade(url, "0005")
    assert _paused(url) == {}
    migrate(url)
    assert _paused(url)["enr_twice"] == 15
