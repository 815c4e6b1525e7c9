"""What cron, workers and deploys run: ``db upgrade``, ``collect``, ``reconcile``, ``audit``.

``collect`` and ``reconcile`` print summary lines (``key=value`` pairs,
easy to grep in cron mail); on a terminal ``collect`` also shows a progress
bar. ``collect`` exits with status 1 when something needs attention;
``reconcile`` with 1 when it fixed drift and 2 when drift needs a person
(see :mod:`enrollpay.cli.drift`).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from enrollpay.audit import AuditAnchor
from enrollpay.cli.drift import drift_table, exit_status, report_json
from enrollpay.cli.params import gateway_option, locale_option, url_option
from enrollpay.cli.render import output_console, rich_tables
from enrollpay.cli.wiring import (
    GatewayName,
    MissingExtraError,
    NoDatabaseError,
    open_system,
    redact,
    sqlite_path,
)
from enrollpay.service.results import CollectionReport, ItemOutcome
from enrollpay.service.system import PaymentSystem

__all__ = ["ATTENTION", "audit", "collect", "db", "reconcile", "sweep"]

#: Exit status when the command ran but something needs a person's attention.
ATTENTION = 1


@click.group()
def db() -> None:
    """Manage enrollpay's tables in your database."""


@db.command()
@url_option
def upgrade(url: str) -> None:
    """Create enrollpay's tables, or upgrade them to the latest schema.

    Safe to run on every deploy: an up-to-date schema is left alone, and
    concurrent runs wait for each other. Run it before starting workers on
    PostgreSQL (SQLite databases are also upgraded when they are opened).

    \b
    Example:
      enrollpay db upgrade --url postgresql+psycopg://app@db/school
    """  # noqa: D301 - click needs a real \b to keep a block verbatim
    try:
        from enrollpay.storage.sql import migrate  # noqa: PLC0415 - optional extra
    except ImportError as exc:
        raise MissingExtraError(
            f"the SQL store needs the 'sql' extra: pip install 'enrollpay[sql]' ({exc})"
        ) from None
    path = sqlite_path(url)
    if path is not None and not path.parent.is_dir():
        raise NoDatabaseError(f"cannot create {path}: the folder {path.parent} does not exist")
    migrate(url)
    click.echo(f"Schema of {redact(url)} is up to date.")


def _tally(counts: Counter[str]) -> str:
    declined = counts["failed"] + counts["defaulted"] + counts["requires_payment_method"]
    return (
        f"{counts['succeeded']} paid, {declined} declined, "
        f"{counts['requires_action']} need action, {counts['unknown']} unknown"
    )


def _collect_with_progress(
    system: PaymentSystem, limit: int | None, console: Console
) -> CollectionReport:
    columns = (
        SpinnerColumn(),
        TextColumn("Collecting"),
        BarColumn(),
        TextColumn("{task.completed:.0f} item(s): {task.fields[tally]}"),
        TimeElapsedColumn(),
    )
    counts: Counter[str] = Counter()
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("collect", total=limit, tally=_tally(counts))

        def on_item(outcome: ItemOutcome) -> None:
            counts[outcome.result] += 1
            progress.update(task, advance=1, tally=_tally(counts))

        report = system.collect_due(limit=limit, progress=on_item)
        # The total is unknown up front; close the bar at what was done.
        progress.update(task, total=len(report.outcomes), completed=len(report.outcomes))
    return report


@click.command()
@url_option
@gateway_option
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    help="Charge at most this many items in this run (the rest wait for the next run).",
)
@click.pass_context
def collect(ctx: click.Context, /, *, url: str, gateway: GatewayName, limit: int | None) -> None:
    """Charge every installment that is due now, retries included.

    What cron or a worker loop runs, for example every hour. Any number of
    workers may run it at once against one PostgreSQL database: each item
    is claimed by one of them. Prints one summary line (and a progress bar
    on a terminal). Exit status 1 when something needs attention: a
    decline, a customer who must authenticate, or an outcome that
    `enrollpay reconcile` must resolve.

    \b
    Example:
      enrollpay collect --url sqlite:///enrollpay.db --gateway stripe
    """  # noqa: D301 - click needs a real \b to keep a block verbatim
    progress_console = Console(stderr=True)
    with open_system(url, gateway) as system:
        if progress_console.is_terminal and not progress_console.is_dumb_terminal:
            report = _collect_with_progress(system, limit, progress_console)
        else:
            report = system.collect_due(limit=limit)
    swept = report.sweep
    if swept is not None and (swept.items_overdue or swept.changed or swept.items_reminded):
        click.echo(f"sweep: {swept.summary()}")
    click.echo(report.summary())
    if report.needs_attention:
        ctx.exit(ATTENTION)


@click.command()
@url_option
def sweep(url: str) -> None:
    """Let the calendar move statuses: overdue items, past_due and suspended access.

    An unpaid item more than the grace days past its due date is marked
    overdue (once), whether or not it was ever charged, and its enrollment
    becomes past_due, then suspended after the policy's days. Needs no
    gateway (a school that takes bank transfers only runs this alone);
    `collect` runs it first anyway. Safe to run as often as you like.

    \b
    Example:
      enrollpay sweep --url sqlite:///enrollpay.db
    """  # noqa: D301 - click needs a real \b to keep a block verbatim
    with open_system(url) as system:
        report = system.sweep()
    click.echo(report.summary())


