"""What the repositories of one SQL unit of work share.

:class:`SqlUnit` holds the transaction's connection, the executor of its
statements, the rows it holds (:mod:`.rowcache`), its guarded writes
(:mod:`.guards`) and its audit chain (:mod:`.auditchain`). The repositories
(one module per aggregate) build on it and :class:`~.transaction.SqlTransaction`
puts them together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa

from enrollpay.storage.sql import mapping as m
from enrollpay.storage.sql.auditchain import AUDIT_LOCK_KEY, AuditChain
from enrollpay.storage.sql.engine import is_postgresql
from enrollpay.storage.sql.guards import Guards
from enrollpay.storage.sql.prepared import Driver, Prepared
from enrollpay.storage.sql.rowcache import RowCache

__all__ = ["Locked", "SqlUnit", "chunks"]

R = TypeVar("R")
_CHUNK = 500  # bound on IN (...) lists


def chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    """``values`` in slices short enough for an ``IN (...)`` list."""
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


class Locked:
    """What a transaction holds of an enrollment it locked."""

    __slots__ = ("attempt_ids", "item_ids")

    def __init__(self) -> None:
        self.item_ids: list[str] = []
        #: None until the attempts in flight are first asked for.
        self.attempt_ids: list[str] | None = None


class SqlUnit:
    """The state of one SQL transaction that its repositories share."""

    #: Sends the outbox rows the transaction holds back (:class:`.outbox.OutboxRepository`).
    flush_events: Callable[[], None]

    def __init__(self, conn: sa.Connection, driver: Driver) -> None:
        self._c = conn
        #: Every statement of the transaction runs through ``self._d.run``.
        self._d = driver
        self._pg = is_postgresql(conn)
        self._held = RowCache(pg=self._pg)
        self._g = Guards(self._d, pg=self._pg)
        self._chain = AuditChain(conn, self._d, hold=self._hold_chain, pg=self._pg)
        #: SQLite: outbox rows added but not yet sent (one ``executemany`` at the end).
        self._events: list[dict[str, Any]] = []
        #: Enrollments this transaction locked: their item ids and, once read,
        #: the ids of their attempts in flight.
        self._locked: dict[str, Locked] = {}

    def _hold_chain(self) -> None:
        """PostgreSQL: take the audit chain's lock, held until the transaction ends.

        Every writer of the chain or of a receipt series takes it (the chain
        first, then a series' counter: one order, no deadlock), so it is
        held as briefly as it can be: the outbox rows waiting to go out are
        sent before it is taken, since they need no lock of theirs.
        """
        self.flush_events()
        self._g.lock(AUDIT_LOCK_KEY)

    def _rows(self, stmt: sa.Executable | Prepared, key: object = None) -> Sequence[m.Row]:
        return self._d.run(stmt, None if key is None else {"key": key}).all()

    def _row(self, stmt: sa.Executable | Prepared, key: object = None) -> m.Row | None:
        return self._d.run(stmt, None if key is None else {"key": key}).first()

    def _text(self, column: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
        """Order strings by code point, as Python does (PostgreSQL's default collation does not)."""
        return column.collate("C") if self._pg else column

    def _held_row(
        self,
        table: sa.Table,
        key: str,
        stmt: Prepared,
        from_row: Callable[[m.Row], R],
        held: Callable[[R], bool],
    ) -> R | None:
        """A row by id, served from the rows this transaction holds (see :mod:`.rowcache`)."""
        return self._held.read(table, key, stmt=stmt, fetch=self._row, from_row=from_row, held=held)

    def _in_locked(self, record: Any) -> bool:
        """True if ``record`` belongs to an enrollment this transaction has locked."""
        return record.enrollment_id in self._locked
