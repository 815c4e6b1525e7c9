"""``SqlStore``: the store on SQLAlchemy Core, for SQLite and PostgreSQL.

Transactions and concurrency
----------------------------
``transaction()`` checks out one connection, begins, yields a
:class:`~enrollpay.storage.sql.transaction.SqlTransaction`, commits when the
block ends and rolls back if it raises: a failed block writes nothing.

A context manager cannot run the body of a ``with`` block twice, so a
transaction that loses to a concurrent one *after* its body started cannot
be retried here. The store is built so that this does not normally happen,
and retries where a retry is safe, which is before the body runs:

- **SQLite** begins every transaction with ``BEGIN IMMEDIATE``: the write
  lock is taken up front, waiting up to the connection's busy timeout, so
  writers queue instead of failing mid-way, and the body never loses a
  race. If the lock cannot be had in time, acquiring it is retried
  ``begin_attempts`` times with a growing pause; then
  :class:`~enrollpay.errors.ConcurrencyError` is raised and nothing was
  written.
- **PostgreSQL** runs every transaction at READ COMMITTED and takes row
  locks where an invariant needs them (``lock_enrollment`` locks the
  enrollment, then its items, then its attempts in flight when they are
  asked for; the payment row before summing its refunds; ``FOR UPDATE SKIP LOCKED`` to claim due
  items, advisory locks for the audit chain and per webhook event). READ
  COMMITTED never raises serialization failures; a deadlock (40P01) or
  lock timeout can still happen between transactions that lock rows in
  different orders: it rolls the whole transaction back and surfaces as
  :class:`~enrollpay.errors.ConcurrencyError`, so a caller (a worker loop, a
  webhook endpoint answering 500 so the gateway redelivers) may simply run
  the operation again.

No ``sqlalchemy`` exception escapes: every one is translated to the
library's hierarchy with the original as ``__cause__``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.pool import StaticPool

from enrollpay.errors import ConcurrencyError, InvalidInputError
from enrollpay.ports import StoreReader
from enrollpay.storage.sql.engine import (
    READ_ONLY,
    begin_postgresql,
    begin_sqlite,
    configure_sqlite,
    enable_wal,
    end_transaction,
    is_contention,
    is_postgresql,
    is_sqlite,
    reset_postgresql,
    translate,
)
from enrollpay.storage.sql.migrate import migrate as run_migrations
from enrollpay.storage.sql.prepared import Driver, Plans
from enrollpay.storage.sql.revision import require_current_schema
from enrollpay.storage.sql.transaction import SqlTransaction

__all__ = ["SqlStore"]

_SUPPORTED = ("sqlite", "postgresql")


def _is_memory_sqlite(url: sa.URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


class SqlStore:
    """A :class:`~enrollpay.ports.Store` in an SQLite or PostgreSQL database.

    Pass an existing :class:`sqlalchemy.Engine` to share the host
    application's connection pool, or use :meth:`from_url`. The schema
    comes from the migrations shipped with the package:
    :func:`enrollpay.storage.sql.migrate` (or ``from_url(..., migrate=True)``).
    A store refuses to open on a database whose enrollpay tables are
    missing or older than the package's latest migration
    (:class:`~enrollpay.errors.SchemaNotReadyError`, naming the command to
    run); this costs one query when the store is built. ``check_schema=False``
    skips it, for tools that work on an older schema on purpose.

    On SQLite the store configures the engine it is given (see
    :func:`~enrollpay.storage.sql.engine.configure_sqlite`): pysqlite's own
    transaction handling is turned off, every transaction begins with
    ``BEGIN IMMEDIATE`` and foreign keys are enforced.
    """

    def __init__(
        self,
        engine: sa.Engine,
        *,
        begin_attempts: int = 5,
        retry_pause: float = 0.05,
        check_schema: bool = True,
    ) -> None:
        if engine.dialect.name not in _SUPPORTED:
            raise InvalidInputError(
                f"SqlStore supports {' and '.join(_SUPPORTED)}, not {engine.dialect.name!r}"
            )
        if begin_attempts < 1:
            raise InvalidInputError(f"begin_attempts must be at least 1, got {begin_attempts}")
        self.engine = engine
        #: The hot statements as rendered for this engine's dialect (see prepared.py).
        self._plans = Plans(engine.dialect)
        self._begin_attempts = begin_attempts
        self._retry_pause = retry_pause
        self._owns_engine = False
        # One in-memory SQLite database lives in one connection: transactions take turns.
        self._turns: threading.Lock | None = None
        if is_sqlite(engine):
            configure_sqlite(engine)
            if _is_memory_sqlite(engine.url):
                self._turns = threading.Lock()
        if check_schema:
            require_current_schema(engine)

    @classmethod
    def from_url(
        cls,
        url: str | sa.URL,
        *,
        migrate: bool | None = None,
        check_schema: bool = True,
        **engine_options: Any,
    ) -> SqlStore:
        """Open a store at ``url`` (``sqlite:///path.db``, ``postgresql+psycopg://...``).

        ``migrate`` upgrades the schema to the latest migration first. It
        defaults to True for SQLite (an embedded database that the
        application owns) and False for PostgreSQL, where migrating is a
        deployment step (``enrollpay.storage.sql.migrate(url)``) that should
        not race between worker processes starting up. Without migrating, a
        schema that is missing or behind the package's migrations raises
        :class:`~enrollpay.errors.SchemaNotReadyError` here (unless
        ``check_schema=False``). ``engine_options`` go to
        :func:`sqlalchemy.create_engine`. A file SQLite database is
        switched to write-ahead logging so that readers do not block the
        writer. ``sqlite://`` (in memory) works for one process.
        """
        parsed = sa.make_url(url)
        options = dict(engine_options)
        if _is_memory_sqlite(parsed):
            options.setdefault("poolclass", StaticPool)
            options.setdefault("connect_args", {"check_same_thread": False})
        elif parsed.get_backend_name() == "sqlite":
            options.setdefault("connect_args", {"timeout": 15.0})
        try:
            engine = sa.create_engine(parsed, **options)
        except exc.SQLAlchemyError as error:
            raise translate(error) from error
        except (ImportError, ValueError, TypeError) as error:
            raise InvalidInputError(f"cannot open {parsed!r}: {error}") from error
        if parsed.get_backend_name() == "sqlite" and not _is_memory_sqlite(parsed):
            enable_wal(engine)
        migrating = migrate if migrate is not None else is_sqlite(engine)
        try:
            # A schema just migrated is at the head: no need to check it.
            store = cls(engine, check_schema=check_schema and not migrating)
        except BaseException:
            engine.dispose()
            raise
        store._owns_engine = True
        if migrating:
            run_migrations(engine)
        return store

    def __repr__(self) -> str:
        return f"SqlStore({self.engine.url.render_as_string(hide_password=True)!r})"

    def close(self) -> None:
        """Close the pool's connections if the store created the engine (else leave it)."""
        if self._owns_engine:
            self.engine.dispose()

    def transaction(self) -> AbstractContextManager[SqlTransaction]:
        """A unit of work: commits when the block ends, rolls back if it raises."""
        return self._transaction()

    @contextmanager
    def reader(self) -> Iterator[StoreReader]:
        """A read-only snapshot for queries and reports; it takes no write lock.

        SQLite: a deferred transaction with ``PRAGMA query_only`` on, so the
        reader neither waits for the writer's lock nor can write. PostgreSQL:
        ``REPEATABLE READ, READ ONLY``, so every query sees one snapshot.
        """
        with self._turns or nullcontext():
            conn, driver = self._begin(read_only=True)
            pg = is_postgresql(conn)
            done = False
            try:
                try:
                    yield SqlTransaction(conn, driver)
                    done = True
                finally:
                    if not pg:
                        try:
                            driver.run("PRAGMA query_only=0")
                        except BaseException:
                            conn.invalidate()  # never pool a connection that refuses writes
                            raise
                    # A read-only snapshot has nothing to keep or undo: COMMIT
                    # ends it as ROLLBACK would. But psycopg forgets every
                    # statement it prepared on the connection at a ROLLBACK (it
                    # cannot tell what was undone), so a PostgreSQL reader that
                    # ends normally commits.
                    _finish(conn, driver, commit=pg and done)
            finally:
                conn.info.pop(READ_ONLY, None)
                _close(conn, driver)

    @contextmanager
    def _transaction(self) -> Iterator[SqlTransaction]:
        with self._turns or nullcontext():
            conn, driver = self._begin()
            try:
                tx = SqlTransaction(conn, driver)
                try:
                    yield tx
                    tx.flush()
                except BaseException:
                    _finish(conn, driver, commit=False)
                    raise
                try:
                    end_transaction(conn, driver, commit=True)
                except exc.SQLAlchemyError as error:
                    _finish(conn, driver, commit=False)
                    raise translate(error) from error
                tx.committed()
            finally:
                _close(conn, driver)

    def _begin(self, *, read_only: bool = False) -> tuple[sa.Connection, Driver]:
        """A connection in a fresh transaction, and the driver of its statements.

        Lock contention at BEGIN is retried. An unwatched SQLite connection
        begins on the driver (see :func:`begin_sqlite`). A reader's SQLite
        transaction is deferred (no write lock) and refuses writes.
        """
        for attempt in range(1, self._begin_attempts + 1):
            try:
                conn = self.engine.connect()
            except exc.SQLAlchemyError as error:
                raise translate(error) from error
            try:
                driver = Driver(conn, self._plans)
                if is_postgresql(conn):
                    if driver.watched:
                        conn.execution_options(
                            isolation_level="REPEATABLE READ" if read_only else "READ COMMITTED",
                            postgresql_readonly=read_only,
                        )
                        conn.begin()
                    else:
                        begin_postgresql(conn, read_only=read_only)
                elif driver.watched:
                    conn.info[READ_ONLY] = read_only
                    conn.begin()
                else:
                    begin_sqlite(conn, driver, read_only=read_only)
                if read_only and not is_postgresql(conn):
                    driver.run("PRAGMA query_only=1")
            except exc.SQLAlchemyError as error:
                conn.close()
                if not is_contention(error):
                    raise translate(error) from error
                if attempt == self._begin_attempts:
                    raise ConcurrencyError(
                        f"could not begin a transaction after {attempt} attempts: {error}"
                    ) from error
                time.sleep(self._retry_pause * 2 ** (attempt - 1))
            else:
                return conn, driver
        raise AssertionError("unreachable")  # pragma: no cover


def _close(conn: sa.Connection, driver: Driver) -> None:
    """Give the connection back to the pool as :meth:`SqlStore._begin` found it."""
    if not driver.watched and is_postgresql(conn):
        reset_postgresql(conn)
    conn.close()


def _finish(conn: sa.Connection, driver: Driver, *, commit: bool) -> None:
    """Commit or roll back; a connection that fails to is invalidated, never pooled again."""
    try:
        end_transaction(conn, driver, commit=commit)
    except exc.SQLAlchemyError:
        conn.invalidate()  # the connection is broken; the pool must not reuse it
