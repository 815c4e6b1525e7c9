"""``enrollpay events``: list the outbox's domain events, or dispatch them as JSON lines.

``dispatch`` is the simplest consumer: each undelivered event is printed to
standard output as one JSON object a line and marked delivered once the
line is written, so a pipe (``enrollpay events dispatch | your-consumer``)
gets every event at least once, in order.
"""

from __future__ import annotations

import json
import sys

import click

from enrollpay.cli.params import url_option
from enrollpay.cli.wiring import open_system
from enrollpay.domain.events import DomainEvent

__all__ = ["events"]


def _line(event: DomainEvent) -> str:
    return json.dumps(event.to_json(), sort_keys=True, separators=(",", ":"))


@click.group()
def events() -> None:
    """Domain events (enrollment.activated, installment.paid, ...) from the outbox."""


_LIMIT = click.option(
    "--limit", type=click.IntRange(min=0), default=None, help="At most this many events."
)


@events.command(name="list")
@url_option
@_LIMIT
@click.option(
    "--pending/--all",
    default=False,
    help="Only the events not delivered yet (default: every event).",
)
def list_command(*, url: str, limit: int | None, pending: bool) -> None:
    """Print events as JSON lines, oldest first, without marking them delivered.

    \b
    Example:
      enrollpay events list --pending --url sqlite:///enrollpay.db
    """  # noqa: D301 - click needs a real \b to keep a block verbatim
    with open_system(url) as system:
        found = system.list_events(delivered=False if pending else None, limit=limit)
    for event in found:
        click.echo(_line(event))


@events.command()
@url_option
@_LIMIT
def dispatch(*, url: str, limit: int | None) -> None:
    """Print undelivered events as JSON lines and mark each delivered once written.

    Prints nothing when another dispatcher is running (one at a time keeps
    the order). The count goes to standard error.

    \b
    Example:
      enrollpay events dispatch --url sqlite:///enrollpay.db >> events.jsonl
    """  # noqa: D301 - click needs a real \b to keep a block verbatim

    def write(event: DomainEvent) -> None:
        sys.stdout.write(_line(event) + "\n")
        sys.stdout.flush()  # written before it is marked delivered

    with open_system(url) as system:
        count = system.dispatch_events(write, limit=limit)
    click.echo(f"{count} event(s) dispatched", err=True)
