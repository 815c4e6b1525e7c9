"""Statements rendered once per dialect: what the driver runs for a :class:`Prepared`.

SQLAlchemy renders a constant statement for the connection's dialect and
knows how to convert each column's values (the bind and result processors
of the column types). A :class:`Plan` keeps both, so running the statement
again costs only binding its values: see :mod:`.prepared`.
"""

from __future__ import annotations

import operator
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

from enrollpay.storage.sql.schema import UTCDateTime

__all__ = ["Plan", "Plans", "Prepared", "bind"]

_Processor = Callable[[Any], Any]


@attrs.frozen
class Plan:
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
    #: Whether the statement returns rows: an ``INSERT``/``UPDATE``/``DELETE``
    #: without ``RETURNING`` does not; None when only the cursor can tell.
    #: (Asking the cursor costs: psycopg builds a column object per column.)
    returns_rows: bool | None = None


class Prepared:
    """A constant SQLAlchemy statement, run on the driver's cursor (see the module doc).

    ``statement`` must not use expanding ``IN`` parameters; an ``UPDATE`` or
    ``INSERT`` takes its value columns from the keys of the parameters, as
    ``Connection.execute`` does, and is rendered once per set of keys.
    Run it with :meth:`~enrollpay.storage.sql.prepared.Driver.run`.
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
        self._plans: dict[tuple[Prepared, tuple[str, ...] | None], Plan] = {}
        self._lock = threading.Lock()

    def get(self, prepared: Prepared, keys: tuple[str, ...] | None) -> Plan:
        """The plan of ``prepared`` with value columns ``keys``, rendered on first use."""
        plan = self._plans.get((prepared, keys))
        if plan is None:
            with self._lock:
                plan = self._plans.get((prepared, keys))
                if plan is None:
                    plan = _render(prepared.statement, self.dialect, keys)
                    self._plans[prepared, keys] = plan
        return plan


def bind(plan: Plan, values: Mapping[str, Any]) -> Any:
    """The driver's parameters for ``values``: in placeholder order, converted."""
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


def _bind_processor(type_: Any, dialect: Dialect) -> _Processor | None:
    """The column type's bind processor; on SQLite, instants and dates in one step.

    SQLAlchemy's SQLite ``DATETIME`` and ``DATE`` processors format a value
    field by field in Python (about 1.5 µs each, some ten values per unit of
    work). Their fixed-width text is exactly what ``isoformat`` writes
    (``YYYY-MM-DD HH:MM:SS.ffffff``, ``YYYY-MM-DD``), so a ``datetime`` or
    ``date`` is formatted by it instead: the same text, in C. Anything else
    still goes to SQLAlchemy's processor. An instant first passes
    :class:`UTCDateTime`'s own check (aware, converted to UTC), except one
    whose zone is ``UTC`` itself, which that check would return unchanged.
    """
    standard: _Processor | None = type_.dialect_impl(dialect).bind_processor(dialect)
    if dialect.name != "sqlite" or standard is None:
        return standard
    if isinstance(type_, UTCDateTime):
        to_utc = type_.process_bind_param

        def instant(value: Any) -> Any:
            if type(value) is datetime and value.tzinfo is UTC:
                # Already UTC (the clock's instants): what the check would give.
                return value.replace(tzinfo=None).isoformat(" ", "microseconds")
            naive = to_utc(value, dialect)
            if type(naive) is datetime:
                return naive.isoformat(" ", "microseconds")
            return standard(value)

        return instant
    if isinstance(type_, sa.Date) and not isinstance(type_, sa.DateTime):

        def day(value: Any) -> Any:
            return value.isoformat() if type(value) is date else standard(value)

        return day
    return standard


def _render(statement: ClauseElement, dialect: Dialect, keys: tuple[str, ...] | None) -> Plan:
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
    processors = {name: _bind_processor(bind.type, dialect) for name, bind in rendered.items()}
    columns = list(getattr(statement, "exported_columns", ()))
    results = tuple(
        (index, process, _keeps_none(process))
        for index, column in enumerate(columns)
        if (process := column.type.dialect_impl(dialect).result_processor(dialect, None))
        is not None
    )
    names_in = tuple(compiled.positiontup or ()) if dialect.positional else tuple(processors)
    return Plan(
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
        returns_rows=True
        if columns
        else (False if compiled.isinsert or compiled.isupdate or compiled.isdelete else None),
    )
