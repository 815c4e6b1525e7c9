"""The one way the SQL store runs a statement: :meth:`Driver.run`.

Every statement of a store transaction, read or write, constant or built
per call, goes through :meth:`Driver.run`, which picks one of two routes:

- SQLAlchemy's ``Connection.execute`` (its compiled cache, its events, its
  logging) for a statement built per call (filters, ``IN`` lists, reports),
  and for EVERY statement when someone watches the engine (see
  :func:`observed`), so that nothing is hidden from the watchers;
- the driver's cursor for a constant :class:`Prepared` statement (a row by
  key, an insert, an update by key) and for literal SQL (``PRAGMA``,
  ``SAVEPOINT``, ``BEGIN IMMEDIATE``) when nobody watches. SQLAlchemy still
  renders the statement for the dialect and converts each column's values
  (the same bind and result processors, from the same column types: see
  :mod:`.plans`); what is skipped is its per-execution work: looking the
  compiled form up, building an execution context, running the processors
  through its parameter machinery and wrapping the cursor in a result
  (about 38 µs against 15 µs for a primary-key read through ``sqlite3``).

Driver errors are wrapped as SQLAlchemy wraps them (``IntegrityError``,
``OperationalError``, ...), so the store's error translation and retries see
the same exceptions on either route.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Dialect

from enrollpay.storage.sql.plans import Plan, Plans, Prepared, bind

__all__ = ["Driver", "Plans", "Prepared", "Row", "Rows", "observed"]

#: A row by column name (a dict from the driver, a ``RowMapping`` from SQLAlchemy).
Row = Mapping[Any, Any]
Params = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
_NO_VALUES: Mapping[str, Any] = {}


def observed(conn: sa.Connection) -> bool:
    """True when someone watches the SQL of ``conn``'s engine.

    That is ``echo`` or the ``sqlalchemy.engine`` logger at INFO, or a
    ``before_cursor_execute``/``after_cursor_execute`` listener (SQL
    logging, tracing instrumentations, statement counters). They only see
    what runs through SQLAlchemy, so then every statement does.
    """
    dispatch = conn.dispatch
    return (
        bool(dispatch.before_cursor_execute)
        or bool(dispatch.after_cursor_execute)
        or conn.engine.logger.isEnabledFor(logging.INFO)
    )


class Driver:
    """Runs the statements of one SQLAlchemy connection's transaction (see the module doc)."""

    __slots__ = (
        "_conn",
        "_cur",
        "_dbapi",
        "_dialect",
        "_error",
        "_fast",
        "_plans",
        "_shared",
        "_turn",
    )

    def __init__(
        self, conn: sa.Connection, plans: Plans | None = None, *, watched: bool | None = None
    ) -> None:
        """Take ``plans`` (for :class:`Prepared`) and ``watched`` (if known already).

        ``plans`` are the store's renderings; ``watched`` is :func:`observed`.
        """
        self._conn = conn
        self._fast = not (observed(conn) if watched is None else watched)
        self._dialect: Dialect = conn.dialect if plans is None else plans.dialect
        self._plans = plans
        self._dbapi = _driver_connection(conn) if self._fast else None
        self._error: type[Exception] = self._dialect.loaded_dbapi.Error
        #: psycopg: one cursor for the whole transaction (making one per
        #: statement cost 6% of a collected item's client time). ``_turn``
        #: counts its statements, so that a result read after the next
        #: statement ran fails loudly instead of reading that statement's rows.
        self._cur: Any = None
        self._shared = self._dialect.name == "postgresql"
        self._turn = 0

    @property
    def watched(self) -> bool:
        """True when every statement goes through SQLAlchemy (see :func:`observed`)."""
        return not self._fast

    def run(
        self,
        statement: Prepared | sa.Executable | str,
        params: Params = None,
        *,
        value_keys: bool = False,
    ) -> Rows:
        """Run ``statement`` with ``params``: one set of bound values, or a list of them.

        ``statement`` is a :class:`Prepared` constant, a SQLAlchemy statement
        built for this call, or literal SQL without parameters. A
        (non-empty) list of values runs as ``executemany`` (every set with
        the same keys). ``value_keys``: the statement's value columns are
        the parameters' keys (an ``INSERT``/``UPDATE`` without ``.values()``).
        """
        if self._fast:
            if isinstance(statement, Prepared):
                return self._prepared(statement, params, value_keys)
            if isinstance(statement, str):
                return self._cursor(statement, (), many=False)
        if isinstance(statement, str):
            return _SqlAlchemyResult(self._conn.exec_driver_sql(statement))
        if isinstance(statement, Prepared):
            statement = statement.statement  # type: ignore[assignment]
        return _SqlAlchemyResult(self._conn.execute(statement, params))  # type: ignore[arg-type]

    def end(self, *, commit: bool) -> None:
        """Commit or roll back on the driver's connection (not through SQLAlchemy).

        For a driver that begins transactions itself (psycopg): it sends
        nothing when no statement ran.
        """
        dbapi = _driver_connection(self._conn)
        try:
            if commit:
                dbapi.commit()
            else:
                dbapi.rollback()
        except self._error as error:
            raise _wrapped("COMMIT" if commit else "ROLLBACK", (), error, self._dialect) from error

    def _prepared(self, prepared: Prepared, params: Params, value_keys: bool) -> Rows:
        if self._plans is None:
            raise TypeError("a Driver without Plans cannot run a Prepared statement")
        many = isinstance(params, list)
        sets: Sequence[Mapping[str, Any]] = params if many else [params or _NO_VALUES]  # type: ignore[assignment,list-item]
        plan = self._plans.get(prepared, tuple(sets[0]) if value_keys else None)
        args: Any = [bind(plan, values) for values in sets] if many else bind(plan, sets[0])
        return self._cursor(plan.sql, args, many=many, plan=plan)

    def _cursor(self, sql: str, args: Any, *, many: bool, plan: Plan | None = None) -> Rows:
        shared = self._shared
        cursor = self._cur if shared else None
        if cursor is None:
            cursor = self._dbapi.cursor()  # type: ignore[union-attr]
            if shared:
                self._cur = cursor
        self._turn += 1
        try:
            if many:
                cursor.executemany(sql, args)
            else:
                cursor.execute(sql, args)
        except self._error as error:
            cursor.close()
            self._cur = None
            raise _wrapped(sql, args, error, self._dialect) from error
        returns = None if plan is None else plan.returns_rows
        if returns is False or (returns is None and cursor.description is None):
            # No rows to read: done with the cursor.
            count = cursor.rowcount
            if not shared:
                cursor.close()
            return _NoRows(count)
        return DriverResult(plan, cursor, self if shared else None)


