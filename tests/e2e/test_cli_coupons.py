"""``enrollpay coupons`` and ``enrollpay plan preview --coupon`` through click's runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from enrollpay.cli import cli
from enrollpay.storage.sql import SqlStore


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
    """The output's lines split on whitespace."""
    return [line.split() for line in result.stdout.splitlines()]


def test_coupons_are_created_listed_and_deactivated(url: str) -> None:
    """A percent and a two-currency coupon are stored, listed with their limits, switched off."""
    made = run(
        "coupons",
        "create",
        "spring25",
        "--percent-off",
        "12.5",
        "--max-redemptions",
        "100",
        "--url",
        url,
    )
    assert made.exit_code == 0
    assert made.stdout.strip() == "Created coupon SPRING25: 12.5% off"
    other = run(
        "coupons", "create", "TENOFF", "--amount-off", "10.00", "--currency", "USD",
        "--amount-off", "9", "--currency", "EUR", "--plan-kind", "installments",
        "--expires", "2027-06-30", "--reusable", "--url", url,
    )  # fmt: skip
    assert other.exit_code == 0
    listed = rows(run("coupons", "list", "--url", url))
    assert ["SPRING25", "12.5%", "0", "of", "100", "anything", "yes"] in listed
    assert [
        "TENOFF", "$10.00", "/", "€9.00", "0", "2027-07-01T00:00:00+00:00", "installments", "yes"
    ] in listed  # fmt: skip
    off = run("coupons", "deactivate", "spring25", "--url", url)
    assert off.stdout.strip() == "Deactivated coupon SPRING25 after 0 redemption(s)"
    assert ["SPRING25"] not in [
        r[:1] for r in rows(run("coupons", "list", "--active", "--url", url))
    ]
    store = SqlStore.from_url(url)
    try:
        with store.transaction() as tx:
            stored = tx.get_coupon("TENOFF")
        assert stored is not None
        assert not stored.once_per_student
        assert [a.minor for a in stored.amounts_off] == [1000, 900]
    finally:
        store.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--percent-off", "0"), "above 0 and at most 100"),
        (("--percent-off", "12.345"), "at most two decimals"),
        (("--percent-off", "ten"), "not a percentage"),
        (("--percent-off", "5", "--amount-off", "1", "--currency", "USD"), "either --percent-off"),
        (("--amount-off", "1"), "one --currency for each"),
        (("--amount-off", "1.001", "--currency", "USD"), "--amount-off"),
    ],
)
def test_bad_coupons_are_usage_errors(url: str, args: tuple[str, ...], message: str) -> None:
    """Bad percentages and amounts exit 2 naming the problem; nothing is stored."""
    result = CliRunner().invoke(
        cli, ["coupons", "create", "BAD", *args, "--url", url], prog_name="enrollpay"
    )
    assert result.exit_code == 2
    assert message in result.output
    assert rows(run("coupons", "list", "--url", url))[0] == ["0", "coupon(s)"]


def test_a_taken_code_is_refused(url: str) -> None:
    """Creating a code twice fails the second time, with a one-line error."""
    assert run("coupons", "create", "DUP", "--percent-off", "5", "--url", url).exit_code == 0
    again = CliRunner().invoke(
        cli, ["coupons", "create", "dup", "--percent-off", "5", "--url", url]
    )
    assert again.exit_code != 0
    assert "duplicate coupon code" in again.output


def test_plan_preview_applies_a_coupon_pro_rata(url: str) -> None:
    """25% off 1000.00 on a 20% deposit plan: every payment shrinks, the total is 750.00."""
    run("coupons", "create", "Q", "--percent-off", "25", "--url", url)
    result = run(
        "plan", "preview", "--price", "1000", "--currency", "USD", "--plan",
        "deposit=20%,installments=3", "--start", "2027-03-15", "--coupon", "q", "--url", url,
    )  # fmt: skip
    assert result.exit_code == 0
    assert "coupon Q: $250.00 off" in result.stdout.splitlines()[0]
    listed = rows(result)
    assert ["1", "deposit", "2027-03-15", "$150.00"] in listed
    assert ["4", "installment", "2027-06-15", "$199.99"] in listed
    assert ["Total", "$750.00"] in listed


def test_plan_preview_coupon_errors(url: str) -> None:
    """No database, an unknown code, or a coupon that does not apply: usage errors (exit 2)."""
    run(
        "coupons",
        "create",
        "INST",
        "--percent-off",
        "25",
        "--plan-kind",
        "installments",
        "--url",
        url,
    )
    base = ("plan", "preview", "--price", "100", "--currency", "USD", "--plan", "full")
    cases = [
        ((*base, "--coupon", "INST"), "give --url"),
        ((*base, "--coupon", "NOPE", "--url", url), "no coupon 'NOPE'"),
        ((*base, "--coupon", "INST", "--url", url), "does not apply: plan"),
    ]
    for args, message in cases:
        result = CliRunner().invoke(
            cli, list(args), prog_name="enrollpay", env={"ENROLLPAY_DATABASE_URL": ""}
        )
        assert result.exit_code == 2, result.output
        assert message in result.output