@click.command()
@url_option
@gateway_option
@locale_option
@click.option("--json", "as_json", is_flag=True, help="Print the whole run as JSON.")
@click.pass_context
def reconcile(
    ctx: click.Context, /, *, url: str, gateway: GatewayName, locale: str, as_json: bool
) -> None:
    """Resolve unknown outcomes, finish pending refunds, and re-sync drift with the gateway.

    A charge that timed out is looked up at the gateway by its idempotency
    key: applied if it went through, sent again with the same key by the
    next `collect` if it never arrived. Then the payments and refunds the
    gateway made since the last run (less an hour of overlap) are compared
    with the database: a payment or refund whose webhook was lost (a refund
    made in the dashboard) is applied as the webhook would have; an amount
    that differs or an object that matches nothing is listed for a person,
    never guessed. Cheap enough to run hourly, after `collect`.

    \b
    Exit status: 0 in sync; 1 drift fixed (or outcomes still unknown, or
    the gateway cut a listing short); 2 drift that needs a person, or a
    refund the gateway refused.

    \b
    Example:
      enrollpay reconcile --url sqlite:///enrollpay.db --gateway stripe --json
    """  # noqa: D301 - click needs a real \b to keep a block verbatim
    with open_system(url, gateway) as system:
        result = system.reconcile()
    if as_json:
        click.echo(report_json(result), nl=False)
    else:
        click.echo(result.summary())
        click.echo(result.drift.summary() if result.drift.listed else "drift: not listed")
        if result.drift.entries:
            output_console().print(*rich_tables(drift_table(result), locale))
    ctx.exit(exit_status(result))


@click.group()
def audit() -> None:
    """The tamper-evident audit trail."""


@audit.command()
@url_option
@click.option(
    "--anchor",
    "anchor_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="An anchor written by `audit anchor`: also catch deleted or rewritten entries.",
)
@click.pass_context
def verify(ctx: click.Context, /, *, url: str, anchor_file: Path | None) -> None:
    """Check every link of the SHA-256 audit chain, and print its head.

    Exit status 1, naming the first broken entry, if any entry was changed,
    removed or reordered. The chain alone cannot show entries deleted from
    its end; with --anchor (a head saved earlier by `audit anchor`) those
    are found too, and so is a chain rewritten with fresh hashes.

    \b
    Example:
      enrollpay audit verify --url sqlite:///enrollpay.db --anchor anchor.json
    """  # noqa: D301 - click needs a real \b to keep a block verbatim
    anchor = None if anchor_file is None else AuditAnchor.from_json(anchor_file.read_bytes())
    with open_system(url) as system:
        result = system.verify_audit_chain(anchor=anchor)
        broken = (
            None
            if result.ok
            else next((e for e in system.audit_log() if e.seq == result.first_broken_seq), None)
        )
    if result.ok:
        click.echo(f"Audit chain intact: {result.checked} entries verified.")
        click.echo(f"Head: {result.checked} entries, hash {result.head_hash}")
        if anchor is not None:
            click.echo(f"Anchor reached: entry {anchor.count} still has hash {anchor.hash}")
        return
    where = f"entry {result.first_broken_seq}"
    if broken is not None:
        where += (
            f" ({broken.action} on {broken.entity_type} {broken.entity_id}, "
            f"{broken.at.isoformat()})"
        )
    seq = result.first_broken_seq or 0
    # Link failures come with the intact entries before them; an anchor
    # mismatch may be found after every link checked out.
    intact = f"; the {result.checked} entries before it are intact" if result.checked < seq else ""
    click.echo(f"Audit chain BROKEN at {where}: {result.reason}{intact}.")
    ctx.exit(ATTENTION)


@audit.command()
@url_option
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write the anchor to this file (default: standard output).",
)
@click.pass_context
def anchor(ctx: click.Context, /, *, url: str, out: Path | None) -> None:
    """Write the audit chain's head (entry count and hash) as JSON.

    Keep it where whoever can write the database cannot (another machine,
    a write-once bucket, the deploy log); `audit verify --anchor FILE`
    then proves no entry up to it was deleted or rewritten. Refused, with
    exit status 1, when the chain is already broken.

    \b
    Example:
      enrollpay audit anchor --url sqlite:///enrollpay.db --out anchor.json
    """  # noqa: D301 - click needs a real \b to keep a block verbatim
    with open_system(url) as system:
        result = system.verify_audit_chain()
    head = result.anchor
    if head is None:
        click.echo(
            f"Audit chain BROKEN at entry {result.first_broken_seq}: {result.reason}; not anchored."
        )
        ctx.exit(ATTENTION)
    if out is None:
        click.echo(head.to_json())
        return
    out.write_text(head.to_json() + "\n", encoding="utf-8")
    click.echo(f"Anchored {head.count} entries (head hash {head.hash}) in {out}.")
