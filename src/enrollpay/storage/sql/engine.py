"""Engine set-up per database, and the translation of SQLAlchemy errors.

No ``sqlalchemy.*`` exception leaves the SQL store: :func:`translate` maps
each one to the library's hierarchy (``raise ... from``), keeping the
original as ``__cause__`` for debugging.
"""

from __future__ import annotations

import weakref
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc

from enrollpay.errors import ConcurrencyError, EnrollpayError, StorageError
from enrollpay.storage.sql.prepared import Driver

__all__ = [
    "READ_ONLY",
    "begin_postgresql",
    "begin_sqlite",
    "configure_sqlite",
    "end_transaction",
    "is_contention",
    "is_postgresql",
    "is_sqlite",
    "prepare_sqlite",
    "reset_postgresql",
    "translate",
]

#: PostgreSQL SQLSTATEs that mean "a concurrent transaction won":
#: serialization_failure, deadlock_detected, lock_not_available.
_PG_CONTENTION = frozenset({"40001", "40P01", "55P03"})
_SQLITE_CONTENTION = ("database is locked", "database table is locked", "database is busy")

_configured: weakref.WeakSet[sa.Engine] = weakref.WeakSet()
#: Set in a connection's ``info`` while a reader holds it: the begin hook then
#: starts a deferred transaction (no write lock) instead of ``BEGIN IMMEDIATE``.
READ_ONLY = "enrollpay_read_only"


def is_sqlite(engine: sa.Engine | sa.Connection) -> bool:
    """True for an SQLite database."""
    return engine.dialect.name == "sqlite"


def is_postgresql(engine: sa.Engine | sa.Connection) -> bool:
    """True for a PostgreSQL database."""
    return engine.dialect.name == "postgresql"


def configure_sqlite(engine: sa.Engine) -> None:
    """Make every transaction on ``engine`` an SQLite ``BEGIN IMMEDIATE`` with foreign keys on.

    pysqlite's legacy transaction control does not emit BEGIN before a
    SELECT (so reads are not repeatable) nor before SAVEPOINT, and a
    deferred transaction that later writes fails at once with "database is
    locked" when another writer got there first. Following SQLAlchemy's
    recipe, pysqlite's own BEGIN is switched off and every transaction
    starts with ``BEGIN IMMEDIATE``, which takes the write lock up front
    (waiting up to the connection's busy timeout): writers serialise and
    never deadlock. Idempotent; connections already in the pool are fixed
    on their next checkout.
    """
    if engine in _configured:
        return
    _configured.add(engine)

    @event.listens_for(engine, "begin")
    def _begin_immediate(conn: sa.Connection) -> None:
        driver = Driver(conn)
        dbapi = prepare_sqlite(conn, driver)
        if dbapi.in_transaction:
            # The SqlStore began it on the driver (see begin_sqlite): SQLAlchemy
            # is only catching up, on its first statement of the transaction.
            return
        driver.run("BEGIN" if conn.info.get(READ_ONLY) else "BEGIN IMMEDIATE")


def begin_sqlite(conn: sa.Connection, driver: Driver, *, read_only: bool = False) -> None:
    """``BEGIN IMMEDIATE`` on the driver, without SQLAlchemy's transaction bookkeeping.

    The SqlStore's own transactions on an unobserved engine start here (a
    SQLAlchemy ``begin()``/``commit()`` pair cost three times the two
    statements). Should the transaction run a statement through SQLAlchemy,
    SQLAlchemy begins its own bookkeeping then, and the ``begin`` listener
    sees the transaction already open; :func:`end_transaction` ends it at
    whichever level holds it. A reader (``read_only``) begins a deferred
    transaction, which takes no write lock.
    """
    prepare_sqlite(conn, driver)
    driver.run("BEGIN" if read_only else "BEGIN IMMEDIATE")


