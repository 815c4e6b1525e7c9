"""What only the SQL store has: migrations, engine set-up, error translation, locking."""

from __future__ import annotations

import importlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from enrollpay.audit import link_entry, verify_audit_chain
from enrollpay.domain.records import Payment, PaymentAttempt, Refund, ScheduleItem
from enrollpay.errors import (
    ConcurrencyError,
    EnrollpayError,
    InvalidInputError,
    NaiveDatetimeError,
    RefundExceedsPaidError,
    StorageError,
)
from enrollpay.storage.sql import HEAD, VERSION_TABLE, SqlStore, alembic_config, metadata, migrate
from enrollpay.storage.sql import mapping as m
from enrollpay.storage.sql.migrate import MIGRATIONS

from ..contract.test_store_contract import (  # noqa: TID252 - tests/ is not on sys.path
    LEASE,
    T0,
    TODAY,
    a_draft,
    a_product,
    an_enrollment,
    an_item,
    usd,
)

postgres = pytest.mark.postgres


def _schema_diff(url: str) -> list[object]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE,
                                                             "compare_type": True})  # fmt: skip
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """The URL of a new, empty SQLite file."""
    return f"sqlite:///{tmp_path / 'enrollpay.db'}"


@pytest.fixture
def sqlite_store(sqlite_url: str) -> SqlStore:
    """A migrated SQLite store with ``prod_1``, ``enr_1`` and three items."""
    store = SqlStore.from_url(sqlite_url)
    with store.transaction() as tx:
        tx.put_product(a_product())
        tx.add_enrollment(an_enrollment())
        tx.add_items([an_item(f"itm_{n}", seq=n) for n in (1, 2, 3)])
    return store


def test_migrations_build_exactly_the_declared_schema_on_sqlite(sqlite_url: str) -> None:
    """Alembic finds no difference between the migrated SQLite database and the MetaData."""
    migrate(sqlite_url)
    assert _schema_diff(sqlite_url) == []


@postgres
def test_migrations_build_exactly_the_declared_schema_on_postgresql(pg_url: str) -> None:
    """Alembic finds no difference between the migrated PostgreSQL database and the MetaData."""
    assert _schema_diff(pg_url) == []


def test_an_empty_database_differs_from_the_schema(sqlite_url: str) -> None:
    """The schema comparison can fail: before migrating, every table is missing."""
    added = {diff[1].name for diff in _schema_diff(sqlite_url) if diff[0] == "add_table"}  # type: ignore[index]
    assert added == set(metadata.tables)


def test_migrate_is_idempotent_and_records_the_head_in_its_own_table(sqlite_url: str) -> None:
    """Running migrate twice is harmless; the revision lives in enrollpay_alembic_version."""
    migrate(sqlite_url)
    migrate(sqlite_url)
    engine = sa.create_engine(sqlite_url)
    with engine.connect() as conn:
        versions = sa.table(VERSION_TABLE, sa.column("version_num"))
        assert conn.execute(sa.select(versions.c.version_num)).all() == [(HEAD,)]
        assert not sa.inspect(conn).has_table("alembic_version")
    engine.dispose()


def test_migrations_ship_inside_the_package() -> None:
    """env.py, the script template and the versions are package files Alembic can load."""
    assert (MIGRATIONS / "env.py").is_file()
    assert (MIGRATIONS / "script.py.mako").is_file()
    scripts = ScriptDirectory.from_config(alembic_config())
    assert scripts.get_current_head() == HEAD
    # One straight line: each file NNNN_*.py is revision NNNN, revising the one before it.
    files = sorted(p.stem for p in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))
    chain = []
    for stem in files:
        module = importlib.import_module(f"enrollpay.storage.sql.migrations.versions.{stem}")
        chain.append((stem[:4], module.revision, module.down_revision))
    expected_down = [None, *(number for number, _, _ in chain[:-1])]
    assert [(number, down) for number, _, down in chain] == [
        (number, down) for (number, _, _), down in zip(chain, expected_down, strict=True)
    ]
    assert [revision for _, revision, _ in chain] == [number for number, _, _ in chain]
    assert chain[0][0] == "0001"
    assert chain[-1][1] == HEAD


