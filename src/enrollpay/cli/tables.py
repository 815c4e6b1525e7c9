"""Report rows as neutral tables that the table, CSV and JSON writers share.

A :class:`Table` holds typed cells (``Money``, ``Decimal`` ratios, dates,
counts), never pre-formatted text, so each writer decides how to show them:
the terminal with babel for a locale, CSV and JSON exactly (minor units,
currency and a decimal string).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Literal, TypeAlias

import attrs

from enrollpay.domain.money import Money
from enrollpay.reports import (
    AgingRow,
    ForecastRow,
    ProductRow,
    RecoveryRow,
    RevenueRow,
    StatusBreakdown,
)

__all__ = [
    "Cell",
    "Column",
    "ColumnKind",
    "Table",
    "View",
    "aging_table",
    "enrollment_status_table",
    "forecast_table",
    "item_status_table",
    "product_table",
    "recovery_table",
    "revenue_table",
]

ColumnKind = Literal["text", "int", "money", "ratio", "date", "month", "counts"]
Cell: TypeAlias = str | int | Money | Decimal | date | Mapping[str, int] | None


@attrs.frozen
class Column:
    """One column: a machine ``key`` (CSV/JSON), a human ``title`` and its kind."""

    key: str
    title: str
    kind: ColumnKind = "text"
    #: Shown in tables for people too (CSV and JSON always carry every column).
    human: bool = True
    #: How one entry of a ``counts`` cell reads in a table for people.
    counts_format: str = "{key} {count}"


@attrs.frozen
class View:
    """Columns shown together to people: a wide table is split into several views."""

    title: str
    keys: tuple[str, ...]


@attrs.frozen
class Table:
    """A titled table; ``name`` is its key in JSON output."""

    name: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    #: How a terminal shows it; empty: one view of every ``human`` column.
    views: tuple[View, ...] = ()


def _table(
    name: str,
    title: str,
    columns: Sequence[Column],
    rows: Sequence[Sequence[Cell]],
    views: Sequence[View] = (),
) -> Table:
    return Table(name, title, tuple(columns), tuple(tuple(row) for row in rows), tuple(views))


def _cell(value: Any, kind: ColumnKind) -> Cell:
    """A row attribute as a cell: text as ``str``, counts keyed by ``str``."""
    if kind == "text":
        return str(value)
    if kind == "counts":
        return {str(key): count for key, count in value.items()}
    return value  # type: ignore[no-any-return] # a row attribute of the column's kind


def _rows_table(
    name: str,
    title: str,
    columns: Sequence[Column],
    rows: Sequence[object],
    views: Sequence[View] = (),
) -> Table:
    """A table of report rows, each column read from the row attribute named by its key."""
    cells = [[_cell(getattr(row, c.key), c.kind) for c in columns] for row in rows]
    return _table(name, title, columns, cells, views)


def revenue_table(rows: Sequence[RevenueRow], *, by: str) -> Table:
    """Gross, refunded and net money per period and currency."""
    return _rows_table(
        "rows",
        f"Revenue by {by}",
        (
            Column("period", by.capitalize(), "month" if by == "month" else "date"),
            Column("currency", "Currency"),
            Column("gross", "Gross", "money"),
            Column("refunded", "Refunded", "money"),
            Column("net", "Net", "money"),
            Column("payments", "Payments", "int"),
            Column("refunds", "Refunds", "int"),
        ),
        rows,
    )


def enrollment_status_table(breakdown: StatusBreakdown) -> Table:
    """Enrollments per status (every status, zeros included)."""
    return _table(
        "enrollments",
        "Enrollments by status",
        (Column("status", "Status"), Column("count", "Enrollments", "int")),
        [(str(status), count) for status, count in breakdown.enrollments.items()],
    )


def item_status_table(breakdown: StatusBreakdown) -> Table:
    """Schedule items per status and currency, with what is still owed."""
    return _rows_table(
        "items",
        "Schedule items by status",
        (
            Column("status", "Status"),
            Column("currency", "Currency"),
            Column("count", "Items", "int"),
            Column("amount", "Amount", "money"),
            Column("outstanding", "Outstanding", "money"),
        ),
        breakdown.items,
    )


def product_table(rows: Sequence[ProductRow]) -> Table:
    """How each product sells and collects."""
    return _rows_table(
        "rows",
        "Product performance",
        (
            Column("product_id", "Id", human=False),
            Column("name", "Product"),
            Column("currency", "Currency", human=False),
            Column("enrollments", "Enrolled", "int"),
            Column("completed", "Completed", "int"),
            Column("cancelled", "Cancelled", "int"),
            Column("suspended", "Suspended", "int"),
            Column("gross", "Gross", "money"),
            Column("refunded", "Refunded", "money"),
            Column("net", "Net", "money"),
            Column("refund_rate", "Refund rate", "ratio"),
            Column("default_rate", "Default rate", "ratio"),
            Column("plan_mix", "Plans", "counts"),
            Column("disputes", "Disputes", "int"),
            Column("disputed", "Disputed", "money"),
            Column("withheld", "Withheld", "money"),
            Column("dispute_rate", "Dispute rate", "ratio"),
        ),
        rows,
        views=(
            View(
                "Product performance: enrollments",
                (
                    "name",
                    "enrollments",
                    "completed",
                    "cancelled",
                    "suspended",
                    "default_rate",
                    "plan_mix",
                ),
            ),
            View(
                "Product performance: money",
                ("name", "gross", "refunded", "net", "refund_rate"),
            ),
            View(
                "Product performance: disputes",
                ("name", "disputes", "disputed", "withheld", "dispute_rate"),
            ),
        ),
    )


def aging_table(rows: Sequence[AgingRow], *, as_of: date) -> Table:
    """Overdue amounts by currency and days-overdue bucket."""
    return _rows_table(
        "rows",
        f"Receivables aging as of {as_of.isoformat()}",
        (
            Column("currency", "Currency"),
            Column("bucket", "Days overdue"),
            Column("items", "Items", "int"),
            Column("amount", "Overdue", "money"),
        ),
        rows,
    )


def forecast_table(rows: Sequence[ForecastRow], *, date_from: date, months: int) -> Table:
    """What open items should bring in, per month."""
    return _rows_table(
        "rows",
        f"Forecast: {months} month(s) from {date_from.isoformat()}",
        (
            Column("month", "Month", "month"),
            Column("currency", "Currency"),
            Column("items", "Items", "int"),
            Column("amount", "Expected", "money"),
        ),
        rows,
    )


def recovery_table(rows: Sequence[RecoveryRow]) -> Table:
    """Of the items that had an off-session decline, what became of them."""
    return _rows_table(
        "rows",
        "Failed-payment recovery",
        (
            Column("currency", "Currency"),
            Column("failed_items", "Declined items", "int"),
            Column("recovered", "Recovered", "int"),
            Column("recovered_by_retry", "On retry", "counts", counts_format="#{key}: {count}"),
            Column("recovered_manually", "By hand", "int"),
            Column("defaulted", "Defaulted", "int"),
            Column("still_open", "Still open", "int"),
            Column("recovered_amount", "Recovered amount", "money"),
        ),
        rows,
    )
