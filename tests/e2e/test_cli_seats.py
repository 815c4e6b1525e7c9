"""``enrollpay seats`` through click's runner, on a SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from enrollpay import FullPayment, Money, PaymentSystem
from enrollpay.cli import cli
from enrollpay.storage.sql import SqlStore


def run(*args: str) -> Result:
    """Invoke the command line in-process, as the console script would."""
    return CliRunner().invoke(cli, list(args), prog_name="enrollpay", catch_exceptions=False)


@contextmanager
def system_at(url: str) -> Iterator[PaymentSystem]:
    """The host application's system on the same database."""
    store = SqlStore.from_url(url)
    try:
        yield PaymentSystem(store=store)
    finally:
        store.close()


@pytest.fixture
def url(tmp_path: Path) -> str:
    """A migrated SQLite database with one program, prod id in ``PRODUCT``."""
    url = f"sqlite:///{tmp_path / 'school.db'}"
    assert run("db", "upgrade", "--url", url).exit_code == 0
    return url


def a_program(url: str) -> str:
    """Register a 100.00 USD program and return its id."""
    with system_at(url) as system:
        return system.register_product(
            product_type="program",
            product_id="cohort",
            name="Cohort",
            price=Money.of("100.00", "USD"),
            payment_plan=FullPayment(),
        ).id


def test_a_limit_is_set_shown_and_the_waitlist_listed_in_order(url: str) -> None:
    """Limit 1, one enrolled, two waiting: the counts line and the line in join order."""
    product = a_program(url)
    before = run("seats", "show", product, "--url", url)
    assert f"Seats of {product}: no seat limit: 0 held, 0 reserved, 0 offered" in before.stdout

    set_it = run("seats", "limit", product, "1", "--actor", "admin:ana", "--url", url)
    assert set_it.stdout.strip() == (
        f"Seats of {product}: limit 1: 0 held, 0 reserved, 0 offered, 1 free"
    )
    with system_at(url) as system:
        system.enroll(user_id="u-1", product_id=product)
        first = system.join_waitlist("u-2", product)
        second = system.join_waitlist("u-3", product)
        actors = [e.actor for e in system.audit_log(entity_id=product)]
    assert actors[-1] == "admin:ana"

    shown = run("seats", "show", product, "--url", url).stdout
    assert "limit 1: 0 held, 1 reserved, 0 offered, 0 free" in shown
    assert "2 on the waitlist" in shown
    lines = [line.split() for line in shown.splitlines()]
    listed = [line[:4] for line in lines if len(line) > 1 and line[1].startswith("wl_")]
    assert [(row[0], row[1], row[2]) for row in listed] == [
        ("1", first.id, "u-2"),
        ("2", second.id, "u-3"),
    ]

    raised = run("seats", "limit", product, "2", "--url", url)
    assert "limit 2: 0 held, 1 reserved, 1 offered, 0 free" in raised.stdout
    shown = run("seats", "show", product, "--url", url).stdout
    assert "offered" in [w for line in shown.splitlines() for w in line.split()]
    assert run("seats", "expire-offers", "--url", url).stdout.strip() == ("0 seat offer(s) expired")
    lifted = run("seats", "limit", product, "none", "--url", url)
    assert "no seat limit: 0 held, 1 reserved, 1 offered" in lifted.stdout


@pytest.mark.parametrize("bad", ["-1", "many", "1.5"])
def test_a_bad_limit_is_a_usage_error(url: str, bad: str) -> None:
    """Exit 2 naming LIMIT; the product keeps no limit."""
    product = a_program(url)
    # ("--": so that -1 is read as the argument, not an option.)
    result = CliRunner().invoke(cli, ["seats", "limit", "--url", url, "--", product, bad])
    assert result.exit_code == 2
    assert "LIMIT" in result.output
    with system_at(url) as system:
        assert system.get_product(product).seat_limit is None


def test_an_unknown_product_fails_with_one_line(url: str) -> None:
    """A product id the database does not hold: a one-line error, not a traceback."""
    result = CliRunner().invoke(cli, ["seats", "show", "prod_missing", "--url", url])
    assert result.exit_code != 0
    assert "prod_missing" in result.output
    assert "Traceback" not in result.output
