"""``enrollpay report``: the library's reports as tables, CSV or JSON."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, Literal, get_args

import attrs
import click
from click.core import ParameterSource

from enrollpay.cli.params import date_option, locale_option, url_option
from enrollpay.cli.render import output_console, rich_tables, to_csv, to_json
from enrollpay.cli.tables import (
    Table,
    aging_table,
    enrollment_status_table,
    forecast_table,
    item_status_table,
    product_table,
    recovery_table,
    revenue_table,
)
from enrollpay.cli.wiring import open_system
from enrollpay.reports import Period
from enrollpay.service.system import PaymentSystem

__all__ = ["REPORTS", "ReportName", "ReportOutput", "build_report", "print_tables", "report"]

ReportName = Literal["revenue", "status", "products", "aging", "forecast", "recovery"]
REPORTS: tuple[ReportName, ...] = get_args(ReportName)

#: Options that only some reports take (option parameter -> reports).
_ONLY: Mapping[str, tuple[ReportName, ...]] = {
    "date_from": ("revenue", "forecast"),
    "date_to": ("revenue",),
    "by": ("revenue",),
    "as_of": ("aging",),
    "months": ("forecast",),
}


@attrs.frozen
class ReportOutput:
    """The tables of one report and the parameters it was run with."""

    name: ReportName
    tables: tuple[Table, ...]
    parameters: Mapping[str, Any] = attrs.field(hash=False)


def build_report(
    system: PaymentSystem,
    name: ReportName,
    *,
    by: Period = "month",
    date_from: date | None = None,
    date_to: date | None = None,
    as_of: date | None = None,
    months: int = 12,
) -> ReportOutput:
    """Run one report; dates default to the system's today."""
    if name == "revenue":
        rows = system.revenue_report(by=by, date_from=date_from, date_to=date_to)
        return ReportOutput(
            name, (revenue_table(rows, by=by),), {"by": by, "from": date_from, "to": date_to}
        )
    if name == "status":
        breakdown = system.status_report()
        return ReportOutput(
            name, (enrollment_status_table(breakdown), item_status_table(breakdown)), {}
        )
    if name == "products":
        return ReportOutput(name, (product_table(system.product_report()),), {})
    if name == "aging":
        day = as_of or system.today()
        return ReportOutput(
            name, (aging_table(system.aging_report(as_of=day), as_of=day),), {"as_of": day}
        )
    if name == "forecast":
        start = date_from or system.today()
        expected = system.forecast_report(date_from=start, months=months)
        return ReportOutput(
            name,
            (forecast_table(expected, date_from=start, months=months),),
            {"from": start, "months": months},
        )
    return ReportOutput(name, (recovery_table(system.recovery_report()),), {})


def print_tables(tables: tuple[Table, ...], locale: str) -> None:
    """Print tables for people, one after the other."""
    console = output_console()
    for table in tables:
        console.print(*rich_tables(table, locale))


def _check_applicable(ctx: click.Context, name: ReportName) -> None:
    for param, reports in _ONLY.items():
        source = ctx.get_parameter_source(param)
        if source in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT) and (
            name not in reports
        ):
            option = next(p for p in ctx.command.params if p.name == param).opts[0]
            which = " and ".join(reports) + (" reports" if len(reports) > 1 else " report")
            raise click.UsageError(f"{option} applies only to the {which}, not to {name}", ctx)


@click.command()
@click.argument("name", metavar="REPORT", type=click.Choice(REPORTS))
@url_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="table for people (amounts formatted for --locale); csv and json carry exact amounts.",
)
@date_option("--from", "date_from", help_text="revenue: first day; forecast: start date.")
@date_option("--to", "date_to", help_text="revenue: last day (inclusive).")
@click.option(
    "--by",
    type=click.Choice(get_args(Period)),
    default="month",
    show_default=True,
    help="revenue: the period of each row.",
)
@date_option("--as-of", "as_of", help_text="aging: the day overdue is counted from.")
@click.option(
    "--months",
    type=click.IntRange(1, 120),
    default=12,
    show_default=True,
    help="forecast: how many months.",
)
@locale_option
@click.pass_context
def report(
    ctx: click.Context,
    /,
    *,
    name: ReportName,
    url: str,
    fmt: str,
    date_from: date | None,
    date_to: date | None,
    by: Period,
    as_of: date | None,
    months: int,
    locale: str,
) -> None:
    """Print a report: revenue, status, products, aging, forecast or recovery.

    \b
    revenue   gross, refunded and net money per day, week or month
    status    enrollments by status; schedule items by status and currency
    products  enrollments, outcomes, revenue, refund and default rates per
              product and currency
    aging     overdue amounts in 1-30, 31-60, 61-90 and 90+ day buckets
    forecast  amounts scheduled to come in, per month
    recovery  of the declined payments, how many were recovered, and how

    Amounts are never added across currencies: each currency has its own rows.
    Dates default to today (UTC).

    \b
    Examples:
      enrollpay report revenue --url sqlite:///enrollpay.db --from 2027-01-01 --by week
      enrollpay report aging --url sqlite:///enrollpay.db --as-of 2027-06-30 --format csv
    """  # noqa: D301 - click needs a real \b to keep a block verbatim
    _check_applicable(ctx, name)
    if date_from is not None and date_to is not None and date_from > date_to:
        raise click.UsageError(f"--from {date_from} is after --to {date_to}", ctx)
    with open_system(url) as system:
        output = build_report(
            system,
            name,
            by=by,
            date_from=date_from,
            date_to=date_to,
            as_of=as_of,
            months=months,
        )
    if fmt == "json":
        click.echo(to_json(output.name, output.tables, output.parameters), nl=False)
    elif fmt == "csv":
        click.echo(to_csv(output.tables), nl=False)
    else:
        print_tables(output.tables, locale)
