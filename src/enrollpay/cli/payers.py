"""``enrollpay payers``: add and list payers, and print a payer's statement.

A payer (a parent, an employer, a sponsor, or the student as ``self``)
pays for enrollments split with ``PaymentSystem.enroll(..., payers=...)``.
Amounts are printed per currency for the ``--locale`` given.
"""

from __future__ import annotations

from typing import cast

import click

from enrollpay.cli.params import currency_code, locale_option, url_option
from enrollpay.cli.render import output_console, titled_table
from enrollpay.cli.wiring import open_system
from enrollpay.domain.payers import PAYER_KINDS, PayerKind

__all__ = ["payers"]


@click.group()
def payers() -> None:
    """Payers who pay for students' enrollments: add, list, statement."""


@payers.command()
@url_option
@click.option("--kind", type=click.Choice(PAYER_KINDS), required=True, help="Who the payer is.")
@click.option("--name", required=True, help="The payer's name (on receipts).")
@click.option("--email", required=True, help="Where receipts and payment news go.")
@click.option("--id", "payer_id", help="The payer's id (default: a new one).")
@click.option("--customer", help="The payer's customer id at the gateway, if known.")
@click.option("--method", help="The customer's saved payment method id (needs --customer).")
@click.option("--actor", default="cli", show_default=True, help="Who is adding it (audited).")
def add(
    *,
    url: str,
    kind: str,
    name: str,
    email: str,
    payer_id: str | None,
    customer: str | None,
    method: str | None,
    actor: str,
) -> None:
    """Register a payer.

    \b
    Example:
      enrollpay payers add --kind employer --name "Acme Ltd" --email ap@acme.test \\
          --id acme --url sqlite:///enrollpay.db
    """  # noqa: D301 - click needs a real \b to keep a block verbatim
    if method is not None and customer is None:
        raise click.UsageError("--method needs --customer (a method belongs to a customer)")
    with open_system(url) as system:
        made = system.add_payer(
            kind=cast("PayerKind", kind),  # click.Choice checked it
            name=name,
            email=email,
            payer_id=payer_id,
            gateway_customer_id=customer,
            payment_method_id=method,
            actor=actor,
        )
    click.echo(f"Added payer {made.id}: {made.name} ({made.kind})")


@payers.command(name="list")
@url_option
def list_command(*, url: str) -> None:
    """Print every payer, with whether a payment method is saved for them.

    \b
    Example:
      enrollpay payers list --url sqlite:///enrollpay.db
    """  # noqa: D301 - click needs a real \b to keep a block verbatim
    with open_system(url) as system:
        found = system.list_payers()
    table = titled_table(f"{len(found)} payer(s)")
    for column in ("Id", "Kind", "Name", "Email", "Card saved"):
        table.add_column(column)
    for p in found:
        table.add_row(p.id, p.kind, p.name, p.email, "yes" if p.payment_method_id else "no")
    output_console().print(table)


@payers.command()
@url_option
@click.argument("payer_id")
@click.option("--currency", help="Only enrollments in this currency.")
@locale_option
def statement(*, url: str, payer_id: str, currency: str | None, locale: str) -> None:
    """Print every enrollment PAYER_ID pays for: paid, due and overdue, and the totals.

    \b
    Example:
      enrollpay payers statement acme --currency USD --url sqlite:///enrollpay.db
    """  # noqa: D301 - click needs a real \b to keep a block verbatim
    code = None if currency is None else currency_code(currency)
    with open_system(url) as system:
        found = system.payer_statement(payer_id, currency=code)
    table = titled_table(
        f"{found.payer.name} ({found.payer.id}): {len(found.enrollments)} enrollment(s) "
        f"as of {found.as_of.isoformat()}"
    )
    for column in ("Enrollment", "Student", "Status", "Paid", "Refunded", "Due", "Overdue"):
        table.add_column(column, justify="left" if column in ("Enrollment", "Student") else "right")
    for row in found.enrollments:
        t = row.totals
        table.add_row(
            row.enrollment_id, row.user_id, row.status,
            *(m.format(locale) for m in (t.paid, t.refunded, t.due, t.overdue)),
        )  # fmt: skip
    for t in found.totals:
        table.add_row(
            f"Total {t.currency}", "", "",
            *(m.format(locale) for m in (t.paid, t.refunded, t.due, t.overdue)),
        )  # fmt: skip
    output_console().print(table)
