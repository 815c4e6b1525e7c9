"""The schema's metadata, with the naming convention of its constraints, and their helpers.

Every table of :mod:`enrollpay.storage.sql.schema` is made on
:data:`metadata`, so constraint and index names follow one convention (the
migrations name them the same way, ``op.f(...)``).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

__all__ = ["ID", "metadata", "not_negative", "one_of"]

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

#: The type of an id column: ids are opaque strings; the service bounds their length.
ID = sa.String()


def one_of(column: str, values: Any, name: str) -> sa.CheckConstraint:
    """A CHECK that ``column`` holds one of ``values`` (sorted, so the SQL is stable)."""
    listed = ", ".join(f"'{v}'" for v in sorted(str(v) for v in values))
    return sa.CheckConstraint(f"{column} IN ({listed})", name=name)


def not_negative(column: str) -> sa.CheckConstraint:
    """A CHECK that ``column`` is zero or more."""
    return sa.CheckConstraint(f"{column} >= 0", name=f"{column}_not_negative")
