"""``enrollpay coupons``: list, create and deactivate coupons in the database.

Percentages are read as text (``25``, ``12.5``) and kept in basis points,
amounts as text in major units per currency (``--amount-off 10.00
--currency USD``): no float is ever made.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

import click

from enrollpay.cli.params import currency_code, date_option, locale_option, money, url_option
from enrollpay.cli.render import output_console, titled_table
from enrollpay.cli.wiring import open_system
from enrollpay.domain.discounts import BASIS_POINTS, Coupon

__all__ = ["coupons", "describe_coupon", "percent_to_basis_points"]


def percent_to_basis_points(text: str, option: str = "--percent-off") -> int:
    """``"12.5"`` (percent) as 1250 basis points; more than two decimals is a usage error."""
    try:
        scaled = Decimal(text.strip().rstrip("%")) * 100
    except InvalidOperation:
        raise click.BadParameter(
            f"{text!r} is not a percentage", param_hint=f"'{option}'"
        ) from None
    if (
        not scaled.is_finite()
        or scaled != scaled.to_integral_value()
        or not 0 < scaled <= BASIS_POINTS
    ):
        raise click.BadParameter(
            f"{text!r} must be above 0 and at most 100, with at most two decimals",
            param_hint=f"'{option}'",
        )
    return int(scaled)


def describe_coupon(coupon: Coupon, locale: str = "en_US") -> str:
    """What a coupon takes off: ``"25%"`` or ``"10.00 USD / 9.00 EUR"``."""
    if coupon.percent_off is not None:
        return f"{Decimal(coupon.percent_off) / 100:f}%".replace(".00%", "%")
    return " / ".join(amount.format(locale) for amount in coupon.amounts_off)


@click.group()
def coupons() -> None:
    """Coupons students enter at checkout: list, create, deactivate."""


@coupons.command(name="list")
@url_option
@click.option("--active/--all", default=False, help="Only active coupons (default: every one).")
@locale_option
def list_command(*, url: str, active: bool, locale: str) -> None:
    """Print every coupon with what it takes off, its limits and how often it was redeemed.

    \b
    Example:
      enrollpay coupons list --active --url sqlite:///enrollpay.db
    """  # noqa: D301 - click needs a real \b to keep a block verbatim
    with open_system(url) as system:
        found = system.list_coupons(active=True if active else None)
    table = titled_table(f"{len(found)} coupon(s)")
    for name in ("Code", "Off", "Redeemed", "Expires", "Restricted to", "Active"):
        table.add_column(name, justify="right" if name == "Redeemed" else "left")
    for c in found:
        cap = "" if c.max_redemptions is None else f" of {c.max_redemptions}"
        limits = sorted(c.product_ids or ()) + sorted(c.plan_kinds or ())
        table.add_row(
            c.code,
            describe_coupon(c, locale),
            f"{c.redeemed}{cap}",
            "" if c.expires_at is None else c.expires_at.isoformat(),
            ", ".join(limits) or "anything",
            "yes" if c.active else "no",
        )
    output_console().print(table)


@coupons.command()
@url_option
@click.argument("code")
@click.option("--percent-off", metavar="PERCENT", help="A percentage off, such as 25 or 12.5.")
@click.option(
    "--amount-off",
    metavar="AMOUNT",
    multiple=True,
    help="A fixed amount off in major units; repeat with one --currency each.",
)
@click.option("--currency", "currencies", multiple=True, help="The currency of each --amount-off.")
@click.option("--max-redemptions", type=click.IntRange(min=1), help="Redemptions allowed in all.")
@date_option("--expires", help_text="The last day (UTC) the coupon applies.")
@click.option("--product", "products", multiple=True, help="Only for this product id (repeatable).")
@click.option(
    "--plan-kind",
    "plan_kinds",
    multiple=True,
    type=click.Choice(["full", "installments"]),
    help="Only for this kind of plan (repeatable).",
)
@click.option(
    "--reusable", is_flag=True, help="A student may redeem it more than once (default: once)."
)
@click.option("--actor", default="cli", show_default=True, help="Who is creating it (audited).")
def create(
    *,
    url: str,
    code: str,
    percent_off: str | None,
    amount_off: tuple[str, ...],
    currencies: tuple[str, ...],
    max_redemptions: int | None,
    expires: date | None,
    products: tuple[str, ...],
    plan_kinds: tuple[str, ...],
    reusable: bool,
    actor: str,
) -> None:
    """Register coupon CODE, taking off a percentage or fixed amounts.

    \b
    Examples:
      enrollpay coupons create SPRING25 --percent-off 25 --max-redemptions 100
      enrollpay coupons create TENOFF --amount-off 10.00 --currency USD \\
          --amount-off 9.00 --currency EUR --expires 2027-06-30
    """  # noqa: D301 - click needs a real \b to keep a block verbatim
    if (percent_off is None) == (not amount_off):
        raise click.UsageError("give either --percent-off or --amount-off")
    if len(amount_off) != len(currencies):
        raise click.UsageError("give one --currency for each --amount-off")
    amounts = [
        money(a, currency_code(c), "--amount-off")
        for a, c in zip(amount_off, currencies, strict=True)
    ]
    coupon = Coupon(
        code,
        percent_off=None if percent_off is None else percent_to_basis_points(percent_off),
        amounts_off=amounts,
        expires_at=None
        if expires is None
        else datetime.combine(expires + timedelta(days=1), time(), tzinfo=UTC),
        max_redemptions=max_redemptions,
        once_per_student=not reusable,
        product_ids=products or None,
        plan_kinds=plan_kinds or None,
    )
    with open_system(url) as system:
        made = system.create_coupon(coupon, actor=actor)
    click.echo(f"Created coupon {made.code}: {describe_coupon(made)} off")


@coupons.command()
@url_option
@click.argument("code")
@click.option("--actor", default="cli", show_default=True, help="Who is deactivating it (audited).")
def deactivate(*, url: str, code: str, actor: str) -> None:
    """Stop coupon CODE applying to new enrollments (enrollments that used it keep it).

    \b
    Example:
      enrollpay coupons deactivate SPRING25 --actor admin:ana --url sqlite:///enrollpay.db
    """  # noqa: D301 - click needs a real \b to keep a block verbatim
    with open_system(url) as system:
        coupon = system.deactivate_coupon(code, actor=actor)
    click.echo(f"Deactivated coupon {coupon.code} after {coupon.redeemed} redemption(s)")
