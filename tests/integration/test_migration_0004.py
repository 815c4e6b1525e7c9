"""Migration 0004 on a database built by 0003 with rows in it, on SQLite and PostgreSQL.

0004 adds the outbox tables, admits the ``canceled`` attempt status and
turns the cancelled checkouts stored until now (``failed`` with decline
code ``canceled``) into ``canceled`` attempts; the downgrade undoes all of it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import attrs
import pytest
import sqlalchemy as sa

from enrollpay.domain.lifecycle import AttemptStatus
from enrollpay.domain.records import Payment, PaymentAttempt
from enrollpay.errors import StorageError
from enrollpay.storage.sql import SqlStore, migrate
from enrollpay.storage.sql import mapping as m

from ..contract.test_outbox_contract import an_event  # noqa: TID252 - tests/ is not on sys.path
from ..contract.test_store_contract import (  # noqa: TID252
    T0,
    an_attempt,
    an_item,
    usd,
)
from .test_sql_store import _attempts_as_of, _downgrade, _insert_as_of, _schema_diff, _seed_at

_OUTBOX_TABLES = {"enrollpay_outbox", "enrollpay_outbox_lease"}

#: The rows a 0003 database holds: a checkout cancelled at the gateway (as
#: 0003 stored it), a checkout declined then cancelled (its decline code was
#: overwritten the same way), an ordinary decline, and a success with its payment.
_CANCELLED_CHECKOUT = an_attempt(
    "att_cancelled",
    "itm_1",
    1,
    mode="on_session",
    status=AttemptStatus.FAILED,
    gateway_payment_id="pi_cancelled",
    decline_code="canceled",
    message="the payment was canceled at the gateway",
)
_DECLINED_THEN_CANCELLED = an_attempt(
    "att_declined_cancelled",
    "itm_1",
    2,
    mode="on_session",
    status=AttemptStatus.FAILED,
    gateway_payment_id="pi_declined_cancelled",
    decline_code="canceled",
)
_DECLINED = an_attempt(
    "att_declined", "itm_2", 1, status=AttemptStatus.FAILED, decline_code="card_declined"
)
_SUCCEEDED = an_attempt(
    "att_ok", "itm_3", 1, status=AttemptStatus.SUCCEEDED, gateway_payment_id="pi_ok"
)
_PAYMENT = Payment("pay_1", "enr_1", "itm_3", usd("100.00"), "gateway", T0, "pi_ok", "att_ok")
_OLD_ROWS = (_CANCELLED_CHECKOUT, _DECLINED_THEN_CANCELLED, _DECLINED, _SUCCEEDED)


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database (no tables yet) of the kind under test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'enrollpay.db'}"
        return
    databases = request.getfixturevalue("pg_databases")
    url = databases.create(migrated=False)
    yield url
    databases.drop(url)


def _seed_0003(url: str) -> None:
    """A database at 0003 holding the product, enrollment, items, attempts and a payment."""
    _seed_at(url, "0003", [an_item(f"itm_{n}", seq=n) for n in (1, 2, 3)], list(_OLD_ROWS))
    with _store(url) as store, store.transaction() as tx:
        tx.add_payment(_PAYMENT)


@contextmanager
def _store(url: str) -> Iterator[SqlStore]:
    """A store on ``url`` that leaves the schema as it is, closed when the block ends."""
    store = SqlStore.from_url(url, migrate=False, check_schema=False)
    try:
        yield store
    finally:
        store.close()


def _attempts(url: str) -> dict[str, PaymentAttempt]:
    return _attempts_as_of(url)


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return set(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()


def _lease_rows(url: str) -> list[tuple[object, ...]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT id, holder, lease_until FROM enrollpay_outbox_lease"
            ).all()
    finally:
        engine.dispose()
    return [tuple(row) for row in rows]


def _write_a_canceled_attempt(url: str, attempt_id: str) -> None:
    attempt = an_attempt(attempt_id, "itm_2", 2, status=AttemptStatus.CANCELED, mode="on_session")
    _insert_as_of(url, "enrollpay_payment_attempts", [m.attempt_to_row(attempt)])


def test_0004_upgrades_a_0003_database_with_rows_and_downgrades_back(empty_url: str) -> None:
    """Cancelled checkouts become ``canceled``, the outbox works; the downgrade restores 0003."""
    url = empty_url
    _seed_0003(url)
    assert not _OUTBOX_TABLES & _tables(url)
    with pytest.raises(sa.exc.IntegrityError):  # 0003's CHECK knows no canceled attempts
        _write_a_canceled_attempt(url, "att_new")

    migrate(url)
    attempts = _attempts(url)
    for converted in (_CANCELLED_CHECKOUT, _DECLINED_THEN_CANCELLED):
        assert attempts[converted.id] == attrs.evolve(converted, status=AttemptStatus.CANCELED)
    assert attempts[_DECLINED.id] == _DECLINED
    assert attempts[_SUCCEEDED.id] == _SUCCEEDED
    assert _tables(url) >= _OUTBOX_TABLES
    assert _lease_rows(url) == [(1, None, None)]
    assert _schema_diff(url) == []
    with _store(url) as store, store.transaction() as tx:
        assert tx.payments_of("enr_1") == [_PAYMENT]
        tx.add_events([an_event("evt_1")])
        until = T0 + timedelta(minutes=1)
        assert tx.acquire_dispatch_lease(holder="worker-a", now=T0, until=until)
        assert tx.list_events() == [an_event("evt_1")]
    _write_a_canceled_attempt(url, "att_new")  # the CHECK admits it now

    _downgrade(url, "0003")
    attempts = _attempts(url)
    for attempt in _OLD_ROWS:
        assert attempts[attempt.id] == attempt
    assert attempts["att_new"].status == AttemptStatus.FAILED
    assert attempts["att_new"].decline_code == "canceled"
    assert not _OUTBOX_TABLES & _tables(url)
    with pytest.raises(sa.exc.IntegrityError):  # the CHECK is narrow again
        _write_a_canceled_attempt(url, "att_newer")
    with _store(url) as store, store.transaction() as tx:
        assert tx.payments_of("enr_1") == [_PAYMENT]

    migrate(url)  # and up again: the round trip is repeatable
    assert _attempts(url)["att_new"].status == AttemptStatus.CANCELED
    assert _schema_diff(url) == []


def test_a_sqlite_migration_that_breaks_a_foreign_key_is_rolled_back(tmp_path: Path) -> None:
    """migrate() runs SQLite migrations with foreign keys off, then refuses a dangling reference."""
    url = f"sqlite:///{tmp_path / 'enrollpay.db'}"
    _seed_at(url, "0003", [an_item("itm_1")])
    raw = sqlite3.connect(tmp_path / "enrollpay.db")
    try:  # a row 0003 could hold only with foreign keys off, as they are by default
        raw.execute(
            "UPDATE enrollpay_schedule_items SET enrollment_id = 'enr_gone' WHERE id = 'itm_1'"
        )
        raw.commit()
    finally:
        raw.close()
    with pytest.raises(StorageError, match="foreign key"):
        migrate(url)
    assert not _OUTBOX_TABLES & _tables(url)  # the whole upgrade was rolled back
