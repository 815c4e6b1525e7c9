"""The rows one SQL transaction holds, served from memory while they cannot change.

The service reads the same enrollment, item and attempt several times in
one unit of work (lock, check, settle, recompute the status); each read was
a round trip. A row the transaction holds is served from memory: on SQLite
every row (``BEGIN IMMEDIATE`` holds the write lock), on PostgreSQL a row
it locked (``FOR UPDATE``), wrote, or read after locking the enrollment it
belongs to (every writer locks the enrollment first). An unlocked PostgreSQL read is never
cached: READ COMMITTED lets the next read see another transaction's
commit. The column values the database has, when known, let an update send
only the columns that change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import sqlalchemy as sa

from enrollpay.storage.sql.prepared import Prepared

__all__ = ["RowCache"]

Row = Mapping[str, Any]

R = TypeVar("R")
_UNSET = object()


class RowCache:
    """Rows a transaction holds, by (table, id): the record and, if known, its columns."""

    __slots__ = ("_held", "_pg")

    def __init__(self, *, pg: bool) -> None:
        self._pg = pg
        #: Nobody else can change these rows before the transaction ends.
        self._held: dict[tuple[str, str], tuple[Any, dict[str, Any] | None]] = {}

    def read(
        self,
        table: sa.Table,
        key: str,
        *,
        stmt: Prepared,
        fetch: Callable[[Prepared, str], Row | None],
        from_row: Callable[[Row], R],
        held: Callable[[R], bool],
    ) -> R | None:
        """A row by id, read once per transaction where it cannot change meanwhile.

        ``fetch`` runs ``stmt`` with the key. On PostgreSQL the record is
        kept only if ``held`` says nobody else can change it now (the
        transaction locked it, or locked the enrollment it belongs to).
        """
        record = self.get(table, key)
        if record is not None:
            return record  # type: ignore[no-any-return]
        row = fetch(stmt, key)
        if row is None:
            return None
        found = from_row(row)
        if not self._pg or held(found):
            self.hold(table, key, found, dict(row))
        return found

    def get(self, table: sa.Table, key: str) -> Any:
        """The record of a row this transaction holds, or None."""
        held = self._held.get((table.name, key))
        return None if held is None else held[0]

    def hold(
        self, table: sa.Table, key: str, record: object, row: dict[str, Any] | None = None
    ) -> None:
        """Remember a row this transaction holds (``row``: its column values, if known)."""
        self._held[table.name, key] = (record, row)

    def changes(self, table: sa.Table, key: str, row: dict[str, Any]) -> dict[str, Any]:
        """``row`` less the columns the database already holds as they are (all if unknown)."""
        held = self._held.get((table.name, row[key]))
        before = None if held is None else held[1]
        if before is None:
            return row
        return {
            name: value
            for name, value in row.items()
            if name == key or before.get(name, _UNSET) != value
        }