def _seed_at(
    url: str,
    revision: str,
    items: list[ScheduleItem] | None = None,
    attempts: list[PaymentAttempt] | None = None,
) -> None:
    """Migrate to ``revision`` and write ``prod_1``, ``enr_1``, ``items`` and ``attempts`` there."""
    migrate(url, revision=revision)
    _insert_as_of(url, "enrollpay_products", [m.product_to_row(a_product())])
    _insert_as_of(url, "enrollpay_enrollments", [m.enrollment_to_row(an_enrollment())])
    _insert_as_of(url, "enrollpay_schedule_items", [m.item_to_row(i) for i in items or []])
    _insert_as_of(url, "enrollpay_payment_attempts", [m.attempt_to_row(a) for a in attempts or []])


def _insert_as_of(url: str, name: str, rows: list[dict[str, object]]) -> None:
    """Insert ``rows`` into table ``name`` with only the columns the database has now.

    The rows are written with the schema's tables (so values convert as the
    store's do) but only the columns of the revision the database is at:
    today's store code would also write columns added since.
    """
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            present = {c["name"] for c in sa.inspect(conn).get_columns(name)}
            table = metadata.tables[name]
            for row in rows:
                conn.execute(table.insert().values({k: row[k] for k in row if k in present}))
    finally:
        engine.dispose()


#: What an attempt read from a database older than 0008 lacks, as the store would default it.
_ATTEMPT_DEFAULTS = {"card_brand": None, "reattempt": False, "gateway_invoice_id": None,
                     "hosted_invoice_url": None}  # fmt: skip


def _attempts_as_of(url: str) -> dict[str, PaymentAttempt]:
    """Every attempt, read with the columns the database has now (missing ones defaulted)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            present = {
                c["name"] for c in sa.inspect(conn).get_columns("enrollpay_payment_attempts")
            }
            table = metadata.tables["enrollpay_payment_attempts"]
            rows = conn.execute(sa.select(*[c for c in table.c if c.name in present])).mappings()
            found = [m.attempt_from_row({**_ATTEMPT_DEFAULTS, **row}) for row in rows]
    finally:
        engine.dispose()
    return {a.id: a for a in found}


def _downgrade(url: str, revision: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            command.downgrade(config, revision)
    finally:
        engine.dispose()


def _indexes(url: str, table: str) -> dict[str, list[str | None]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            found = sa.inspect(conn).get_indexes(table)
    finally:
        engine.dispose()
    return {str(index["name"]): list(index["column_names"]) for index in found}


def test_a_0001_database_upgrades_to_the_claim_index_keeping_its_rows(sqlite_url: str) -> None:
    """0002 swaps the (status, due) index for (status, due, id); rows stay; downgrade reverts."""
    _seed_at(sqlite_url, "0001", [an_item(f"itm_{n}", seq=n) for n in (1, 2, 3)])
    assert _indexes(sqlite_url, "enrollpay_schedule_items") == {
        "ix_enrollpay_schedule_items_status_due": ["status", "due"]
    }
    migrate(sqlite_url, revision="0002")
    assert _indexes(sqlite_url, "enrollpay_schedule_items") == {
        "ix_enrollpay_schedule_items_status_due_id": ["status", "due", "id"]}  # fmt: skip
    engine = sa.create_engine(sqlite_url)  # at 0002: read the rows as 0002 has them
    try:
        with engine.connect() as conn:
            ids = conn.execute(
                sa.text("SELECT id FROM enrollpay_schedule_items WHERE enrollment_id = 'enr_1'"
                        " ORDER BY seq")
            ).scalars().all()  # fmt: skip
    finally:
        engine.dispose()
    assert ids == ["itm_1", "itm_2", "itm_3"]
    _downgrade(sqlite_url, "0001")
    assert _indexes(sqlite_url, "enrollpay_schedule_items") == {
        "ix_enrollpay_schedule_items_status_due": ["status", "due"]
    }


def test_a_0002_database_upgrades_to_the_user_index_keeping_its_rows(sqlite_url: str) -> None:
    """0003 indexes enrollments by user; rows stay, a user's list uses it; downgrade reverts."""
    _seed_at(sqlite_url, "0002")
    assert "ix_enrollpay_enrollments_user_id" not in _indexes(sqlite_url, "enrollpay_enrollments")
    migrate(sqlite_url)
    assert _indexes(sqlite_url, "enrollpay_enrollments")["ix_enrollpay_enrollments_user_id"] == [
        "user_id"
    ]
    assert _schema_diff(sqlite_url) == []
    store = SqlStore.from_url(sqlite_url, migrate=False)
    with store.transaction() as tx:
        assert [e.id for e in tx.list_enrollments(user_id="u-1")] == ["enr_1"]
    store.close()
    raw = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    try:
        plan = raw.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM enrollpay_enrollments WHERE user_id = ?", ("u-1",)
        ).fetchall()
    finally:
        raw.close()
    assert "ix_enrollpay_enrollments_user_id" in str(plan)
    _downgrade(sqlite_url, "0002")
    assert "ix_enrollpay_enrollments_user_id" not in _indexes(sqlite_url, "enrollpay_enrollments")