def begin_postgresql(conn: sa.Connection, *, read_only: bool) -> None:
    """Set the next transaction's characteristics on psycopg's connection, for the driver.

    psycopg begins the transaction itself, with these, at its first
    statement. SQLAlchemy's ``execution_options(isolation_level=...)`` and
    ``begin()`` do the same through its characteristics machinery, which
    then resets them as the connection goes back to the pool: about a fifth
    of a short transaction's time here (the outbox's mark, a claim). The
    store's own transactions on an unobserved engine take this path and
    :func:`reset_postgresql` puts the defaults back, so that whoever checks
    the connection out next finds it as SQLAlchemy left it.
    """
    dbapi: Any = conn.connection.dbapi_connection
    driver = conn.dialect.loaded_dbapi
    level = (
        driver.IsolationLevel.REPEATABLE_READ if read_only else driver.IsolationLevel.READ_COMMITTED
    )
    try:
        if dbapi.isolation_level != level:
            dbapi.isolation_level = level
        if dbapi.read_only != read_only:
            dbapi.read_only = read_only
    except driver.Error as error:  # a broken connection: SQLAlchemy's error, as from a statement
        raise exc.DBAPIError.instance(
            "SET TRANSACTION", None, error, driver.Error, dialect=conn.dialect
        ) from error


def reset_postgresql(conn: sa.Connection) -> None:
    """The server's defaults again after :func:`begin_postgresql` (the transaction is over)."""
    if conn.invalidated:
        return
    dbapi: Any = conn.connection.dbapi_connection
    try:
        dbapi.isolation_level = None
        dbapi.read_only = None
    except conn.dialect.loaded_dbapi.Error:
        conn.invalidate()  # broken: the pool must not hand it out again


def end_transaction(conn: sa.Connection, driver: Driver, *, commit: bool) -> None:
    """Commit or roll back through SQLAlchemy if it tracks the transaction, else on the driver."""
    if conn.in_transaction():
        if commit:
            conn.commit()
        else:
            conn.rollback()
    elif is_postgresql(conn):
        driver.end(commit=commit)
    else:
        driver.run("COMMIT" if commit else "ROLLBACK")


def prepare_sqlite(conn: sa.Connection, driver: Driver) -> Any:
    """Set an SQLite connection up once (see :func:`configure_sqlite`); its driver connection."""
    record = conn.connection
    dbapi: Any = record.dbapi_connection
    if not record.info.get("enrollpay_sqlite"):
        dbapi.isolation_level = None  # sqlite3 stops emitting BEGIN itself
        # Only takes effect outside a transaction, hence here.
        driver.run("PRAGMA foreign_keys=ON")
        record.info["enrollpay_sqlite"] = True
    return dbapi


def enable_wal(engine: sa.Engine) -> None:
    """Switch a file database to write-ahead logging (readers never block the writer)."""

    @event.listens_for(engine, "connect")
    def _wal(dbapi: Any, _record: Any) -> None:
        cursor = dbapi.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        finally:
            cursor.close()


def _sqlstate(error: exc.DBAPIError) -> str | None:
    orig = error.orig
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return state if isinstance(state, str) else None


def is_contention(error: BaseException) -> bool:
    """True when ``error`` means a concurrent writer won (retrying may succeed)."""
    if not isinstance(error, exc.DBAPIError):
        return False
    if _sqlstate(error) in _PG_CONTENTION:
        return True
    text = str(error.orig).lower()
    return any(marker in text for marker in _SQLITE_CONTENTION)


def translate(error: exc.SQLAlchemyError) -> EnrollpayError:
    """The library error for a SQLAlchemy error (raise it ``from error``)."""
    if isinstance(error, exc.StatementError) and isinstance(error.orig, EnrollpayError):
        return error.orig  # raised by one of our type decorators while binding
    if isinstance(error, exc.DBAPIError):
        if is_contention(error):
            return ConcurrencyError(
                f"gave up after losing to a concurrent transaction: {error.orig}"
            )
        if isinstance(error, exc.IntegrityError):
            return StorageError(f"the database refused a write: {error.orig}")
        return StorageError(f"database error: {error.orig}")
    return StorageError(f"database error: {error}")
