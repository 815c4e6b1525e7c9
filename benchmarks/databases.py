"""Throwaway databases for the benchmarks: SQLite files and a PostgreSQL server.

PostgreSQL comes from ``--pg-url``/``ENROLLPAY_PG_URL`` (a role that may
create databases) or from a throwaway cluster
(:class:`benchmarks.pg_cluster.PgCluster`, the one the test suite starts
too: fsync off, on loopback).
Seeded databases are cloned rather than seeded again: SQLite files are
copied, PostgreSQL databases are created ``TEMPLATE`` the seeded one.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from benchmarks.pg_cluster import PgCluster, PgDatabases, PgUnavailableError
from enrollpay.storage.sql import migrate

__all__ = ["PgServer", "SqliteFiles", "libpq", "pg_server", "scratch_dir"]


def scratch_dir(base: str | None) -> Path:
    """A new folder for the run's files: under ``base``, else tmpfs (/dev/shm), else /tmp.

    On tmpfs a commit costs no fsync, so the SQLite cases measure the code
    (library and baseline alike), as the PostgreSQL cluster (fsync off) does.
    """
    parent = base or ("/dev/shm" if Path("/dev/shm").is_dir() else None)  # noqa: S108 - tmpfs on purpose
    return Path(tempfile.mkdtemp(prefix="enrollpay-bench-", dir=parent))


def libpq(url: str) -> str:
    """A SQLAlchemy URL as libpq (psycopg) takes it."""
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class SqliteFiles:
    """Migrated SQLite files in one folder; ``copy`` clones a (seeded) file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._names = itertools.count()
        self.template = self.folder / "template.db"
        engine = sa.create_engine(f"sqlite:///{self.template}")
        try:
            migrate(engine)
        finally:
            engine.dispose()

    def new(self, name: str | None = None) -> Path:
        """A fresh migrated file."""
        return self.copy(self.template, name)

    def copy(self, source: Path, name: str | None = None) -> Path:
        """A copy of ``source`` (closed: no WAL left beside it)."""
        target = self.folder / (name or f"db{next(self._names)}.db")
        shutil.copyfile(source, target)
        return target

    @staticmethod
    def url(path: Path) -> str:
        """The SQLAlchemy URL of a file."""
        return f"sqlite:///{path}"


class PgServer:
    """Fresh databases on one PostgreSQL server."""

    def __init__(self, admin_url: str) -> None:
        self.databases = PgDatabases(admin_url)
        self._admin = sa.create_engine(
            sa.make_url(admin_url).set(drivername="postgresql+psycopg"),
            isolation_level="AUTOCOMMIT",
            poolclass=sa.NullPool,
        )
        self._names = (f"enrollpay_b{os.getpid()}_{n}" for n in itertools.count())
        self.made: list[str] = []

    def new(self) -> str:
        """A fresh migrated database's URL."""
        url = self.databases.create()
        self.made.append(url)
        return url

    def clone(self, url: str) -> str:
        """A copy of the database at ``url`` (nobody may be connected to it)."""
        source = sa.make_url(url).database
        name = next(self._names)
        with self._admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
        clone = self.databases.url_of(name)
        self.made.append(clone)
        return clone

    def drop(self, url: str) -> None:
        """Drop a database made here."""
        self.databases.drop(url)
        if url in self.made:
            self.made.remove(url)

    def version(self) -> str:
        """The server's version string."""
        with self._admin.connect() as conn:
            return str(conn.exec_driver_sql("SHOW server_version").scalar_one())

    def close(self) -> None:
        """Drop every database made here."""
        for url in list(self.made):
            self.drop(url)
        self.databases.close()
        self._admin.dispose()


@contextmanager
def pg_server(url: str | None) -> Iterator[PgServer | None]:
    """A server at ``url``, else a throwaway cluster; ``None`` if neither can be had."""
    cluster: PgCluster | None = None
    try:
        if not url:
            cluster = PgCluster()
            url = cluster.url
        server = PgServer(url)
    except PgUnavailableError as error:
        print(f"PostgreSQL unavailable, its cases are skipped: {error}")
        if cluster is not None:
            cluster.stop()
        yield None
        return
    try:
        yield server
    finally:
        server.close()
        if cluster is not None:
            cluster.stop()
