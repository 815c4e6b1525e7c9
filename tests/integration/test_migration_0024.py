"""Migration 0024 on a database built by 0023 with audit entries in it, on SQLite and PostgreSQL.

0024 adds, on PostgreSQL only, ``enrollpay_audit_head(lock_key)``: one call
that takes the chain's advisory lock and reads the chain's last entry. After
it, the chain written before the upgrade goes on from its last entry and
verifies; the downgrade drops the function and the chain still works (a
store of revision 0023's code would no longer call it).
"""

from __future__ import annotations

import sqlalchemy as sa

from enrollpay import PaymentSystem
from enrollpay.audit import link_entry
from enrollpay.storage.sql import SqlStore, migrate
from enrollpay.storage.sql import mapping as m
from enrollpay.storage.sql.engine import is_postgresql
from enrollpay.testing import FrozenClock

from ..contract.test_store_contract import T0, a_draft  # noqa: TID252 - tests/ off sys.path
from .test_migration_0004 import empty_url  # noqa: F401 - the fixture, parametrised per database
from .test_sql_store import _downgrade, _insert_as_of, _schema_diff, _seed_at


def _has_function(url: str) -> bool | None:
    """Whether the database has the function (None on SQLite, which has no such catalog)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if not is_postgresql(conn):
                return None
            found = conn.execute(
                sa.text("SELECT count(*) FROM pg_proc WHERE proname = 'enrollpay_audit_head'")
            ).scalar_one()
            return int(found) == 1
    finally:
        engine.dispose()


def _chain_of_two() -> list[dict[str, object]]:
    """The rows of a chain of two entries, as revision 0023's store left them."""
    first = link_entry(a_draft(1), None)
    return [m.audit_to_row(first), m.audit_to_row(link_entry(a_draft(2), first))]


def test_0024_adds_the_chain_head_function_and_the_chain_goes_on(
    empty_url: str,  # noqa: F811
) -> None:
    """Entries written at 0023 stay; at 0024 the next ones link to them; downgrade drops it."""
    _seed_at(empty_url, "0023")
    postgres = _has_function(empty_url) is not None
    _insert_as_of(empty_url, "enrollpay_audit_log", _chain_of_two())
    assert _has_function(empty_url) is (False if postgres else None)

    migrate(empty_url)

    assert _has_function(empty_url) is (True if postgres else None)
    assert _schema_diff(empty_url) == []
    store = SqlStore.from_url(empty_url, migrate=False)
    try:
        with store.transaction() as tx:
            tx.append_audit(a_draft(3))
        system = PaymentSystem(store=store, clock=FrozenClock(T0))
        log = system.audit_log()
        assert [e.seq for e in log] == [1, 2, 3]
        assert log[2].prev_hash == log[1].hash
        assert system.verify_audit_chain().ok
    finally:
        store.close()

    _downgrade(empty_url, "0023")

    assert _has_function(empty_url) is (False if postgres else None)
