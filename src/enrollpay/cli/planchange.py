"""``enrollpay plan change``: move an enrollment's remaining balance to another plan.

Prints the diff (what was due, what is due now) as two tables and the
balance before and after; with ``--preview`` nothing is written.
"""

from __future__ import annotations

from datetime import date

import click
from rich.text import Text

from enrollpay.cli.params import date_option, gateway_option, locale_option, url_option
from enrollpay.cli.render import TitledTable, output_console, titled_table
from enrollpay.cli.wiring import GatewayName, open_system
from enrollpay.domain.money import Money
from enrollpay.domain.plan_change import DiffLine, PlanChange
from enrollpay.domain.plans import describe_plan, parse_plan
from enrollpay.errors import InvalidInputError

__all__ = ["change", "render_change"]


def _diff_table(title: str, lines: tuple[DiffLine, ...], currency: str, locale: str) -> TitledTable:
    total = Money(sum(line.amount.minor for line in lines), currency)
    table = titled_table(title, show_footer=True)
    table.add_column("#", justify="right", footer="")
    table.add_column("Due", footer="Total")
    table.add_column("Amount", justify="right", footer=Text(total.format(locale)))
    for line in lines:
        table.add_row(str(line.seq), line.due.isoformat(), line.amount.format(locale))
    return table


def render_change(result: PlanChange, *, locale: str, preview: bool) -> None:
    """Print the change: the plans, the two sides of the diff, and the totals owed."""
    console = output_console()
    currency = result.owed_before.currency
    verb = "Would move" if preview else "Moved"
    console.print(
        f"{verb} enrollment {result.enrollment_id} from {describe_plan(result.plan_before)} "
        f"to {describe_plan(result.plan_after)} from {result.anchor.isoformat()}"
    )
    console.print(
        _diff_table(
            f"What was due (schedule version {result.old_version})",
            result.was_due,
            currency,
            locale,
        )
    )
    console.print(
        _diff_table(
            f"What is due now (schedule version {result.new_version})",
            result.due_now,
            currency,
            locale,
        )
    )
    note = " (the new plan's deposit is not charged again)" if result.deposit_dropped else ""
    console.print(
        f"Owed before {result.owed_before.format(locale)}, "
        f"after {result.owed_after.format(locale)}{note}"
    )
    if preview:
        console.print("Preview only: nothing was written.")


@click.command()
@click.argument("enrollment_id")
@click.argument("spec", metavar="PLAN_SPEC")
@url_option
@gateway_option
@date_option("--at", help_text="The day the new plan starts (default: today).")
@click.option("--preview", is_flag=True, help="Show the diff and write nothing.")
@click.option("--actor", default="cli", show_default=True, help="Who changes it (audited).")
@locale_option
def change(
    *,
    enrollment_id: str,
    spec: str,
    url: str,
    gateway: GatewayName,
    at: date | None,
    preview: bool,
    actor: str,
    locale: str,
) -> None:
    """Move an active enrollment's remaining balance to another plan its product offers.

    PLAN_SPEC is written as for ``plan preview`` ("full" pays the rest in
    one payment today; "installments=6"; "deposit=20%,installments=4"), in
    the enrollment's currency. The open items are replaced by a new schedule
    version; the total owed does not change. A payment still under way
    refuses the change until it settles.

    \b
    Examples:
      enrollpay plan change enr_123 "installments=6" --preview --url sqlite:///enrollpay.db
      enrollpay plan change enr_123 full --url sqlite:///enrollpay.db
    """  # noqa: D301 - click needs a real \b to keep a block verbatim
    with open_system(url, gateway) as system:
        enrollment = system.get_enrollment(enrollment_id)
        try:
            plan = parse_plan(spec, enrollment.price.currency)
        except InvalidInputError as exc:
            raise click.BadParameter(str(exc), param_hint="'PLAN_SPEC'") from None
        if preview:
            result = system.preview_plan_change(enrollment_id, plan, at=at)
        else:
            result = system.change_plan(enrollment_id, plan, at=at, actor=actor).change
    render_change(result, locale=locale, preview=preview)
