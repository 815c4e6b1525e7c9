"""Databases for the store tests: a throwaway PostgreSQL cluster and migrated templates.

Used by the SQL-store section of ``tests/conftest.py``. PostgreSQL comes from
``ENROLLPAY_PG_URL`` (a role that may CREATE DATABASE) or, failing that, from
a cluster started with the PostgreSQL binaries (:class:`PgCluster`, which
lives in ``benchmarks/pg_cluster.py`` because the benchmarks start and
restart their own servers too). Each test gets its own database, copied
from a migrated template, so tests never see each other's rows.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from benchmarks.pg_cluster import PgCluster, PgDatabases, PgUnavailableError

from enrollpay.storage.sql import migrate

__all__ = ["PgCluster", "PgDatabases", "PgUnavailableError", "migrated_sqlite_template"]


def migrated_sqlite_template(folder: Path) -> Path:
    """An SQLite file with the current schema, to copy for each test."""
    path = folder / "template.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        migrate(engine)
    finally:
        engine.dispose()
    return path
