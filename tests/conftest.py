"""Shared fixtures: the stores every service and contract test runs against.

- ``pg_databases`` (session): a PostgreSQL server (``ENROLLPAY_PG_URL``, else a
  throwaway cluster); skips with the reason locally, FAILS when ``CI=true``.
- ``pg_url``: a fresh, migrated PostgreSQL database for one test.
- ``store_factory``: parametrised ``memory`` / ``sqlite`` / ``postgres``; a
  zero-arg callable making a fresh, empty store of that kind.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import (
    Callable,
    Iterator,
)
from pathlib import Path

import pytest

from enrollpay.ports import Store
from enrollpay.storage.memory import InMemoryStore
from enrollpay.storage.sql import SqlStore

from .storage_support import (
    PgCluster,
    PgDatabases,
    PgUnavailableError,
    migrated_sqlite_template,
)

STORE_KINDS = ("memory", "sqlite", "postgres")


def _no_postgres(reason: str) -> None:
    """Skip locally, but never silently in CI: a missing database there is a failure."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL is required in CI: {reason}", pytrace=False)
    pytest.skip(f"no PostgreSQL: {reason}")


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[PgDatabases]:
    """A PostgreSQL server for the session, handing out fresh databases."""
    cluster: PgCluster | None = None
    try:
        admin_url = os.environ.get("ENROLLPAY_PG_URL")
        if not admin_url:
            cluster = PgCluster()
            admin_url = cluster.url
        databases = PgDatabases(admin_url)
    except PgUnavailableError as error:
        if cluster is not None:
            cluster.stop()
        _no_postgres(str(error))
        raise  # unreachable: _no_postgres raises
    try:
        yield databases
    finally:
        databases.close()
        if cluster is not None:
            cluster.stop()


@pytest.fixture
def pg_url(pg_databases: PgDatabases) -> Iterator[str]:
    """The URL of a fresh PostgreSQL database with the current schema."""
    url = pg_databases.create()
    yield url
    pg_databases.drop(url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each SQLite store starts as a copy of."""
    return migrated_sqlite_template(tmp_path_factory.mktemp("sqlite-template"))


_STORE_PARAMS = [
    pytest.param(kind, marks=[pytest.mark.postgres] if kind == "postgres" else [], id=kind)
    for kind in STORE_KINDS
]


@pytest.fixture(params=_STORE_PARAMS)
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    """Make fresh, empty stores of one kind: ``memory``, ``sqlite`` or ``postgres``."""
    kind: str = request.param
    made: list[SqlStore] = []
    urls: list[str] = []
    databases: PgDatabases | None = None
    if kind == "postgres":
        databases = request.getfixturevalue("pg_databases")
    template: Path | None = None
    if kind == "sqlite":
        template = request.getfixturevalue("sqlite_template")

    def make() -> Store:
        if kind == "memory":
            return InMemoryStore()
        if template is not None:
            path = tmp_path / f"store-{len(made)}.db"
            shutil.copyfile(template, path)
            url = f"sqlite:///{path}"
        else:
            assert databases is not None
            url = databases.create()
            urls.append(url)
        store = SqlStore.from_url(url, migrate=False)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()
    for url in urls:
        assert databases is not None
        databases.drop(url)