def test_from_url_migrates_sqlite_by_default(sqlite_url: str) -> None:
    """An SQLite store is ready to use straight from its URL."""
    store = SqlStore.from_url(sqlite_url)
    with store.transaction() as tx:
        tx.put_product(a_product())
    with store.transaction() as tx:
        assert tx.get_product("prod_1") == a_product()
    store.close()


def test_an_in_memory_sqlite_store_works_across_threads() -> None:
    """``sqlite://`` keeps one database for the store; transactions take turns."""
    store = SqlStore.from_url("sqlite://")
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for k in range(5):
                with store.transaction() as tx:
                    tx.append_audit(a_draft(n * 10 + k))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with store.transaction() as tx:
        entries = tx.list_audit()
    assert len(entries) == 20
    assert verify_audit_chain(entries).ok


def test_a_store_shares_the_host_engine_and_leaves_it_open(sqlite_url: str) -> None:
    """A store built on the application's engine does not dispose of it."""
    migrate(sqlite_url)
    engine = sa.create_engine(sqlite_url)
    store = SqlStore(engine)
    with store.transaction() as tx:
        tx.put_product(a_product())
    store.close()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM enrollpay_products").scalar() == 1
    engine.dispose()


def test_unsupported_databases_and_bad_urls_are_library_errors() -> None:
    """Neither an unknown dialect nor a broken URL lets a SQLAlchemy error out."""
    with pytest.raises(InvalidInputError):
        SqlStore(sa.create_engine("mysql+pymysql://u@localhost/db", module=sqlite3))
    with pytest.raises(EnrollpayError):
        SqlStore.from_url("nonsense://")


def test_a_foreign_key_violation_is_a_storage_error(sqlite_store: SqlStore) -> None:
    """Items of an unknown enrollment are refused with a library error, not a SQLAlchemy one."""
    with pytest.raises(StorageError) as raised, sqlite_store.transaction() as tx:
        tx.add_items([an_item("itm_x", eid="enr_missing")])
    assert isinstance(raised.value.__cause__, sa.exc.IntegrityError)


def test_a_naive_instant_is_refused(sqlite_store: SqlStore) -> None:
    """Writing an instant without a time zone raises NaiveDatetimeError."""
    naive = T0.replace(tzinfo=None)
    with pytest.raises(NaiveDatetimeError), sqlite_store.transaction() as tx:
        tx.update_item(an_item("itm_1", next_attempt_at=naive))


