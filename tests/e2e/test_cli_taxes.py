"""``enrollpay plan preview --tax``: each payment's net, tax and gross, and their totals."""

from __future__ import annotations

from click.testing import CliRunner

from enrollpay.cli import cli

from .test_cli import run


def test_plan_preview_with_tax_added_shows_net_tax_and_gross() -> None:
    """7.25% on 3 x 100.00 added on top: 7.25 tax a payment, 321.75 in all."""
    result = run(
        "plan", "preview", "--price", "300", "--currency", "USD", "--plan", "installments=3",
        "--start", "2027-03-15", "--tax", "us-ca=7.25%",
    )  # fmt: skip
    assert result.exit_code == 0
    rows = [line.split() for line in result.stdout.splitlines()]
    assert ["1", "installment", "2027-03-15", "$100.00", "$7.25", "$107.25"] in rows
    assert ["Total", "$300.00", "$21.75", "$321.75"] in rows
    assert "Tax US-CA 7.25%" in result.stdout


def test_plan_preview_with_tax_included_keeps_the_amounts() -> None:
    """119.00 including 19%: 100.00 net and 19.00 tax inside the same 119.00."""
    result = run(
        "plan", "preview", "--price", "119", "--currency", "EUR", "--plan", "full",
        "--start", "2027-03-15", "--tax", "DE=19", "--tax-mode", "inclusive",
    )  # fmt: skip
    assert result.exit_code == 0
    rows = [line.split() for line in result.stdout.splitlines()]
    assert ["1", "full", "2027-03-15", "€100.00", "€19.00", "€119.00"] in rows


def test_plan_preview_refuses_a_malformed_tax() -> None:
    """A rate that is not a percentage, or a place that is not a code, is a usage error."""
    for spec in ("US-CA=7.25x", "California=7%"):
        result = CliRunner().invoke(
            cli, ["plan", "preview", "--price", "1", "--currency", "USD", "--plan", "full",
                  "--tax", spec],
        )  # fmt: skip
        assert result.exit_code == 2
        assert "'--tax'" in result.output
