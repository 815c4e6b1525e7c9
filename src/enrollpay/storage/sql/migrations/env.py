"""Alembic environment for enrollpay's tables.

:func:`enrollpay.storage.sql.migrate` passes an open connection in
``config.attributes["connection"]``; the ``alembic`` command line (with
``alembic_config(url)``) passes ``sqlalchemy.url`` instead. Offline mode
(``--sql``) renders the DDL for a DBA to review.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from enrollpay.storage.sql.migrate import VERSION_TABLE
from enrollpay.storage.sql.schema import metadata


def _ours(name: str | None, type_: str, _parent: object) -> bool:
    """Only enrollpay's tables: the host database may hold anything else."""
    return type_ != "table" or (name is not None and name.startswith("enrollpay_"))


def _configure(**options: object) -> None:
    context.configure(
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        include_name=_ours,
        compare_type=True,
        **options,  # type: ignore[arg-type]
    )


def _run(connection: sa.Connection) -> None:
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    """Run the migrations offline (SQL script) or on a connection."""
    config = context.config
    if context.is_offline_mode():
        _configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url or pass a connection in config.attributes")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


main()
