"""The SQL store: SQLAlchemy Core tables, explicit row mapping, Alembic migrations.

>>> from enrollpay.storage.sql import SqlStore
>>> store = SqlStore.from_url("sqlite://")  # in memory; migrated on open
>>> with store.transaction() as tx:
...     tx.list_products()
[]

Needs the ``sql`` extra (``pip install enrollpay[sql]``), plus ``postgres``
for PostgreSQL.
"""

from enrollpay.storage.sql.migrate import HEAD, VERSION_TABLE, alembic_config, migrate
from enrollpay.storage.sql.schema import metadata
from enrollpay.storage.sql.store import SqlStore
from enrollpay.storage.sql.transaction import SqlTransaction

__all__ = [
    "HEAD",
    "VERSION_TABLE",
    "SqlStore",
    "SqlTransaction",
    "alembic_config",
    "metadata",
    "migrate",
]
