"""``enrollpay demo``: the simulation of :mod:`enrollpay.cli.simulation`, printed.

Results go to standard output and depend only on the options, so two runs
with the same ``--seed`` print the same text. The progress bar and the
timing line go to standard error (the bar only on a terminal).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from enrollpay.cli.params import locale_option
from enrollpay.cli.render import TitledTable, output_console, rich_tables, titled_table
from enrollpay.cli.reporting import ReportName, build_report
from enrollpay.cli.simulation import DemoResult, DemoSettings, run_demo
from enrollpay.cli.wiring import CommandError, open_store
from enrollpay.domain.plans import describe_plan
from enrollpay.service.system import PaymentSystem

if TYPE_CHECKING:
    from enrollpay.storage.sql import SqlStore

__all__ = ["demo"]

#: The reports the demo prints, in order.
_REPORTS: tuple[ReportName, ...] = (
    "revenue",
    "status",
    "products",
    "aging",
    "forecast",
    "recovery",
)
_SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def _remove_database(path: Path) -> None:
    for suffix in _SQLITE_COMPANIONS:
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _catalogue(result: DemoResult, locale: str) -> TitledTable:
    system = result.system
    table = titled_table("The school's catalogue")
    table.add_column("Product")
    table.add_column("Type")
    table.add_column("Price", justify="right")
    table.add_column("Payment plan (chosen on enrollment)")
    for product in system.list_products():
        chosen = system.eligible_plans(product.id)[0]
        table.add_row(
            Text(product.name),
            product.product_type,
            product.price.format(locale),
            describe_plan(chosen),
        )
    return table


def _story(result: DemoResult, locale: str) -> list[str]:
    """One line per notable event (plain lines: a long event is never wrapped)."""
    lines = []
    for line in result.story:
        text = line.text.format(**{k: v.format(locale) for k, v in line.amounts.items()})
        lines.append(f"  {line.on.isoformat()}  {line.student}  {text}")
    return lines


def _count(counts: Mapping[str, int], *keys: str) -> int:
    return sum(counts.get(key, 0) for key in keys)


def _activity(result: DemoResult) -> list[str]:
    c, w = result.collection, result.webhooks
    days = (result.end - result.start).days
    return [
        f"Off-session charges: {sum(c.values())} ({_count(c, 'succeeded')} paid, "
        f"{_count(c, 'failed')} declined and retried later, {_count(c, 'defaulted')} defaulted "
        f"after the last retry, {_count(c, 'requires_payment_method')} needed a new card).",
        f"Webhooks: {sum(w.values())} deliveries, every event twice and on "
        f"{result.reversed_days} of {days} days newest first: {_count(w, 'processed')} applied, "
        f"{_count(w, 'duplicate')} duplicates and {_count(w, 'stale')} stale events changed "
        f"nothing.",
    ]


def _simulate(settings: DemoSettings, store: SqlStore, console: Console) -> DemoResult:
    """Run the simulation with a progress bar over the months (on a terminal only)."""
    show = console.is_terminal and not console.is_dumb_terminal
    columns = (
        TextColumn("Simulating {task.fields[month]}"),
        BarColumn(),
        TextColumn("month {task.fields[index]}/{task.fields[months]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, disable=not show, transient=True) as progress:
        task = progress.add_task("demo", total=None, month="", index=0, months=settings.months)

        def on_day(done: int, total: int, today: date) -> None:
            index = min(done * settings.months // total + 1, settings.months)
            progress.update(
                task, total=total, completed=done, month=today.strftime("%Y-%m"), index=index
            )

        return run_demo(settings, store=store, on_day=on_day)


@click.command()
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default="enrollpay-demo.db",
    show_default=True,
    help="The SQLite file the demo writes (explore it afterwards with `enrollpay report`).",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same story.")
@click.option(
    "--students", type=click.IntRange(4, 1000), default=24, show_default=True, help="Cohort size."
)
@click.option(
    "--months",
    type=click.IntRange(2, 24),
    default=6,
    show_default=True,
    help="Simulated months, one collection run per simulated day.",
)
@locale_option
@click.option(
    "--fresh/--keep",
    default=True,
    show_default=True,
    help="--fresh deletes the database file first; --keep refuses to touch one with data.",
)
def demo(*, db_path: Path, seed: int, students: int, months: int, locale: str, fresh: bool) -> None:
    """Run a school for a few simulated months and print its reports.

    Registers four products (full payment, 20% deposit + installments,
    plain installments, a monthly subscription with a trial), enrolls a
    cohort, and runs collection every simulated day on an SQLite file with
    the fake gateway: cards decline and recover, one student is suspended
    after four declines and pays by bank transfer, one cancels with a
    prorated refund, and webhooks arrive twice and out of order. Then it
    prints revenue, status, product, aging, forecast and recovery reports
    and verifies the audit chain.

    \b
    Example:
      enrollpay demo --seed 7 --students 12 --months 4
    """  # noqa: D301 - click needs a real \b to keep a block verbatim
    url = f"sqlite:///{db_path}"
    if not db_path.parent.is_dir():
        raise CommandError(f"cannot create {db_path}: the folder {db_path.parent} does not exist")
    if fresh:
        _remove_database(db_path)
    elif db_path.exists():
        store = open_store(url)
        try:
            existing = len(PaymentSystem(store=store).list_enrollments())
        finally:
            store.close()
        if existing:
            raise CommandError(
                f"{db_path} already holds {existing} enrollments; run with --fresh to start "
                f"over, or read it: enrollpay report status --url {url}"
            )
    settings = DemoSettings(seed=seed, students=students, months=months)
    err = Console(stderr=True)
    started = time.perf_counter()
    store = open_store(url, must_exist=False)
    try:
        result = _simulate(settings, store, err)
        _print(result, settings, db_path, url, locale)
    finally:
        store.close()
    days = (result.end - result.start).days
    err.print(f"Simulated {days} days in {time.perf_counter() - started:.1f} s.", highlight=False)


def _print(
    result: DemoResult, settings: DemoSettings, db_path: Path, url: str, locale: str
) -> None:
    out = output_console()
    out.print(
        f"enrollpay demo: {result.students} students over {settings.months} months "
        f"({result.start.isoformat()} to {result.end.isoformat()}), seed {settings.seed}, "
        f"database {db_path}"
    )
    out.print()
    out.print(_catalogue(result, locale))
    out.print(Text("What happened", style="bold"))
    for line in _story(result, locale):
        out.print(line)
    out.print()
    for line in _activity(result):
        out.print(line)
    out.print()
    system = result.system
    for name in _REPORTS:
        report = build_report(system, name, months=6)
        for table in report.tables:
            out.print(*rich_tables(table, locale))
    verification = system.verify_audit_chain()
    if verification.ok:
        out.print(f"Audit chain intact: {verification.checked} entries verified.")
    else:  # pragma: no cover - would be a bug in the library
        out.print(
            f"Audit chain BROKEN at entry {verification.first_broken_seq}: {verification.reason}"
        )
    out.print()
    out.print(f"Explore the database: enrollpay report revenue --url {url}")
