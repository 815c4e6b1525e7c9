"""Guarded writes: a write the database refuses fails with the error the store's check names.

Every method of the SQL store checks the same invariants, in the same
order, as the in-memory reference store and raises the same library
errors. The checks run as queries, so the errors carry the same data (for
example the ``existing_id`` of a duplicate enrollment). On PostgreSQL a
concurrent transaction can still commit a conflicting row between a check
and the write; the write then runs inside a SAVEPOINT, and when a unique
constraint refuses it the savepoint is rolled back and the check runs
again: under READ COMMITTED it now sees the committed row and raises the
same error it would have raised had it come second. On SQLite every
transaction holds the database's write lock (``BEGIN IMMEDIATE``), so the
checks cannot be overtaken.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc

from enrollpay.errors import StorageError
from enrollpay.storage.sql import statements as q
from enrollpay.storage.sql.engine import translate
from enrollpay.storage.sql.prepared import Driver, Prepared

__all__ = ["Guards"]

_SAVEPOINT = "enrollpay_guard"
#: Advisory transaction locks by a number, and by a text (hashed to one).
_LOCK_NUMBER = Prepared(
    sa.select(sa.func.pg_advisory_xact_lock(sa.bindparam("key", type_=sa.BigInteger())))
)
_LOCK_TEXT = Prepared(
    sa.select(
        sa.func.pg_advisory_xact_lock(
            sa.func.hashtextextended(sa.bindparam("key", type_=sa.Text()), 0)
        )
    )
)


class Guards:
    """The guarded writes, existence checks and advisory locks of one transaction."""

    __slots__ = ("_d", "_locked", "_pg")

    def __init__(self, driver: Driver, *, pg: bool) -> None:
        self._d = driver
        self._pg = pg
        #: Advisory locks this transaction holds (held until it ends: never twice).
        self._locked: set[str | int] = set()

    def exists(self, table: sa.Table, *where: sa.ColumnElement[bool]) -> bool:
        """True when a row of ``table`` matches every condition."""
        stmt = sa.select(sa.literal(1)).select_from(table).where(*where).limit(1)
        return self._d.run(stmt).first() is not None

    def require(self, table: sa.Table, key: str, value: str, what: str) -> None:
        """``StorageError`` unless the row to update exists."""
        if not self.exists(table, table.c[key] == value):
            raise StorageError(f"cannot update {what} {value!r}: it does not exist")

    def guarded(
        self,
        check: Callable[[], None],
        write: Callable[[], object],
        *,
        check_first: bool = False,
        keys_unchanged: bool = False,
    ) -> None:
        """Write; a write the database refuses fails with the error ``check`` raises.

        Every invariant ``check`` tests is also a constraint of the schema, so
        the queries of ``check`` only run when the write was refused (then
        the conflicting row is visible, committed or ours, and ``check``
        names it as the in-memory store does). ``check_first`` runs it
        before writing, for invariants the schema cannot hold (refund
        totals). On PostgreSQL the write runs in a SAVEPOINT, because a
        failed statement there aborts the transaction; on SQLite a failed
        statement undoes only itself.
        """
        if check_first:
            check()
        if keys_unchanged:
            # An update that leaves every unique key of a row this transaction
            # holds as it was cannot break a unique constraint: no SAVEPOINT
            # (two round trips on PostgreSQL) and nothing for ``check`` to name.
            write()
            return
        if self._pg:
            self._d.run(f"SAVEPOINT {_SAVEPOINT}")
        try:
            write()
        except exc.IntegrityError as error:
            if self._pg:
                self._d.run(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
                self._d.run(f"RELEASE SAVEPOINT {_SAVEPOINT}")
                # Locks taken inside the savepoint went with it: take them again when asked.
                self._locked.clear()
            check()
            raise translate(error) from error
        if self._pg:
            self._d.run(f"RELEASE SAVEPOINT {_SAVEPOINT}")

    def insert_new(self, table: sa.Table, row: dict[str, Any], check: Callable[[], None]) -> None:
        """Insert ``row``; if a unique key of it is taken, raise the error ``check`` raises.

        ``ON CONFLICT DO NOTHING`` turns a taken key into "no row inserted"
        instead of an error, so PostgreSQL needs no SAVEPOINT around the
        write (two round trips) to carry on and let ``check`` name the
        conflict. Every invariant ``check`` tests is a unique constraint.
        """
        try:
            stmt = q.INSERT_NEW[table.name, self._pg]
            inserted = self._d.run(stmt, row, value_keys=True).first()
        except exc.IntegrityError as error:  # not a unique key: a foreign key, a CHECK
            if not self._pg:  # (PostgreSQL has aborted the transaction: no more queries)
                check()
            raise translate(error) from error
        if inserted is None:
            check()
            raise StorageError(f"the database refused a write to {table.name}: a key is taken")

    def update(
        self,
        table: sa.Table,
        key: str,
        values: dict[str, Any],
        what: str,
        stmt: Prepared | None = None,
        **where: Any,
    ) -> None:
        """``UPDATE`` by key (``stmt`` and ``where``: a guarded form and its values)."""
        params = {name: value for name, value in values.items() if name != key}
        if not params:
            return  # only a held row's own values (see RowCache.changes): nothing to write
        params["key_"] = values[key]
        params.update(where)
        update = q.UPDATE[table.name] if stmt is None else stmt
        if self._d.run(update, params, value_keys=True).rowcount == 0:
            raise StorageError(f"cannot update {what} {values[key]!r}: it does not exist")

    def upsert(self, table: sa.Table, key: str, values: dict[str, Any]) -> None:
        """``INSERT ... ON CONFLICT (key) DO UPDATE`` of ``values``."""
        self._d.run(q.upsert(table, key, tuple(values), pg=self._pg), values, value_keys=True)

    def lock(self, key: str | int) -> None:
        """A PostgreSQL advisory lock held until the transaction ends.

        Taken once per transaction: asking again for a lock it holds sends
        nothing (a payment's receipt and its audit entries both need the
        chain's lock).
        """
        if key in self._locked:
            return
        self._d.run(_LOCK_NUMBER if isinstance(key, int) else _LOCK_TEXT, {"key": key}).first()
        self._locked.add(key)