class Rows(Protocol):
    """What :meth:`Driver.run` returns: the statement's rows as mappings by column name."""

    @property
    def rowcount(self) -> int:
        """Rows the statement changed (``UPDATE``/``DELETE``)."""

    def first(self) -> Row | None:
        """The first row, or None; the rest are discarded."""

    def all(self) -> Sequence[Row]:
        """Every row."""

    def scalar(self) -> Any:
        """The first column of the first row, or None; the rest are discarded."""


class DriverResult:
    """:class:`Rows` from the driver's cursor, converted by the plan's processors."""

    __slots__ = ("_cursor", "_plan", "_shared", "_turn")

    def __init__(self, plan: Plan | None, cursor: Any, shared: Driver | None = None) -> None:
        """``shared``: the driver whose one cursor this is (it is not closed here)."""
        self._plan = plan
        self._cursor = cursor
        self._shared = shared
        self._turn = 0 if shared is None else shared._turn

    @property
    def rowcount(self) -> int:
        """Rows the statement changed (``UPDATE``/``DELETE``)."""
        count = self._live().rowcount
        self._done()
        return int(count)

    def first(self) -> Row | None:
        """The first row, or None; the rest are discarded."""
        row = self._live().fetchone()
        result = None if row is None else self._row(row)
        self._done()
        return result

    def all(self) -> Sequence[Row]:
        """Every row."""
        rows = self._live().fetchall()
        result = [self._row(row) for row in rows]
        self._done()
        return result

    def _live(self) -> Any:
        shared = self._shared
        if shared is not None and shared._turn != self._turn:
            raise RuntimeError("a result was read after its driver ran another statement")
        return self._cursor

    def _done(self) -> None:
        if self._shared is None:
            self._cursor.close()

    def scalar(self) -> Any:
        """The first column of the first row, or None; the rest are discarded."""
        row = self.first()
        return None if row is None else next(iter(row.values()))

    def _row(self, row: Sequence[Any]) -> dict[str, Any]:
        plan = self._plan
        if plan is None:  # literal SQL: no conversions
            return {
                column[0]: value
                for column, value in zip(self._cursor.description, row, strict=True)
            }
        if not plan.results:
            return dict(zip(plan.names, row, strict=True))
        values = list(row)
        for index, process, keeps_none in plan.results:
            value = values[index]
            if value is not None or not keeps_none:
                values[index] = process(value)
        return dict(zip(plan.names, values, strict=True))


class _NoRows:
    """:class:`Rows` of a statement that returns none (its cursor is closed already)."""

    __slots__ = ("rowcount",)

    def __init__(self, rowcount: int) -> None:
        self.rowcount = rowcount

    def first(self) -> Row | None:
        """None: there are no rows."""
        return None

    def all(self) -> Sequence[Row]:
        """No rows."""
        return []

    def scalar(self) -> Any:
        """None: there are no rows."""
        return None


class _SqlAlchemyResult:
    """:class:`Rows` over a SQLAlchemy result."""

    __slots__ = ("_result",)

    def __init__(self, result: sa.CursorResult[Any]) -> None:
        self._result = result

    @property
    def rowcount(self) -> int:
        """Rows the statement changed (``UPDATE``/``DELETE``)."""
        return self._result.rowcount

    def first(self) -> Row | None:
        """The first row, or None; the rest are discarded."""
        if not self._result.returns_rows:
            return None
        return self._result.mappings().first()

    def all(self) -> Sequence[Row]:
        """Every row."""
        if not self._result.returns_rows:
            return []
        return self._result.mappings().all()

    def scalar(self) -> Any:
        """The first column of the first row, or None; the rest are discarded."""
        if not self._result.returns_rows:
            return None
        return self._result.scalar()


def _driver_connection(conn: sa.Connection) -> Any:
    dbapi = conn.connection.dbapi_connection
    if dbapi is None:  # pragma: no cover - an invalidated connection
        raise exc.ResourceClosedError("the connection is closed")
    return dbapi


def _wrapped(sql: str, args: Any, error: Exception, dialect: Dialect) -> exc.DBAPIError:
    """The driver's error as SQLAlchemy's exception class for it (``IntegrityError``, ...)."""
    wrapped = exc.DBAPIError.instance(sql, args, error, dialect.loaded_dbapi.Error, dialect=dialect)
    if not isinstance(wrapped, exc.DBAPIError):  # pragma: no cover - always one for these
        raise error
    return wrapped
