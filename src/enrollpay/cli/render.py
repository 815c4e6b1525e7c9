"""Writers for :class:`~enrollpay.cli.tables.Table`: rich tables, CSV and JSON.

Tables for people format amounts with babel for a locale (``$1,200.00``,
``1.200,00 $``). CSV and JSON are for programs and carry amounts exactly:
minor units, currency and a decimal string, never a float.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from babel.numbers import format_decimal, format_percent
from rich import box
from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table as RichTable
from rich.text import Text

from enrollpay.cli.tables import Cell, Column, Table, View
from enrollpay.domain.money import Money

__all__ = [
    "NON_TERMINAL_WIDTH",
    "TitledTable",
    "format_cell",
    "output_console",
    "rich_tables",
    "titled_table",
    "to_csv",
    "to_json",
]

#: Width of tables written to a file or a pipe (unless ``COLUMNS`` says otherwise).
NON_TERMINAL_WIDTH = 120
_RIGHT = frozenset({"int", "money", "ratio"})


def _isatty(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


def output_console() -> Console:
    """The console results go to: standard output, with no markup or highlighting.

    Product names and other data are printed as they are (no rich markup),
    and a file or pipe gets a fixed width (unless ``COLUMNS`` is set) so the
    output does not depend on the terminal the command happened to run from.
    """
    wide = not _isatty(sys.stdout) and "COLUMNS" not in os.environ
    return Console(
        file=sys.stdout,
        width=NON_TERMINAL_WIDTH if wide else None,
        markup=False,
        emoji=False,
        highlight=False,
        soft_wrap=True,  # lines of text are never broken; tables still fit the width
    )


class TitledTable(RichTable):
    """A rich table under a bold heading line that is never wrapped to the table's width."""

    def __init__(self, heading: str, **options: Any) -> None:
        super().__init__(box=box.SIMPLE_HEAD, show_edge=False, **options)
        self.heading = heading

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        """The heading, the table, and a blank line to set it off from what follows."""
        yield Text(self.heading, style="bold")
        yield from super().__rich_console__(console, options)
        yield Text("")


def titled_table(title: str, **options: Any) -> TitledTable:
    """A table in the house style: a bold heading, a rule under the column names."""
    return TitledTable(title, **options)


def _counts(value: Mapping[str, int], template: str) -> str:
    return ", ".join(template.format(key=key, count=count) for key, count in value.items())


def format_cell(value: Cell, column: Column, locale: str) -> str:
    """A cell for people: money and numbers formatted by babel for ``locale``."""
    if value is None:
        return ""
    if isinstance(value, Money):
        return value.format(locale)
    if isinstance(value, Decimal):
        return str(format_percent(value, format="#,##0.0%", locale=locale))
    if isinstance(value, bool):  # before int: a bool is an int
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(format_decimal(value, locale=locale))
    if isinstance(value, date):
        return value.strftime("%Y-%m") if column.kind == "month" else value.isoformat()
    if isinstance(value, Mapping):
        return _counts(value, column.counts_format)
    return str(value)


def _min_width(column: Column, cells: Sequence[str]) -> int:
    """Wide enough for the longest word, so text wraps between words, never inside one."""
    words = [word for text in (column.title, *cells) for word in text.split()]
    return min(max((len(word) for word in words), default=1), 30)


def rich_tables(table: Table, locale: str) -> list[TitledTable]:
    """The table for a terminal (one per view), amounts right-aligned and never cut."""
    views = table.views or (View(table.title, tuple(c.key for c in table.columns if c.human)),)
    position = {column.key: index for index, column in enumerate(table.columns)}
    text = [
        [format_cell(cell, column, locale) for cell, column in zip(row, table.columns, strict=True)]
        for row in table.rows
    ]
    out = []
    for view in views:
        shown = [position[key] for key in view.keys]
        rich = titled_table(
            view.title, caption="no rows" if not table.rows else None, caption_justify="left"
        )
        for index in shown:
            column = table.columns[index]
            numeric = column.kind in _RIGHT
            rich.add_column(
                column.title,
                justify="right" if numeric else "left",
                no_wrap=numeric or column.kind in ("date", "month"),
                min_width=_min_width(column, [row[index] for row in text]),
            )
        for row in text:
            rich.add_row(*(Text(row[index]) for index in shown))
        out.append(rich)
    return out


def _exact(value: Cell) -> Any:
    """A JSON value that loses nothing."""
    if isinstance(value, Money):
        return {"minor": value.minor, "currency": value.currency, "amount": str(value.amount)}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return dict(value)
    return value


def _record(table: Table, row: Sequence[Cell]) -> dict[str, Any]:
    return {column.key: _exact(cell) for column, cell in zip(table.columns, row, strict=True)}


def to_json(report: str, tables: Sequence[Table], parameters: Mapping[str, Any]) -> str:
    """``{"report": ..., "parameters": {...}, <table name>: [rows]}`` as indented JSON."""
    document: dict[str, Any] = {
        "report": report,
        "parameters": {k: _exact(v) for k, v in parameters.items()},
    }
    for table in tables:
        document[table.name] = [_record(table, row) for row in table.rows]
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _csv_fields(column: Column, has_currency: bool) -> list[str]:
    if column.kind != "money":
        return [column.key]
    fields = [column.key, f"{column.key}_minor"]
    return fields if has_currency else [*fields, f"{column.key}_currency"]


def _csv_values(value: Cell, column: Column, has_currency: bool) -> list[str]:
    if isinstance(value, Money):
        values = [str(value.amount), str(value.minor)]
        return values if has_currency else [*values, value.currency]
    if column.kind == "money":  # an empty money cell still fills its columns
        return [""] * len(_csv_fields(column, has_currency))
    if value is None:
        return [""]
    if isinstance(value, Mapping):
        return [";".join(f"{key}={count}" for key, count in value.items())]
    if isinstance(value, date):
        return [value.isoformat()]
    return [str(value)]


def to_csv(tables: Sequence[Table]) -> str:
    """One CSV document; several tables share it with a leading ``section`` column.

    A money column ``gross`` becomes ``gross`` (the decimal amount, such as
    ``299.99``) and ``gross_minor`` (``29999``); the row's ``currency``
    column names the currency (or ``gross_currency`` when there is none).
    """
    columns: list[Column] = []
    for table in tables:
        for column in table.columns:
            if column.key not in {c.key for c in columns}:
                columns.append(column)
    has_currency = any(c.key == "currency" for c in columns)
    sectioned = len(tables) > 1
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = [field for c in columns for field in _csv_fields(c, has_currency)]
    writer.writerow(["section", *header] if sectioned else header)
    for table in tables:
        for row in table.rows:
            cells = dict(zip((c.key for c in table.columns), row, strict=True))
            values = [
                value for c in columns for value in _csv_values(cells.get(c.key), c, has_currency)
            ]
            writer.writerow([table.name, *values] if sectioned else values)
    return buffer.getvalue()
