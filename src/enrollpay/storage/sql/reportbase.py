"""What the SQL report queries share: exact integer sums and counts, code-point order.

Money stays exact: sums are of BIGINT minor units, grouped per currency
(PostgreSQL returns ``SUM(bigint)`` as an exact NUMERIC, which is turned back
into an ``int`` by :func:`as_int`).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from enrollpay.domain.lifecycle import (
    OPEN_ITEM_STATUSES,
    EnrollmentStatus,
)
from enrollpay.storage.sql.prepared import Driver, Row

__all__ = [
    "CANCELLED",
    "FAILED_REFUND",
    "OPEN",
    "ReportBase",
    "as_int",
    "count_if",
    "one",
    "total",
    "zero",
]

OPEN = tuple(sorted(s.value for s in OPEN_ITEM_STATUSES))
CANCELLED = EnrollmentStatus.CANCELLED.value
FAILED_REFUND = "failed"


def as_int(value: object) -> int:
    """An aggregate as an int (SUM over BIGINT is an exact NUMERIC on PostgreSQL)."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    raise TypeError(f"expected an integer aggregate, got {value!r}")  # pragma: no cover


def total(column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """``SUM`` that is 0, not NULL, over no rows."""
    return sa.func.coalesce(sa.func.sum(column), 0)


def count_if(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
    """How many rows meet ``condition``."""
    return total(sa.case((condition, one()), else_=zero()))


def zero() -> sa.ColumnElement[Any]:
    """A BIGINT 0 written into the SQL."""
    return sa.literal_column("0", sa.BigInteger())


def one() -> sa.ColumnElement[Any]:
    """A BIGINT 1 written into the SQL."""
    return sa.literal_column("1", sa.BigInteger())


class ReportBase:
    """The connection of a SQL transaction, as the report queries use it."""

    _c: sa.Connection
    _d: Driver

    @property
    def _on_pg(self) -> bool:
        return self._c.dialect.name == "postgresql"

    def _order(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        """Order strings by code point, as Python does (PostgreSQL's default collation does not)."""
        return column.collate("C") if self._on_pg else column

    def _all(self, stmt: sa.Select[Any]) -> Sequence[Row]:
        return self._d.run(stmt).all()
