"""``enrollpay payers``: add, list and statement, in-process and in a real terminal."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from enrollpay import Installments, PaymentSystem
from enrollpay.cli import cli
from enrollpay.domain.money import Money
from enrollpay.domain.payers import PayerShare
from enrollpay.storage.sql import SqlStore

from .test_cli import ANSI, run_in_terminal


def run(*args: str) -> Result:
    """Invoke the command line in-process, as the console script would."""
    return CliRunner().invoke(cli, list(args), prog_name="enrollpay", catch_exceptions=False)


@pytest.fixture
def url(tmp_path: Path) -> str:
    """A migrated, empty SQLite database."""
    url = f"sqlite:///{tmp_path / 'school.db'}"
    assert run("db", "upgrade", "--url", url).exit_code == 0
    return url


def rows(result: Result) -> list[list[str]]:
    """The output's lines split on whitespace, table borders dropped."""
    cleaned = (line.replace("│", " ").replace("┃", " ") for line in result.stdout.splitlines())
    return [line.split() for line in cleaned]


def split_enrollment(url: str) -> str:
    """A 300.00 course on three installments, paid 70/30 by acme and mum; acme's first is paid."""
    store = SqlStore.from_url(url)
    try:
        system = PaymentSystem(store=store)
        product = system.register_product(
            product_type="course", product_id="c-1", name="Course",
            price=Money.of("300", "USD"), payment_plan=Installments(3),
        )  # fmt: skip
        result = system.enroll(
            user_id="stu",
            product_id=product.id,
            payers=[PayerShare("acme", 7000), PayerShare("mum", 3000)],
        )
        system.record_manual_payment(result.schedule[0].id, method="check", actor="admin")
        return result.enrollment_id
    finally:
        store.close()


def test_payers_are_added_listed_and_have_a_statement(url: str) -> None:
    """Two payers added; listed with whether a card is saved; acme's statement adds up."""
    added = run(
        "payers", "add", "--kind", "employer", "--name", "Acme Ltd", "--email", "ap@acme.test",
        "--id", "acme", "--customer", "cus_1", "--method", "pm_1", "--url", url,
    )  # fmt: skip
    assert added.exit_code == 0
    assert added.stdout.strip() == "Added payer acme: Acme Ltd (employer)"
    mum = run(
        "payers", "add", "--kind", "parent", "--name", "Maria", "--email", "m@home.test",
        "--id", "mum", "--url", url,
    )  # fmt: skip
    assert mum.exit_code == 0
    listed = rows(run("payers", "list", "--url", url))
    assert ["acme", "employer", "Acme", "Ltd", "ap@acme.test", "yes"] in listed
    assert ["mum", "parent", "Maria", "m@home.test", "no"] in listed
    enrollment_id = split_enrollment(url)
    shown = rows(run("payers", "statement", "acme", "--url", url))
    assert [enrollment_id, "stu", "active", "$70.00", "$0.00", "$140.00", "$0.00"] in shown
    assert ["Total", "USD", "$70.00", "$0.00", "$140.00", "$0.00"] in shown
    none = rows(run("payers", "statement", "acme", "--currency", "eur", "--url", url))
    assert not any(enrollment_id in row for row in none)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--kind", "uncle", "--name", "B", "--email", "b@x.test"), "'--kind'"),
        (("--kind", "parent", "--name", "B", "--email", "b@x.test", "--method", "pm"), "--method"),
        (("--kind", "parent", "--name", "B"), "--email"),
    ],
)
def test_bad_payers_are_usage_errors(url: str, args: tuple[str, ...], message: str) -> None:
    """A bad kind, a method without a customer, a missing e-mail: exit 2, nothing stored."""
    result = CliRunner().invoke(cli, ["payers", "add", *args, "--url", url], prog_name="enrollpay")
    assert result.exit_code == 2
    assert message in result.output
    assert rows(run("payers", "list", "--url", url))[0][:2] == ["0", "payer(s)"]


def test_a_bad_email_and_an_unknown_payer_are_refused(url: str) -> None:
    """The library's typed errors come out as one error line and a non-zero status."""
    bad = CliRunner().invoke(
        cli,
        ["payers", "add", "--kind", "parent", "--name", "B", "--email", "nope", "--url", url],
        prog_name="enrollpay",
    )
    assert bad.exit_code != 0
    assert "e-mail address" in bad.output
    missing = CliRunner().invoke(
        cli, ["payers", "statement", "ghost", "--url", url], prog_name="enrollpay"
    )
    assert missing.exit_code != 0
    assert "ghost" in missing.output


def test_a_statement_in_a_terminal_is_a_table(url: str, tmp_path: Path) -> None:
    """In a pseudo-terminal the statement is drawn as a rich table with the payer's name."""
    run("payers", "add", "--kind", "employer", "--name", "Acme Ltd", "--email", "a@x.test",
        "--id", "acme", "--url", url)  # fmt: skip
    run("payers", "add", "--kind", "parent", "--name", "Maria", "--email", "m@x.test",
        "--id", "mum", "--url", url)  # fmt: skip
    split_enrollment(url)
    status, shown = run_in_terminal("payers", "statement", "mum", "--url", url, cwd=tmp_path)
    assert status == 0, shown
    plain = ANSI.sub("", shown)
    assert "Maria (mum): 1 enrollment(s)" in plain
    assert "$90.00" in plain
