"""Constant statements compiled once and run on the driver's cursor.

The SQL store's hot statements (a row by key, an insert, an update by key)
are SQLAlchemy Core constructs built once at import. SQLAlchemy still
spends more per execution than the database does on such a statement: it
looks the compiled form up, builds an execution context, runs the bind
processors through its parameter machinery and wraps the cursor in a
result (about 38 µs against 15 µs for the same primary-key read through
``sqlite3`` alone). :class:`Prepared` keeps SQLAlchemy for what it is for,
rendering the statement for the connection's dialect and converting each
column's values (the same bind and result processors, from the same column
types), and runs the rendered SQL on the driver's cursor of the
transaction's own connection. One statement, every dialect: the SQL is
still SQLAlchemy's, compiled per dialect on first use.

Driver errors are wrapped as SQLAlchemy wraps them (``IntegrityError``,
``OperationalError``, ...), so the store's error translation and retries
see the same exceptions on either path.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

__all__ = ["Prepared", "Row", "run_driver_sql"]

Row = dict[str, Any]
_Processor = Callable[[Any], Any]


@attrs.frozen
class _Plan:
    """A statement as rendered for one dialect and one set of value columns."""

    sql: str
    #: Bound names in the order of the placeholders (positional drivers), else None.
    order: tuple[str, ...] | None
    #: Values of the statement's own literals (``status != 'cancelled'``, ``LIMIT 1``).
    fixed: Mapping[str, Any]
    #: Bind processors by bound name (only names that have one).
    binds: tuple[tuple[str, _Processor], ...]
    #: Result column names, and processors by position (only columns that have one).
    names: tuple[str, ...]
    results: tuple[tuple[int, _Processor], ...]


class Prepared:
    """A constant SQLAlchemy statement, run on the driver's cursor (see the module doc).

    ``statement`` must not use expanding ``IN`` parameters; an ``UPDATE`` or
    ``INSERT`` takes its value columns from the keys of the parameters, as
    ``Connection.execute`` does, and is rendered once per set of keys.
    """

    __slots__ = ("_lock", "_plans", "statement")

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        # Per dialect object: engines of one database share nothing here, and a
        # plan goes when its dialect (its engine) does.
        self._plans: weakref.WeakKeyDictionary[Dialect, dict[tuple[str, ...] | None, _Plan]] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Prepared({self.statement})"

    def _plan(self, dialect: Dialect, keys: tuple[str, ...] | None) -> _Plan:
        plans = self._plans.get(dialect)
        plan = None if plans is None else plans.get(keys)
        if plan is None:
            with self._lock:
                plans = self._plans.setdefault(dialect, {})
                plan = plans.get(keys)
                if plan is None:
                    plan = plans[keys] = _render(self.statement, dialect, keys)
        return plan

    def execute(
        self,
        conn: sa.Connection,
        params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        *,
        value_keys: bool = False,
    ) -> DriverResult:
        """Run on ``conn``'s driver connection, in its current transaction.

        ``params``: one set of bound values, or a list of them (``executemany``,
        every set with the same keys). ``value_keys``: the statement's value
        columns are the parameters' keys (an ``INSERT``/``UPDATE`` without
        ``.values()``).
        """
        sets = params if isinstance(params, Sequence) else [params or {}]
        many = len(sets) > 1
        keys = tuple(sets[0]) if value_keys and sets else None
        dialect = conn.dialect
        plan = self._plan(dialect, keys)
        args = [_bind(plan, values) for values in sets]
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            if many:
                cursor.executemany(plan.sql, args)
            else:
                cursor.execute(plan.sql, args[0])
            return DriverResult(plan, cursor)
        except dialect.loaded_dbapi.Error as error:
            cursor.close()
            raise _wrapped(plan.sql, args, error, dialect) from error


class DriverResult:
    """The rows of one :meth:`Prepared.execute`, as dicts by column name."""

    __slots__ = ("_cursor", "_plan")

    def __init__(self, plan: _Plan, cursor: Any) -> None:
        self._plan = plan
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        """Rows the statement changed (``UPDATE``/``DELETE``)."""
        count = self._cursor.rowcount
        self._cursor.close()
        return int(count)

    def first(self) -> Row | None:
        """The first row, or None; the rest are discarded."""
        row = self._cursor.fetchone()
        self._cursor.close()
        return None if row is None else self._row(row)

    def all(self) -> list[Row]:
        """Every row."""
        rows = self._cursor.fetchall()
        self._cursor.close()
        return [self._row(row) for row in rows]

    def _row(self, row: Sequence[Any]) -> Row:
        values = list(row)
        for index, process in self._plan.results:
            values[index] = process(values[index])
        return dict(zip(self._plan.names, values, strict=True))


def run_driver_sql(conn: sa.Connection, sql: str) -> None:
    """Run a literal statement (``BEGIN IMMEDIATE``) on ``conn``'s driver connection."""
    dbapi = conn.connection.dbapi_connection
    if dbapi is None:  # pragma: no cover - an invalidated connection
        raise exc.ResourceClosedError("the connection is closed")
    cursor = dbapi.cursor()
    try:
        cursor.execute(sql)
    except conn.dialect.loaded_dbapi.Error as error:
        raise _wrapped(sql, (), error, conn.dialect) from error
    finally:
        cursor.close()


def _bind(plan: _Plan, values: Mapping[str, Any]) -> Any:
    bound = {**plan.fixed, **values} if plan.fixed else dict(values)
    for name, process in plan.binds:
        if name in bound:
            bound[name] = process(bound[name])
    if plan.order is None:
        return bound
    return tuple(bound[name] for name in plan.order)


def _wrapped(sql: str, args: Any, error: Exception, dialect: Dialect) -> exc.DBAPIError:
    """The driver's error as SQLAlchemy's exception class for it (``IntegrityError``, ...)."""
    wrapped = exc.DBAPIError.instance(sql, args, error, dialect.loaded_dbapi.Error, dialect=dialect)
    if not isinstance(wrapped, exc.DBAPIError):  # pragma: no cover - always one for these
        raise error
    return wrapped


def _render(statement: ClauseElement, dialect: Dialect, keys: tuple[str, ...] | None) -> _Plan:
    compiled = statement.compile(dialect=dialect, column_keys=list(keys) if keys else None)
    if not isinstance(compiled, SQLCompiler):  # pragma: no cover - DDL is not prepared
        raise TypeError(f"not a SQL statement: {statement}")
    rendered: dict[str, sa.BindParameter[Any]] = {
        name: bind for bind, name in compiled.bind_names.items()
    }
    if any(bind.expanding for bind in rendered.values()):
        raise ValueError(f"an expanding IN parameter cannot be prepared: {statement}")
    fixed = {
        name: bind.effective_value
        for name, bind in rendered.items()
        if not bind.required and bind.callable is None and bind.value is not None
    }
    binds = tuple(
        (name, process)
        for name, bind in rendered.items()
        if (process := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
    )
    columns = list(getattr(statement, "exported_columns", ()))
    results = tuple(
        (index, process)
        for index, column in enumerate(columns)
        if (process := column.type.dialect_impl(dialect).result_processor(dialect, None))
        is not None
    )
    return _Plan(
        sql=compiled.string,
        order=tuple(compiled.positiontup or ()) if dialect.positional else None,
        fixed=fixed,
        binds=binds,
        names=tuple(column.name for column in columns),
        results=results,
    )
