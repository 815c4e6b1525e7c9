"""Instants in SQL: :class:`UTCDateTime`, the column type of every timestamp of the schema."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from enrollpay.errors import NaiveDatetimeError

__all__ = ["UTCDateTime"]


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """An instant stored in UTC that always comes back time-zone aware, in UTC.

    PostgreSQL keeps it as ``timestamp with time zone``. SQLite has no such
    type: the value is stored as naive UTC text in SQLAlchemy's fixed-width
    format (``YYYY-MM-DD HH:MM:SS.ffffff``), so comparing two of them in SQL
    compares the instants. Naive datetimes are refused.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Aware datetime -> UTC (naive UTC on SQLite)."""
        if value is None:
            return None
        if not isinstance(value, datetime) or value.utcoffset() is None:
            raise NaiveDatetimeError(f"an instant must be time-zone aware, got {value!r}")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Stored value -> aware datetime in UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
