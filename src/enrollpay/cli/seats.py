"""``enrollpay seats``: a product's seats and waitlist; set its limit; expire lapsed offers."""

from __future__ import annotations

import click

from enrollpay.cli.params import url_option
from enrollpay.cli.render import output_console, titled_table
from enrollpay.cli.wiring import open_system
from enrollpay.service.seats import SeatsView

__all__ = ["describe_counts", "seats"]


def describe_counts(view: SeatsView) -> str:
    """One line: ``limit 30: 12 held, 3 reserved, 1 offered, 14 free`` (or no limit)."""
    c = view.counts
    taken = f"{c.held} held, {c.reserved} reserved, {c.offered} offered"
    if c.limit is None:
        return f"no seat limit: {taken}"
    return f"limit {c.limit}: {taken}, {c.free} free"


def _limit(text: str) -> int | None:
    """``none`` (no limit) or a whole number >= 0."""
    if text.strip().lower() == "none":
        return None
    if not text.strip().isdigit():
        raise click.BadParameter(f"{text!r} is not a whole number or 'none'", param_hint="LIMIT")
    return int(text)


@click.group()
def seats() -> None:
    """Seats of products with a seat limit: show them, set the limit, expire lapsed offers."""


@seats.command()
@url_option
@click.argument("product_id")
def show(*, url: str, product_id: str) -> None:
    """Print PRODUCT_ID's seat counts, its open offers and its waitlist in order.

    \b
    Example:
      enrollpay seats show prod_123 --url sqlite:///enrollpay.db
    """  # noqa: D301 - click needs a real \b to keep a block verbatim
    with open_system(url) as system:
        view = system.seats(product_id)
    click.echo(f"Seats of {product_id}: {describe_counts(view)}")
    table = titled_table(f"{len(view.waitlist)} on the waitlist")
    for name in ("#", "Entry", "Student", "Joined", "Status", "Offer expires"):
        table.add_column(name, justify="right" if name == "#" else "left")
    for place, entry in enumerate(view.waitlist, start=1):
        expires = entry.offer_expires_at
        table.add_row(
            str(place),
            entry.id,
            entry.user_id,
            entry.joined_at.isoformat(),
            str(entry.status),
            "" if expires is None else expires.isoformat(),
        )
    output_console().print(table)


@seats.command()
@url_option
@click.argument("product_id")
@click.argument("limit", metavar="LIMIT")
@click.option("--actor", default="cli", show_default=True, help="Who is setting it (audited).")
def limit(*, url: str, product_id: str, limit: str, actor: str) -> None:
    """Set PRODUCT_ID's seat LIMIT (a whole number, or 'none' to lift it).

    A raised limit offers the new seats to the waitlist at once; a lowered
    one takes no seat away.

    \b
    Example:
      enrollpay seats limit prod_123 30 --actor admin:ana --url sqlite:///enrollpay.db
    """  # noqa: D301 - click needs a real \b to keep a block verbatim
    value = _limit(limit)
    with open_system(url) as system:
        system.set_seat_limit(product_id, value, actor=actor)
        view = system.seats(product_id)
    click.echo(f"Seats of {product_id}: {describe_counts(view)}")


@seats.command(name="expire-offers")
@url_option
def expire_offers(*, url: str) -> None:
    """End every seat offer past its expiry and offer the seat to the next in line.

    ``enrollpay sweep`` does this too; this runs only that part.

    \b
    Example:
      enrollpay seats expire-offers --url sqlite:///enrollpay.db
    """  # noqa: D301 - click needs a real \b to keep a block verbatim
    with open_system(url) as system:
        ended = system.expire_seat_offers()
    click.echo(f"{len(ended)} seat offer(s) expired")