def test_sqlite_contention_at_begin_is_retried_then_a_concurrency_error(
    sqlite_url: str,
) -> None:
    """While another process holds the write lock, BEGIN is retried and then given up cleanly."""
    migrate(sqlite_url)
    engine = sa.create_engine(sqlite_url, connect_args={"timeout": 0.05})
    store = SqlStore(engine, begin_attempts=3, retry_pause=0.01)
    blocker = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(ConcurrencyError, match="3 attempts"), store.transaction() as tx:
            tx.put_product(a_product())  # pragma: no cover - never reached
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    with store.transaction() as tx:
        assert tx.list_products() == []
    engine.dispose()


def test_sqlite_writers_from_many_threads_serialise(sqlite_url: str) -> None:
    """Concurrent writers on one SQLite file queue up: the audit chain stays intact."""
    store = SqlStore.from_url(sqlite_url)

    def write(n: int) -> None:
        for k in range(10):
            with store.transaction() as tx:
                tx.append_audit(a_draft(n * 100 + k))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with store.transaction() as tx:
        entries = tx.list_audit()
    assert [e.seq for e in entries] == list(range(1, 61))
    assert verify_audit_chain(entries).ok


def test_sqlite_transactions_end_at_the_level_that_holds_them(sqlite_url: str) -> None:
    """Begun on the driver, joined by SQLAlchemy or not: commit and rollback end it once."""
    store = SqlStore.from_url(sqlite_url)

    def abandoned(*, sqlalchemy_too: bool) -> None:
        with store.transaction() as tx:
            tx.put_product(a_product(f"prod_{sqlalchemy_too}", f"ext-{sqlalchemy_too}"))
            if sqlalchemy_too:
                assert len(tx.list_products()) == 1  # a statement built per call: SQLAlchemy's
            raise RuntimeError("abandon")

    try:
        for sqlalchemy_too in (False, True):
            with pytest.raises(RuntimeError, match="abandon"):
                abandoned(sqlalchemy_too=sqlalchemy_too)
            with store.transaction() as tx:
                assert tx.list_products() == []
        with store.transaction() as tx:
            tx.put_product(a_product("prod_a", "ext-a"))
        with store.transaction() as tx:
            tx.put_product(a_product("prod_b", "ext-b"))
            assert [p.id for p in tx.list_products()] == ["prod_a", "prod_b"]
        with store.engine.connect() as conn:  # every pooled connection left idle
            assert not conn.connection.dbapi_connection.in_transaction  # type: ignore[union-attr]
        with store.transaction() as tx:
            assert [p.id for p in tx.list_products()] == ["prod_a", "prod_b"]
    finally:
        store.close()


def _chain(store: SqlStore) -> list[int]:
    with store.transaction() as tx:
        entries = tx.list_audit()
    assert verify_audit_chain(entries).ok
    return [e.seq for e in entries]


def test_sqlite_chain_head_is_reread_after_another_connection_writes(sqlite_url: str) -> None:
    """The head a connection remembers is dropped once anyone else commits (data_version)."""
    first = SqlStore.from_url(sqlite_url)
    second = SqlStore.from_url(sqlite_url)  # its own engine: other connections
    try:
        for n in range(4):  # turns: each store's remembered head goes stale every time
            for store in (first, second):
                with store.transaction() as tx:
                    tx.append_audit(a_draft(n))
        with first.transaction() as tx:
            last = tx.list_audit()[-1]
        row = m.audit_to_row(link_entry(a_draft(99), last))
        row["at"] = row["at"].strftime("%Y-%m-%d %H:%M:%S.%f")
        row["data"] = json.dumps(row["data"])
        insert = "INSERT INTO enrollpay_audit_log ({}) VALUES ({})".format(  # noqa: S608 - our columns
            ", ".join(row), ", ".join("?" * len(row))
        )
        raw = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
        try:  # a writer outside the library (another program) extends the chain
            raw.execute("BEGIN IMMEDIATE")
            raw.execute(insert, tuple(row.values()))
            raw.execute("COMMIT")
        finally:
            raw.close()
        with first.transaction() as tx:
            tx.append_audit(a_draft(100))
        assert _chain(first) == list(range(1, 11))
    finally:
        first.close()
        second.close()


