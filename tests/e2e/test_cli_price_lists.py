"""``enrollpay plan preview --product --currency``: a product's explicit price in a currency."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from enrollpay import Installments, Money, PaymentSystem
from enrollpay.cli import cli
from enrollpay.storage.sql import SqlStore


def run(*args: str) -> Result:
    """Invoke the command line in-process, as the console script would."""
    return CliRunner().invoke(
        cli, list(args), prog_name="enrollpay", env={"ENROLLPAY_DATABASE_URL": ""}
    )


def rows(result: Result) -> list[list[str]]:
    """The output's lines split on whitespace."""
    return [line.split() for line in result.stdout.splitlines()]


@pytest.fixture
def url(tmp_path: Path) -> str:
    """A SQLite database with prod_1: 300.00 USD, 270.00 EUR."""
    url = f"sqlite:///{tmp_path / 'school.db'}"
    store = SqlStore.from_url(url)
    try:
        PaymentSystem(store=store, ids=lambda prefix: f"{prefix}_1").register_product(
            product_type="course",
            product_id="c-1",
            name="Course",
            price=Money.of("300.00", "USD"),
            prices=[Money.of("270.00", "EUR")],
            payment_plan=Installments(3),
        )
    finally:
        store.close()
    return url


def test_preview_reads_the_products_price_in_the_currency(url: str) -> None:
    """EUR: 270.00 in three payments of 90.00; USD: 300.00."""
    result = run(
        "plan", "preview", "--product", "prod_1", "--currency", "eur", "--plan",
        "installments=3", "--start", "2027-03-15", "--url", url,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "€270.00 from 2027-03-15" in result.stdout.splitlines()[0]
    listed = rows(result)
    assert ["1", "installment", "2027-03-15", "€90.00"] in listed
    assert ["Total", "€270.00"] in listed
    dollars = run(
        "plan", "preview", "--product", "prod_1", "--currency", "USD", "--plan", "full",
        "--url", url,
    )  # fmt: skip
    assert dollars.exit_code == 0, dollars.output
    assert ["Total", "$300.00"] in rows(dollars)


def test_preview_without_a_price_needs_a_product_with_a_price_in_the_currency(url: str) -> None:
    """No --price and no product, an unknown product, a currency not offered: usage errors."""
    base = ("plan", "preview", "--currency", "GBP", "--plan", "full")
    cases = [
        (base, "give --price, or --product and --url"),
        ((*base, "--product", "prod_1"), "give --price, or --product and --url"),
        ((*base, "--product", "prod_9", "--url", url), "product 'prod_9' not found"),
        ((*base, "--product", "prod_1", "--url", url), "offered in USD, EUR"),
    ]
    for args, message in cases:
        result = run(*args)
        assert result.exit_code == 2, result.output
        assert message in result.output
