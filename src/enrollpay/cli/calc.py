"""Calculators on the pure core: ``plan preview`` and ``refund quote`` (no database)."""

from __future__ import annotations

from datetime import date, datetime

import click
from rich.text import Text

from enrollpay.cli.params import currency_code, date_option, locale_option, money
from enrollpay.cli.render import output_console, titled_table
from enrollpay.cli.wiring import open_system
from enrollpay.clock import SystemClock
from enrollpay.domain.discount_spread import discounted_schedule
from enrollpay.domain.discounts import AppliedDiscount, apply_discounts, normalise_code
from enrollpay.domain.money import Money
from enrollpay.domain.plans import PaymentPlan, Subscription, describe_plan, parse_plan
from enrollpay.domain.price_lists import price_in
from enrollpay.domain.refunds import RefundPolicy, quote_refund
from enrollpay.domain.schedule import build_schedule
from enrollpay.errors import InvalidInputError, NotFoundError
from enrollpay.errors_prices import CurrencyNotOffered

__all__ = ["discount_with", "plan", "product_price", "refund"]


@click.group()
def plan() -> None:
    """Payment plans: preview the schedule a plan gives a price."""


@plan.command()
@click.option(
    "--price",
    help="The price in major units, such as 299.99 (default: --product's price in --currency).",
)
@click.option("--currency", required=True, help="ISO 4217 code, such as USD, EUR or JPY.")
@click.option(
    "--plan",
    "spec",
    required=True,
    metavar="SPEC",
    help='"full"; "installments=N[,every=1 month][,deposit=20%|deposit=50.00]"; '
    '"subscription[,every=1 month][,amount=29][,cycles=N][,trial=DAYS]".',
)
@date_option("--start", help_text="The enrollment date (default: today, UTC).")
@click.option("--coupon", metavar="CODE", help="Apply this coupon (read from the database).")
@click.option(
    "--url",
    envvar="ENROLLPAY_DATABASE_URL",
    metavar="URL",
    help="The database holding --coupon (also ENROLLPAY_DATABASE_URL).",
)
@click.option(
    "--product",
    metavar="ID",
    help="The product (enrollpay id): for a coupon restricted to some; without --price, "
    "its explicit price in --currency (read from --url).",
)
@locale_option
def preview(
    *,
    price: str | None,
    currency: str,
    spec: str,
    start: date | None,
    coupon: str | None,
    url: str | None,
    product: str | None,
    locale: str,
) -> None:
    """Print the payment schedule of a plan: every due date and amount, and the total.

    Amounts always add up to the price exactly (the cents left over go to
    the first installments). An open-ended subscription shows its next 12
    periods. With ``--coupon`` the discounted price is spread over the
    payments pro rata, the leftover cents on the last ones. Without
    ``--price``, ``--product`` and ``--url`` give the product's explicit
    price in ``--currency`` (its price list; prices are never converted).

    \b
    Examples:
      enrollpay plan preview --price 299.99 --currency USD \\
          --plan "deposit=20%,installments=3,every=1 month" --start 2027-03-15
      enrollpay plan preview --price 1000 --currency USD --plan "installments=4" \\
          --coupon SPRING25 --url sqlite:///enrollpay.db
      enrollpay plan preview --product prod_1 --currency EUR --plan "installments=3" \\
          --url sqlite:///enrollpay.db
    """  # noqa: D301 - click needs a real \b to keep a block verbatim
    code = currency_code(currency)
    amount = (
        money(price, code, "--price") if price is not None else product_price(product, url, code)
    )
    try:
        chosen = parse_plan(spec, code)
    except InvalidInputError as exc:
        raise click.BadParameter(str(exc), param_hint="'--plan'") from None
    now = SystemClock().now()
    first = start or now.date()
    title = f"{describe_plan(chosen)}: {amount.format(locale)} from {first.isoformat()}"
    if coupon is None:
        lines = build_schedule(chosen, amount, first)
    else:
        applied = discount_with(coupon, url, amount, chosen, product=product, at=now)
        lines = discounted_schedule(chosen, applied, first)
        title += f", coupon {applied.coupon_code}: {applied.discount.format(locale)} off"
    total = Money(sum(line.amount.minor for line in lines), code)
    table = titled_table(title, show_footer=True)
    open_ended = isinstance(chosen, Subscription) and chosen.cycles is None
    table.add_column("#", justify="right", footer="")
    table.add_column("Kind", footer=f"Total of {len(lines)}" if open_ended else "Total")
    table.add_column("Due", footer="")
    table.add_column("Amount", justify="right", footer=Text(total.format(locale)))
    for line in lines:
        table.add_row(str(line.seq), line.kind, line.due.isoformat(), line.amount.format(locale))
    output_console().print(table)