def test_sqlite_chain_head_of_a_rolled_back_transaction_is_forgotten(sqlite_url: str) -> None:
    """Entries of a transaction that failed are not the head the next one links to."""
    store = SqlStore.from_url(sqlite_url)
    try:
        with store.transaction() as tx:
            tx.append_audit(a_draft(1))

        def abandoned() -> None:
            with store.transaction() as tx:
                tx.append_audit(a_draft(2))
                tx.append_audit(a_draft(3))
                raise RuntimeError("abandon")

        with pytest.raises(RuntimeError, match="abandon"):
            abandoned()
        with store.transaction() as tx:
            tx.append_audit(a_draft(4))
        assert _chain(store) == [1, 2]
    finally:
        store.close()


# --- PostgreSQL locking ------------------------------------------------------------


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[SqlStore]:
    """A PostgreSQL store with ``prod_1``, ``enr_1``, items and a 100 USD payment."""
    store = SqlStore.from_url(pg_url)
    with store.transaction() as tx:
        tx.put_product(a_product())
        tx.add_enrollment(an_enrollment())
        tx.add_items([an_item(f"itm_{n}", seq=n) for n in range(1, 11)])
        tx.add_payment(Payment("pay_1", "enr_1", "itm_1", usd("100.00"), "cash", T0))
    yield store
    store.close()


def _refund(rid: str) -> Refund:
    return Refund(rid, "pay_1", "enr_1", usd("60.00"), "manual", T0)


@postgres
def test_concurrent_refunds_cannot_both_fit_in_one_payment(pg_store: SqlStore) -> None:
    """The payment row is locked before summing: the second refund waits, then is refused."""
    first_written = threading.Event()
    outcome: list[BaseException | None] = []

    def second() -> None:
        first_written.wait()
        try:
            with pg_store.transaction() as tx:
                tx.add_refund(_refund("ref_2"))
            outcome.append(None)
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=second)
    thread.start()
    with pg_store.transaction() as tx:
        tx.add_refund(_refund("ref_1"))
        first_written.set()
        thread.join(timeout=0.5)
        assert thread.is_alive()  # blocked on the payment's row lock
    thread.join()
    assert len(outcome) == 1
    assert isinstance(outcome[0], RefundExceedsPaidError)
    with pg_store.transaction() as tx:
        assert [r.id for r in tx.refunds_of("enr_1")] == ["ref_1"]


@postgres
def test_concurrent_claims_skip_locked_items_instead_of_waiting(pg_store: SqlStore) -> None:
    """A second worker claims other items at once while the first still holds its own."""
    with pg_store.transaction() as first:
        mine = first.claim_due(today=TODAY, now=T0, lease_until=LEASE, limit=4)
        with pg_store.transaction() as second:
            theirs = second.claim_due(today=TODAY, now=T0, lease_until=LEASE, limit=100)
    assert len(mine) == 4
    assert len(theirs) == 6
    assert not {i.id for i in mine} & {i.id for i in theirs}
    with pg_store.transaction() as tx:
        later = tx.claim_due(today=TODAY, now=T0 + timedelta(minutes=1), lease_until=LEASE,
                             limit=100)  # fmt: skip
    assert later == []


@postgres
def test_audit_appends_from_many_threads_form_one_chain(pg_store: SqlStore) -> None:
    """Concurrent appenders serialise on the advisory lock: no gaps, no forks."""

    def write(n: int) -> None:
        for k in range(10):
            with pg_store.transaction() as tx:
                tx.append_audit(a_draft(n * 100 + k))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with pg_store.transaction() as tx:
        entries = tx.list_audit()
    assert [e.seq for e in entries] == list(range(1, 61))
    assert verify_audit_chain(entries).ok
    assert all(e.at.tzinfo is not None and e.at.utcoffset() == timedelta(0) for e in entries)
    assert entries[0].at.tzinfo == UTC
