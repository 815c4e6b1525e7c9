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
see the same exceptions on either path. An engine someone watches (echo,
SQL logging, cursor-execute listeners: see :func:`observed`) gets every
statement through ``Connection.execute`` instead, so nothing is hidden
from the watchers.
"""

from __future__ import annotations

import logging
import operator
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import attrs
import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

__all__ = [
    "Driver",
    "DriverResult",
    "Plans",
    "Prepared",
    "Row",
    "Rows",
    "driver_sql",
    "observed",
    "run_driver_sql",
]

Row = dict[str, Any]
_NO_VALUES: Mapping[str, Any] = {}
_Processor = Callable[[Any], Any]


@attrs.frozen
class _Plan:
    """A statement as rendered for one dialect and one set of value columns."""

    sql: str
    #: Bound names: in placeholder order for a positional driver (``sqlite3``),
    #: each name once for a named one (``psycopg``); their bind processors by
    #: position (only names that have one, with whether None may skip it);
    #: and a getter of their values.
    names_in: tuple[str, ...]
    processed: tuple[tuple[int, _Processor, bool], ...]
    pick: Callable[[Mapping[str, Any]], Any]
    positional: bool
    #: Values of the statement's own literals (``status != 'cancelled'``, ``LIMIT 1``).
    fixed: Mapping[str, Any]
    #: Result column names, and processors by position (as for ``processed``).
    names: tuple[str, ...]
    results: tuple[tuple[int, _Processor, bool], ...]


class Prepared:
    """A constant SQLAlchemy statement, run on the driver's cursor (see the module doc).

    ``statement`` must not use expanding ``IN`` parameters; an ``UPDATE`` or
    ``INSERT`` takes its value columns from the keys of the parameters, as
    ``Connection.execute`` does, and is rendered once per set of keys.
    Run it with :meth:`Driver.run`.
    """

    __slots__ = ("statement",)

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement

    def __repr__(self) -> str:
        return f"Prepared({self.statement})"


class Plans:
    """The rendered forms of :class:`Prepared` statements for one dialect (one per store)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._plans: dict[tuple[Prepared, tuple[str, ...] | None], _Plan] = {}
        self._lock = threading.Lock()

    def get(self, prepared: Prepared, keys: tuple[str, ...] | None) -> _Plan:
        """The plan of ``prepared`` with value columns ``keys``, rendered on first use."""
        plan = self._plans.get((prepared, keys))
        if plan is None:
            with self._lock:
                plan = self._plans.get((prepared, keys))
                if plan is None:
                    plan = _render(prepared.statement, self.dialect, keys)
                    self._plans[prepared, keys] = plan
        return plan


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
    """Runs :class:`Prepared` statements in the transaction of one SQLAlchemy connection.

    On the driver's cursor, unless the engine is :func:`observed`: then
    through ``Connection.execute`` (the same statement, the same rows), so
    the observers see everything.
    """

    __slots__ = ("_conn", "_dbapi", "_error", "_plans")

    def __init__(self, conn: sa.Connection, plans: Plans, *, watched: bool | None = None) -> None:
        """``watched``: :func:`observed`, when the caller knows it already."""
        self._conn = conn if (observed(conn) if watched is None else watched) else None
        self._dbapi = _driver_connection(conn)
        self._plans = plans
        self._error: type[Exception] = plans.dialect.loaded_dbapi.Error

    def run(
        self,
        prepared: Prepared,
        params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        *,
        value_keys: bool = False,
    ) -> Rows:
        """Run ``prepared`` with ``params``: one set of bound values, or a list of them.

        A (non-empty) list runs as ``executemany`` (every set with the same keys).
        ``value_keys``: the statement's value columns are the parameters'
        keys (an ``INSERT``/``UPDATE`` without ``.values()``).
        """
        if self._conn is not None:
            return _SqlAlchemyResult(self._conn.execute(prepared.statement, params))  # type: ignore[call-overload]
        many = isinstance(params, list)
        sets: Sequence[Mapping[str, Any]] = params if many else [params or _NO_VALUES]  # type: ignore[assignment,list-item]
        plan = self._plans.get(prepared, tuple(sets[0]) if value_keys else None)
        args: Any = [_bind(plan, values) for values in sets] if many else _bind(plan, sets[0])
        cursor = self._dbapi.cursor()
        try:
            if many:
                cursor.executemany(plan.sql, args)
            else:
                cursor.execute(plan.sql, args)
        except self._error as error:
            cursor.close()
            raise _wrapped(plan.sql, args, error, self._plans.dialect) from error
        return DriverResult(plan, cursor)

    def scalar(self, sql: str) -> Any:
        """The first column of the first row of a literal statement (``PRAGMA ...``)."""
        if self._conn is not None:
            return self._conn.exec_driver_sql(sql).scalar()
        cursor = self._dbapi.cursor()
        try:
            cursor.execute(sql)
            row = cursor.fetchone()
        except self._error as error:
            raise _wrapped(sql, (), error, self._plans.dialect) from error
        finally:
            cursor.close()
        return None if row is None else row[0]

    def execute_sql(self, sql: str) -> None:
        """Run a literal statement without parameters (``SAVEPOINT name``)."""
        if self._conn is not None:
            self._conn.exec_driver_sql(sql)
            return
        _execute_sql(self._dbapi, sql, self._plans.dialect)