def product_price(product: str | None, url: str | None, currency: str) -> Money:
    """The explicit price of ``product`` (in the database at ``url``) in ``currency``."""
    if product is None or url is None:
        raise click.UsageError("give --price, or --product and --url to read the product's price")
    with open_system(url) as system:
        try:
            found = system.get_product(product)
        except NotFoundError as exc:
            raise click.BadParameter(str(exc), param_hint="'--product'") from None
    try:
        return price_in(found, currency)
    except CurrencyNotOffered as exc:
        raise click.BadParameter(str(exc), param_hint="'--currency'") from None


def discount_with(
    code: str,
    url: str | None,
    price: Money,
    plan: PaymentPlan,
    *,
    product: str | None,
    at: datetime,
) -> AppliedDiscount:
    """Coupon ``code`` from the database at ``url``, applied to ``price`` on ``plan``."""
    if url is None:
        raise click.UsageError("--coupon is read from the database: give --url")
    key = normalise_code(code)
    with open_system(url) as system:
        found = next((c for c in system.list_coupons() if c.code == key), None)
    if found is None:
        raise click.BadParameter(f"no coupon {key!r} in the database", param_hint="'--coupon'")
    return apply_discounts(
        price,
        user_id="preview",
        product_ids=() if product is None else (product,),
        plan=plan,
        at=at,
        coupon=found,
    )


@click.group()
def refund() -> None:
    """Refunds: quote what a cancellation gives back, with the arithmetic."""


@refund.command()
@click.option("--price", required=True, help="The price of the enrollment, such as 1200.00.")
@click.option("--currency", required=True, help="ISO 4217 code.")
@click.option("--paid", required=True, help="What the student has paid so far.")
@date_option("--start", required=True, help_text="First day of the service.")
@date_option("--end", required=True, help_text="Day the service ends.")
@date_option("--cancelled-on", required=True, help_text="Day of the cancellation.")
@click.option(
    "--cooling-off-days",
    type=click.IntRange(min=0),
    default=14,
    show_default=True,
    help="Cancelling within this many days of the start refunds everything paid.",
)
@click.option(
    "--proration",
    type=click.Choice(["time", "none"]),
    default="time",
    show_default=True,
    help="time: keep what the elapsed days earned; none: keep everything after the window.",
)
@click.option(
    "--paused-days",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Days of service spent paused: not used, and the service ends that much later.",
)
@click.option("--non-refundable", metavar="AMOUNT", help="The least the school keeps.")
@click.option("--admin-fee", metavar="AMOUNT", help="A fee kept on top of what was earned.")
@locale_option
def quote(
    *,
    price: str,
    currency: str,
    paid: str,
    start: date,
    end: date,
    cancelled_on: date,
    cooling_off_days: int,
    proration: str,
    paused_days: int,
    non_refundable: str | None,
    admin_fee: str | None,
    locale: str,
) -> None:
    """Quote the refund of a cancellation, line by line.

    \b
    used_days = days from start to cancellation - paused days
    earned   = price * used_days / total_days   (rounded half up)
    retained = min(price, max(earned, non_refundable) + admin_fee)
    refund   = paid - retained, between 0 and paid

    \b
    Example:
      enrollpay refund quote --price 1200 --currency USD --paid 600 \\
          --start 2027-01-04 --end 2027-07-04 --cancelled-on 2027-02-20 --admin-fee 25
    """  # noqa: D301 - click needs a real \b to keep a block verbatim
    code = currency_code(currency)
    policy = RefundPolicy(
        cooling_off_days=cooling_off_days,
        proration="time" if proration == "time" else "none",
        non_refundable=None
        if non_refundable is None
        else money(non_refundable, code, "--non-refundable"),
        admin_fee=None if admin_fee is None else money(admin_fee, code, "--admin-fee"),
    )
    result = quote_refund(
        policy,
        price=money(price, code, "--price"),
        paid=money(paid, code, "--paid"),
        service_start=start,
        service_end=end,
        cancelled_on=cancelled_on,
        paused_days=paused_days,
    )
    basis = {
        "cooling_off": f"within the {cooling_off_days}-day cooling-off window",
        "no_proration": "no proration after the cooling-off window",
        "prorated": f"prorated: {result.used_days} of {result.total_days} days used",
    }[result.basis]
    table = titled_table(f"Refund quote ({basis})")
    table.add_column("Line")
    table.add_column("Amount", justify="right")
    last = len(result.lines) - 1
    for index, line in enumerate(result.lines):
        # A rule above the last line, the refund itself.
        table.add_row(Text(line.label), line.amount.format(locale), end_section=index == last - 1)
    output_console().print(table)
