"""Run the schema migrations shipped in the package, from Python.

The host project needs no ``alembic.ini``: the configuration is built here,
pointing at ``enrollpay/storage/sql/migrations``. The revision is recorded
in its own table, ``enrollpay_alembic_version``, so an application that
uses Alembic for its own tables keeps its ``alembic_version`` untouched.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import exc

from enrollpay.errors import StorageError
from enrollpay.storage.sql.engine import (
    configure_sqlite,
    is_postgresql,
    is_sqlite,
    prepare_sqlite,
    translate,
)
from enrollpay.storage.sql.prepared import Driver

__all__ = ["HEAD", "MIGRATIONS", "VERSION_TABLE", "alembic_config", "migrate"]

#: The folder holding ``env.py`` and ``versions/``.
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: Where Alembic records the schema revision of enrollpay's tables.
VERSION_TABLE = "enrollpay_alembic_version"
#: The latest revision.
HEAD = "0023"
#: pg_advisory_xact_lock key that serialises concurrent migrate() calls (b"enrollmi").
_MIGRATE_LOCK_KEY = 0x656E726F6C6C6D69


def alembic_config(url: str | None = None) -> Config:
    """An Alembic configuration for enrollpay's migrations (for ``alembic`` commands)."""
    config = Config()
    # ConfigParser interpolates '%', so it is doubled.
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url_or_engine: str | sa.URL | sa.Engine, *, revision: str = "head") -> None:
    """Upgrade enrollpay's tables to ``revision`` (default: the latest), in one transaction.

    Safe to call on every start: an up-to-date schema is left alone.
    Concurrent calls on PostgreSQL wait for each other (an advisory lock);
    on SQLite the ``BEGIN IMMEDIATE`` transaction does the same.
    """
    owned = not isinstance(url_or_engine, sa.Engine)
    if isinstance(url_or_engine, sa.Engine):
        engine = url_or_engine
    else:
        try:
            engine = sa.create_engine(url_or_engine)
        except exc.SQLAlchemyError as error:
            raise translate(error) from error
    if is_sqlite(engine):
        configure_sqlite(engine)
    config = alembic_config()
    try:
        with engine.connect() as conn:
            sqlite = is_sqlite(conn)
            if sqlite:
                _sqlite_foreign_keys(conn, on=False)
            try:
                with conn.begin():
                    if is_postgresql(conn):
                        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATE_LOCK_KEY)))
                    config.attributes["connection"] = conn
                    command.upgrade(config, revision)
                    if sqlite:
                        _check_foreign_keys(conn)
            finally:
                if sqlite:
                    _sqlite_foreign_keys(conn, on=True)
    except exc.SQLAlchemyError as error:
        raise translate(error) from error
    finally:
        if owned:
            engine.dispose()


def _sqlite_foreign_keys(conn: sa.Connection, *, on: bool) -> None:
    """Switch SQLite's foreign key enforcement, on the driver, outside any transaction.

    SQLite cannot alter a constraint: Alembic's batch mode rebuilds the
    table (copy, drop the old one, rename the copy). With foreign keys
    enforced, dropping a table that other rows refer to fails, so Alembic
    requires them off while it works, and SQLite only honours the PRAGMA
    outside a transaction. :func:`_check_foreign_keys` then checks every row.
    """
    dbapi = prepare_sqlite(conn, Driver(conn))  # (foreign keys on once per connection)
    cursor = dbapi.cursor()
    try:
        cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    finally:
        cursor.close()


def _check_foreign_keys(conn: sa.Connection) -> None:
    """Refuse (roll back) a migration that left a row referring to a missing one (SQLite)."""
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").first()
    if broken is not None:
        raise StorageError(f"the migration broke a foreign key: {tuple(broken)}")