class Rows(Protocol):
    """What :meth:`Driver.run` returns: the statement's rows as dicts by column name."""

    @property
    def rowcount(self) -> int:
        """Rows the statement changed (``UPDATE``/``DELETE``)."""

    def first(self) -> Row | None:
        """The first row, or None; the rest are discarded."""

    def all(self) -> list[Row]:
        """Every row."""


class DriverResult:
    """:class:`Rows` from the driver's cursor, converted by the plan's processors."""

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
        plan = self._plan
        if not plan.results:
            return dict(zip(plan.names, row, strict=True))
        values = list(row)
        for index, process, keeps_none in plan.results:
            value = values[index]
            if value is not None or not keeps_none:
                values[index] = process(value)
        return dict(zip(plan.names, values, strict=True))


class _SqlAlchemyResult:
    """:class:`Rows` over a SQLAlchemy result (an observed engine)."""

    __slots__ = ("_result",)

    def __init__(self, result: sa.CursorResult[Any]) -> None:
        self._result = result

    @property
    def rowcount(self) -> int:
        """Rows the statement changed (``UPDATE``/``DELETE``)."""
        return self._result.rowcount

    def first(self) -> Row | None:
        """The first row, or None; the rest are discarded."""
        row = self._result.mappings().first()
        return None if row is None else dict(row)

    def all(self) -> list[Row]:
        """Every row."""
        return [dict(row) for row in self._result.mappings()]


def _driver_connection(conn: sa.Connection) -> Any:
    dbapi = conn.connection.dbapi_connection
    if dbapi is None:  # pragma: no cover - an invalidated connection
        raise exc.ResourceClosedError("the connection is closed")
    return dbapi


def run_driver_sql(conn: sa.Connection, sql: str) -> None:
    """Run a literal statement (``BEGIN IMMEDIATE``) on ``conn``'s driver connection.

    Through SQLAlchemy when the engine is :func:`observed`.
    """
    if observed(conn):
        conn.exec_driver_sql(sql)
    else:
        driver_sql(conn, sql)


def driver_sql(conn: sa.Connection, sql: str) -> None:
    """Run a literal statement on ``conn``'s driver connection, never through SQLAlchemy."""
    _execute_sql(_driver_connection(conn), sql, conn.dialect)


def _execute_sql(dbapi: Any, sql: str, dialect: Dialect) -> None:
    cursor = dbapi.cursor()
    try:
        cursor.execute(sql)
    except dialect.loaded_dbapi.Error as error:
        raise _wrapped(sql, (), error, dialect) from error
    finally:
        cursor.close()


def _bind(plan: _Plan, values: Mapping[str, Any]) -> Any:
    if plan.fixed:
        values = {**plan.fixed, **values}
    try:
        picked = plan.pick(values)
    except KeyError as missing:
        raise exc.ArgumentError(f"no value for the bound parameter {missing}") from None
    if not plan.processed and plan.positional:
        return (picked,) if len(plan.names_in) == 1 else picked
    bound = [picked] if len(plan.names_in) == 1 else list(picked)
    for index, process, keeps_none in plan.processed:
        value = bound[index]
        if value is not None or not keeps_none:
            bound[index] = process(value)
    return tuple(bound) if plan.positional else dict(zip(plan.names_in, bound, strict=True))


def _keeps_none(process: _Processor) -> bool:
    """True when ``process`` binds None as None (NULL), so None can skip it.

    Most do; JSON does not (it binds the JSON text ``null``), so it still runs.
    """
    try:
        return process(None) is None
    except Exception:  # a processor that refuses None must still see it
        return False


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
    processors = {
        name: bind.type.dialect_impl(dialect).bind_processor(dialect)
        for name, bind in rendered.items()
    }
    columns = list(getattr(statement, "exported_columns", ()))
    results = tuple(
        (index, process, _keeps_none(process))
        for index, column in enumerate(columns)
        if (process := column.type.dialect_impl(dialect).result_processor(dialect, None))
        is not None
    )
    names_in = tuple(compiled.positiontup or ()) if dialect.positional else tuple(processors)
    return _Plan(
        sql=compiled.string,
        names_in=names_in,
        processed=tuple(
            (index, process, _keeps_none(process))
            for index, name in enumerate(names_in)
            if (process := processors[name]) is not None
        ),
        pick=operator.itemgetter(*names_in) if names_in else lambda _values: (),
        positional=dialect.positional,
        fixed=fixed,
        names=tuple(column.name for column in columns),
        results=results,
    )
