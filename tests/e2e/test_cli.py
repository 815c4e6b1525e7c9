"""The ``enrollpay`` command: click's runner for most commands, real processes for the rest.

The processes run the console script that ``pip install -e .`` put next to
the interpreter, once on a pipe (what cron sees) and once in a real
pseudo-terminal (what a person sees, progress bar included).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import select
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from enrollpay import Installments, Interval, Money, PaymentSystem, Subscription
from enrollpay.audit import link_entry
from enrollpay.cli import cli
from enrollpay.clock import SystemClock
from enrollpay.domain.records import AuditEntry
from enrollpay.ports import AuditDraft
from enrollpay.storage.sql import SqlStore
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds

ENROLLPAY = Path(sys.executable).with_name("enrollpay")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
DEMO_ARGS = ("demo", "--seed", "7", "--students", "12", "--months", "4")


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    """Invoke the command line in-process, as the console script would."""
    return CliRunner().invoke(
        cli, list(args), prog_name="enrollpay", catch_exceptions=False, env=env
    )


def url_of(path: Path) -> str:
    """The SQLite URL of a file."""
    return f"sqlite:///{path}"


def past_school(
    path: Path, *, students: int, card_less: int = 0, lost_charge: bool = False
) -> tuple[int, int]:
    """Fill an SQLite school whose students enrolled 15 days ago, so installments are due now.

    Each course student paid the first of three weekly installments at
    enrollment; the second fell due 8 days ago (overdue, past its three
    days of grace, so the sweep makes the enrollment past_due) and the
    third yesterday. Returns (installments due now, subscription periods
    due now). With ``lost_charge``, the first student's second installment
    was charged the day after it fell due and timed out before it reached
    the gateway.
    """
    start = SystemClock().now() - timedelta(days=15)
    clock = FrozenClock(start)
    gateway = FakeGateway(clock=clock)
    store = SqlStore.from_url(url_of(path))
    try:
        system = PaymentSystem(store=store, gateway=gateway, clock=clock, ids=SequentialIds())
        course = system.register_product(
            product_type="course",
            product_id="c-1",
            name="Course",
            price=Money.of("300", "USD"),
            payment_plan=Installments(3, interval=Interval.weeks(1)),
        )
        club = system.register_product(
            product_type="membership",
            product_id="club",
            name="Club",
            price=Money.of("10", "USD"),
            payment_plan=Subscription(Interval.months(1), trial_days=1),
        )
        for n in range(students):
            result = system.enroll(user_id=f"u-{n}", product_id=course.id)
            assert result.client_secret is not None
            gateway.complete_payment(result.client_secret, payment_method=f"pm_card_{n}")
        for n in range(card_less):
            system.enroll(user_id=f"no-card-{n}", product_id=club.id)
        gateway.deliver(system)
        if lost_charge:
            clock.advance(days=8)
            gateway.script_method("pm_card_0", "timeout_before")
            assert system.collect_due().unknown == 1
        now = SystemClock().now().date()
        due = system.list_schedule_items(status=["scheduled", "processing"], due_to=now)
        installments = sum(1 for item in due if item.kind == "installment")
        return installments, len(due) - installments
    finally:
        store.close()


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database the demo filled (seed 7, 12 students, 4 months)."""
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    result = run(*DEMO_ARGS, "--db", str(path))
    assert result.exit_code == 0, result.stderr
    return path


def one_error_line(result: Result) -> str:
    """The single line a failing command wrote to standard error."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.stderr
    return lines[0]


def money_objects(value: Any) -> Iterator[dict[str, Any]]:
    """Every ``{"minor", "currency", "amount"}`` object in a JSON document."""
    if isinstance(value, dict):
        if set(value) == {"minor", "currency", "amount"}:
            yield value
        else:
            for inner in value.values():
                yield from money_objects(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from money_objects(inner)


# -- the command line itself ----------------------------------------------------------


def test_version_is_the_installed_package_version() -> None:
    """`enrollpay --version` prints the distribution's version."""
    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"enrollpay, version {version('enrollpay')}"


def _commands(
    group: click.Group, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in sorted(group.commands.items()):
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


def test_every_command_and_group_has_help() -> None:
    """`--help` works on the root, every group and every command; commands show an example."""
    commands = [((), cli), *_commands(cli)]
    # receipt (17), payers + 3 (19.2), plan change (19.3), seats + 3 (19.5); main had 22
    assert len(commands) == 32
    for path, command in commands:
        result = run(*path, "--help")
        assert result.exit_code == 0, path
        assert result.stdout.startswith(f"Usage: enrollpay {' '.join(path)}".rstrip())
        if not isinstance(command, click.Group):
            assert "Example" in result.stdout, path


def test_unknown_option_is_one_line_on_stderr() -> None:
    """A usage error is one line on stderr with a pointer to --help, exit status 2."""
    result = run("collect", "--url", "sqlite:///x.db", "--limt", "3")
    assert result.exit_code == 2
    assert result.stdout == ""
    line = one_error_line(result)
    assert "No such option '--limt'" in line
    assert line.endswith("(see 'enrollpay collect --help')")


def test_amount_with_more_decimals_than_the_currency_is_refused() -> None:
    """--price 10.005 USD is refused (never rounded), naming the option."""
    result = run("plan", "preview", "--price", "10.005", "--currency", "USD", "--plan", "full")
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "'--price'" in line
    assert "10.005 USD has more than 2 decimal place(s)" in line


def test_library_input_errors_are_one_line() -> None:
    """An EnrollpayError about the input (service ends before it starts) is one line, exit 2."""
    result = run(
        "refund", "quote", "--price", "100", "--currency", "EUR", "--paid", "100",
        "--start", "2027-02-01", "--end", "2027-01-01", "--cancelled-on", "2027-01-15",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "must be after service_start" in one_error_line(result)


def test_a_file_that_is_not_a_database_is_one_line(tmp_path: Path) -> None:
    """A storage error (the file is not SQLite) is one line and exit status 3."""
    path = tmp_path / "notes.db"
    path.write_text("these are not the tables you are looking for\n" * 100)
    result = run("report", "status", "--url", url_of(path))
    assert result.exit_code == 3
    assert "database" in one_error_line(result)


def test_a_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    """Operating commands refuse a database file that does not exist instead of creating one."""
    path = tmp_path / "typo.db"
    result = run("collect", "--url", url_of(path), "--gateway", "fake")
    assert result.exit_code == 3
    assert f"no database at {path}" in one_error_line(result)
    assert not path.exists()


def test_options_of_other_reports_are_usage_errors(demo_db: Path) -> None:
    """--by belongs to the revenue report: using it with aging is a usage error."""
    result = run("report", "aging", "--url", url_of(demo_db), "--by", "week")
    assert result.exit_code == 2
    assert "--by applies only to the revenue report, not to aging" in one_error_line(result)


# -- calculators --------------------------------------------------------------------


def test_plan_preview_prints_the_schedule_and_its_total() -> None:
    """The seed's plan: 20% deposit then three monthly installments adding up to the price."""
    result = run(
        "plan", "preview", "--price", "299.99", "--currency", "USD",
        "--plan", "deposit=20%,installments=3,every=1 month", "--start", "2027-03-15",
    )  # fmt: skip
    assert result.exit_code == 0
    rows = [line.split() for line in result.stdout.splitlines()]
    assert ["1", "deposit", "2027-03-15", "$60.00"] in rows
    assert ["2", "installment", "2027-04-15", "$80.00"] in rows
    assert ["4", "installment", "2027-06-15", "$79.99"] in rows
    assert ["Total", "$299.99"] in rows
    assert result.stdout.startswith("20% deposit + 3 installments every 1 month: $299.99")


def test_plan_preview_formats_amounts_for_the_locale() -> None:
    """With --locale de_DE a subscription's periods read 29,00 €, after the trial."""
    result = run(
        "plan", "preview", "--price", "29", "--currency", "eur", "--locale", "de-DE",
        "--plan", "subscription,every=1 month,trial=14,cycles=3", "--start", "2027-03-15",
    )  # fmt: skip
    assert result.exit_code == 0
    rows = [line.split() for line in result.stdout.splitlines()]
    assert ["1", "period", "2027-03-29", "29,00", "€"] in rows
    assert ["3", "period", "2027-05-29", "29,00", "€"] in rows
    assert ["Total", "87,00", "€"] in rows


def test_refund_quote_lists_the_line_items() -> None:
    """A prorated quote shows earned, fee, retained and refund: 1200*47/181 = 311.60."""
    result = run(
        "refund", "quote", "--price", "1200", "--currency", "USD", "--paid", "600",
        "--start", "2027-01-04", "--end", "2027-07-04", "--cancelled-on", "2027-02-20",
        "--admin-fee", "25",
    )  # fmt: skip
    assert result.exit_code == 0
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert lines[0] == "Refund quote (prorated: 47 of 181 days used)"
    for expected in (
        "Paid so far $600.00",
        "Used 47 of 181 days $311.60",
        "Administration fee $25.00",
        "Retained $336.60",
        "Refund $263.40",
    ):
        assert expected in lines


def test_refund_quote_leaves_paused_days_out_and_moves_the_end() -> None:
    """Cancelled on 03-02 after 10 paused days: 47 used, as on 02-20; the end moves to 07-14."""
    result = run(
        "refund", "quote", "--price", "1200", "--currency", "USD", "--paid", "600",
        "--start", "2027-01-04", "--end", "2027-07-04", "--cancelled-on", "2027-03-02",
        "--admin-fee", "25", "--paused-days", "10",
    )  # fmt: skip
    assert result.exit_code == 0
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert lines[0] == "Refund quote (prorated: 47 of 181 days used)"
    for expected in (
        "Paused 10 days, not counted as used: service ends 2027-07-14 $0.00",
        "Used 47 of 181 days $311.60",
        "Refund $263.40",
    ):
        assert expected in lines
    refused = run(
        "refund", "quote", "--price", "1200", "--currency", "USD", "--paid", "600",
        "--start", "2027-01-04", "--end", "2027-07-04", "--cancelled-on", "2027-03-02",
        "--paused-days", "-1",
    )  # fmt: skip
    assert refused.exit_code == 2
    assert "--paused-days" in refused.output


def test_refund_quote_in_the_cooling_off_window_refunds_everything() -> None:
    """Cancelled within the cooling-off days, everything paid comes back."""
    result = run(
        "refund", "quote", "--price", "1200", "--currency", "USD", "--paid", "240",
        "--start", "2027-01-04", "--end", "2027-07-04", "--cancelled-on", "2027-01-10",
        "--proration", "none", "--non-refundable", "100",
    )  # fmt: skip
    assert result.exit_code == 0
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert lines[0] == "Refund quote (within the 14-day cooling-off window)"
    assert "Refund $240.00" in lines


# -- database, reports and audit ----------------------------------------------------------


def test_db_upgrade_creates_an_empty_schema_that_reports_read(tmp_path: Path) -> None:
    """`db upgrade` makes the tables; reports and the audit check then run on the empty database."""
    url = url_of(tmp_path / "fresh.db")
    upgraded = run("db", "upgrade", "--url", url)
    assert upgraded.exit_code == 0
    assert upgraded.stdout == f"Schema of {url} is up to date.\n"
    assert run("db", "upgrade", "--url", url).exit_code == 0  # idempotent
    report = run("report", "revenue", "--url", url, "--format", "json")
    assert json.loads(report.stdout) == {
        "report": "revenue",
        "parameters": {"by": "month", "from": None, "to": None},
        "rows": [],
    }
    verified = run("audit", "verify", "--url", url)
    assert (verified.exit_code, verified.stdout) == (
        0,
        f"Audit chain intact: 0 entries verified.\nHead: 0 entries, hash {'0' * 64}\n",
    )


def test_db_upgrade_into_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    """A database file in a folder that does not exist is refused clearly."""
    result = run("db", "upgrade", "--url", url_of(tmp_path / "no" / "such" / "x.db"))
    assert result.exit_code == 3
    assert "does not exist" in one_error_line(result)


def test_database_url_can_come_from_the_environment(demo_db: Path) -> None:
    """ENROLLPAY_DATABASE_URL stands in for --url (handy in cron and containers)."""
    result = run("audit", "verify", env={"ENROLLPAY_DATABASE_URL": url_of(demo_db)})
    assert result.exit_code == 0
    assert result.stdout.startswith("Audit chain intact:")


def test_revenue_csv_carries_exact_amounts(demo_db: Path) -> None:
    """Revenue CSV: decimal and minor units agree, net = gross - refunded, the refund is there."""
    result = run("report", "revenue", "--url", url_of(demo_db), "--format", "csv")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["period"] for r in rows] == ["2027-01-01", "2027-02-01", "2027-03-01", "2027-04-01"]
    for row in rows:
        for field in ("gross", "refunded", "net"):
            assert Decimal(row[field]) * 100 == int(row[f"{field}_minor"])
        assert int(row["net_minor"]) == int(row["gross_minor"]) - int(row["refunded_minor"])
    assert [r["refunded"] for r in rows] == ["0.00", "130.02", "0.00", "0.00"]


def test_every_report_in_json_has_exact_money(demo_db: Path) -> None:
    """In all six JSON reports each amount is minor units, a currency and the same decimal."""
    seen = 0
    for name in ("revenue", "status", "products", "aging", "forecast", "recovery"):
        result = run("report", name, "--url", url_of(demo_db), "--format", "json")
        assert result.exit_code == 0, name
        document = json.loads(result.stdout)
        assert document["report"] == name
        for money in money_objects(document):
            assert isinstance(money["minor"], int)
            assert Money.of(money["amount"], money["currency"]).minor == money["minor"]
            seen += 1
    assert seen > 25


def test_product_report_shows_the_cancellation_and_the_default(demo_db: Path) -> None:
    """Products: one cancellation with its refund; the student who stopped paying defaults."""
    result = run("report", "products", "--url", url_of(demo_db), "--format", "json")
    rows = {row["name"]: row for row in json.loads(result.stdout)["rows"]}
    foundations = rows["Python Foundations"]
    assert (foundations["cancelled"], foundations["refunded"]["minor"]) == (1, 13002)
    assert sum(row["suspended"] for row in rows.values()) == 1
    assert any(Decimal(row["default_rate"]) > 0 for row in rows.values())


def test_aging_table_for_people_uses_the_locale(demo_db: Path) -> None:
    """The aging table as of a date, amounts written the German way."""
    result = run(
        "report", "aging", "--url", url_of(demo_db), "--as-of", "2027-05-04", "--locale", "de_DE"
    )
    assert result.exit_code == 0
    assert result.stdout.startswith("Receivables aging as of 2027-05-04")
    assert re.search(r"USD\s+31-60\s+1\s+80,00\s+\$", result.stdout)


def test_audit_verify_names_the_first_tampered_entry(demo_db: Path, tmp_path: Path) -> None:
    """Changing one audit entry in the database makes `audit verify` exit 1 and name it."""
    copy = tmp_path / "tampered.db"
    copy.write_bytes(demo_db.read_bytes())
    intact = run("audit", "verify", "--url", url_of(copy))
    assert intact.exit_code == 0
    with closing(sqlite3.connect(copy)) as conn, conn:
        conn.execute("UPDATE enrollpay_audit_log SET actor = 'mallory' WHERE seq = 17")
    broken = run("audit", "verify", "--url", url_of(copy))
    assert broken.exit_code == 1
    assert broken.stdout.startswith("Audit chain BROKEN at entry 17 (")
    assert "content does not match its hash; the 16 entries before it are intact." in broken.stdout


def console(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the installed console script in a real process, on pipes."""
    return subprocess.run(
        [str(ENROLLPAY), *args], capture_output=True, text=True, timeout=120, cwd=cwd, check=False
    )


def test_audit_anchor_then_a_truncated_trail_is_caught(demo_db: Path, tmp_path: Path) -> None:
    """Real processes: anchor, delete the newest entries in SQLite, verify --anchor exits 1."""
    copy = tmp_path / "school.db"
    copy.write_bytes(demo_db.read_bytes())
    with closing(sqlite3.connect(copy)) as conn:
        count, last = conn.execute(
            "SELECT seq, hash FROM enrollpay_audit_log ORDER BY seq DESC LIMIT 1"
        ).fetchone()

    printed = console("audit", "anchor", "--url", url_of(copy), cwd=tmp_path)
    saved = console("audit", "anchor", "--url", url_of(copy), "--out", "anchor.json", cwd=tmp_path)
    intact = console("audit", "verify", "--url", url_of(copy), "--anchor", "anchor.json",
                     cwd=tmp_path)  # fmt: skip

    assert (printed.returncode, printed.stderr) == (0, "")
    assert json.loads(printed.stdout) == {"count": count, "hash": last}
    assert json.loads((tmp_path / "anchor.json").read_text()) == {"count": count, "hash": last}
    assert saved.stdout == f"Anchored {count} entries (head hash {last}) in anchor.json.\n"
    assert intact.returncode == 0
    assert intact.stdout.splitlines() == [
        f"Audit chain intact: {count} entries verified.",
        f"Head: {count} entries, hash {last}",
        f"Anchor reached: entry {count} still has hash {last}",
    ]

    with closing(sqlite3.connect(copy)) as conn, conn:
        conn.execute("DELETE FROM enrollpay_audit_log WHERE seq > ?", (count - 3,))
    alone = console("audit", "verify", "--url", url_of(copy), cwd=tmp_path)
    anchored = console("audit", "verify", "--url", url_of(copy), "--anchor", "anchor.json",
                       cwd=tmp_path)  # fmt: skip

    assert alone.returncode == 0  # what is left is a valid, shorter chain
    assert alone.stdout.startswith(f"Audit chain intact: {count - 3} entries verified.\n")
    assert (anchored.returncode, anchored.stderr) == (1, "")
    assert anchored.stdout == (
        f"Audit chain BROKEN at entry {count - 2}: the chain ends at entry {count - 3} but the "
        f"anchor recorded {count}: entries were deleted from the end; the {count - 3} entries "
        "before it are intact.\n"
    )


def test_audit_verify_with_an_anchor_catches_a_rewritten_trail(
    demo_db: Path, tmp_path: Path
) -> None:
    """Entry 5 changed and every later hash recomputed: intact alone, refused at the anchor."""
    copy = tmp_path / "school.db"
    copy.write_bytes(demo_db.read_bytes())
    anchor_file = tmp_path / "anchor.json"
    assert run("audit", "anchor", "--url", url_of(copy), "--out", str(anchor_file)).exit_code == 0
    count = json.loads(anchor_file.read_text())["count"]
    store = SqlStore.from_url(url_of(copy))
    try:
        with store.reader() as view:
            entries = view.list_audit()
    finally:
        store.close()
    relinked: list[AuditEntry] = []
    for entry in entries:
        actor = "mallory" if entry.seq == 5 else entry.actor
        draft = AuditDraft(entry.at, actor, entry.action, entry.entity_type, entry.entity_id,
                           entry.data)  # fmt: skip
        relinked.append(link_entry(draft, relinked[-1] if relinked else None))
    with closing(sqlite3.connect(copy)) as conn, conn:
        conn.executemany(
            "UPDATE enrollpay_audit_log SET actor = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            [(e.actor, e.prev_hash, e.hash, e.seq) for e in relinked[4:]],
        )

    alone = run("audit", "verify", "--url", url_of(copy))
    anchored = run("audit", "verify", "--url", url_of(copy), "--anchor", str(anchor_file))

    assert alone.exit_code == 0
    assert anchored.exit_code == 1
    assert anchored.stdout.startswith(f"Audit chain BROKEN at entry {count} (")
    assert anchored.stdout.endswith(
        f"entry {count} does not have the anchor's hash: the chain was rewritten up to there.\n"
    )


def test_audit_anchor_refuses_a_broken_trail_and_verify_a_bad_anchor_file(
    demo_db: Path, tmp_path: Path
) -> None:
    """No anchor for a tampered chain (exit 1); a malformed anchor file is a usage error (2)."""
    copy = tmp_path / "school.db"
    copy.write_bytes(demo_db.read_bytes())
    garbled = tmp_path / "anchor.json"
    garbled.write_text('{"count": 3}')
    with closing(sqlite3.connect(copy)) as conn, conn:
        conn.execute("UPDATE enrollpay_audit_log SET actor = 'mallory' WHERE seq = 2")

    refused = run("audit", "anchor", "--url", url_of(copy))
    bad_file = run("audit", "verify", "--url", url_of(copy), "--anchor", str(garbled))

    assert refused.exit_code == 1
    assert refused.stdout == (
        "Audit chain BROKEN at entry 2: content does not match its hash; not anchored.\n"
    )
    assert bad_file.exit_code == 2
    assert "an audit anchor has exactly the keys count and hash" in one_error_line(bad_file)


def test_demo_keep_refuses_a_database_with_data(demo_db: Path) -> None:
    """--keep never runs the simulation over an existing demo."""
    result = run(*DEMO_ARGS, "--db", str(demo_db), "--keep")
    assert result.exit_code == 3
    assert "already holds 12 enrollments" in one_error_line(result)


# -- collect and reconcile (what cron runs) -----------------------------------------------


def test_collect_charges_what_is_due_and_prints_one_line(tmp_path: Path) -> None:
    """Off a terminal, collect prints its sweep and summary lines; a second run finds nothing.

    The second installments fell due 8 days ago and nobody ran collect
    since: the sweep that starts the run finds those five overdue and their
    enrollments past_due, before it charges the oldest first.
    """
    path = tmp_path / "school.db"
    installments, _ = past_school(path, students=5)
    assert installments == 10
    first = run("collect", "--url", url_of(path), "--gateway", "fake", "--limit", "4")
    assert (first.exit_code, first.stderr) == (0, "")
    assert first.stdout == (
        "sweep: checked=5 overdue=5 changed=5 suspended=0 reminded=0\n"
        "charged=4 succeeded=4 failed=0 requires_action=0 unknown=0 skipped=0\n"
    )
    rest = run("collect", "--url", url_of(path), "--gateway", "fake")
    assert rest.stdout == ("charged=6 succeeded=6 failed=0 requires_action=0 unknown=0 skipped=0\n")
    again = run("collect", "--url", url_of(path), "--gateway", "fake")
    assert again.stdout.startswith("charged=0 succeeded=0 ")
    status = run("report", "status", "--url", url_of(path), "--format", "json")
    assert {"status": "completed", "count": 5} in json.loads(status.stdout)["enrollments"]


def test_collect_exits_1_when_something_needs_attention(tmp_path: Path) -> None:
    """A member without a saved card cannot be charged: collect says so and exits 1.

    The sweep changes the course student's enrollment only (past_due): the
    card-less member's trial has waited for its card, without access, since
    enrollment, so the calendar has no access to take away from it.
    """
    path = tmp_path / "school.db"
    _, periods = past_school(path, students=1, card_less=1)
    result = run("collect", "--url", url_of(path), "--gateway", "fake")
    assert result.exit_code == 1
    assert result.stdout == (
        "sweep: checked=2 overdue=2 changed=1 suspended=0 reminded=0\n"
        f"charged=2 succeeded=2 failed={periods} requires_action=0 unknown=0 skipped=0\n"
    )


def test_reconcile_resends_a_lost_charge_with_its_key(tmp_path: Path) -> None:
    """A charge that timed out waits for reconcile, which sends it back to collect (same key)."""
    path = tmp_path / "school.db"
    installments, _ = past_school(path, students=2, lost_charge=True)
    assert installments == 3  # both second installments, and the lost first one
    url = url_of(path)
    others = run("collect", "--url", url, "--gateway", "fake")
    summary = others.stdout.splitlines()[-1]
    assert (others.exit_code, summary.split()[:2]) == (0, ["charged=2", "succeeded=2"])
    reconciled = run("reconcile", "--url", url, "--gateway", "fake")
    assert reconciled.exit_code == 0
    assert reconciled.stdout == (
        "checked=1 resolved=0 resent=1 still_unknown=0 refunds_completed=0 refunds_failed=0 "
        "settling=0\n"
        # a fresh fake lists nothing
        "drift: scanned payments=0 refunds=0 disputes=0 fixed=0 open=0\n"
    )
    paid = run("collect", "--url", url, "--gateway", "fake")
    assert (paid.exit_code, paid.stdout.split()[:2]) == (0, ["charged=1", "succeeded=1"])
    status = run("report", "status", "--url", url, "--format", "json")
    assert {"status": "completed", "count": 2} in json.loads(status.stdout)["enrollments"]


def test_stripe_gateway_without_keys_is_one_line(tmp_path: Path) -> None:
    """--gateway stripe needs STRIPE_SECRET_KEY; without it: one line, a configuration error."""
    path = tmp_path / "school.db"
    past_school(path, students=1)
    result = run(
        "collect", "--url", url_of(path), env={"STRIPE_SECRET_KEY": "", "ENROLLPAY_GATEWAY": ""}
    )
    assert result.exit_code == 3  # a configuration problem, not a usage error
    assert one_error_line(result) == "Error: STRIPE_SECRET_KEY is not set"


# -- the installed console script, in real processes ----------------------------------


def test_console_script_is_installed() -> None:
    """`pip install -e .` put the `enrollpay` console script next to the interpreter."""
    assert ENROLLPAY.exists()
    result = subprocess.run(
        [str(ENROLLPAY), "--version"], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.startswith("enrollpay, version ")


def run_in_terminal(*args: str, cwd: Path) -> tuple[int, str]:
    """Run the console script in a pseudo-terminal; return its status and what it showed."""
    primary, secondary = os.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TTY_", "NO_COLOR"))}
    env.update(TERM="xterm-256color", COLUMNS="100", LINES="40")
    with subprocess.Popen(
        [str(ENROLLPAY), *args], stdin=secondary, stdout=secondary, stderr=secondary,
        cwd=cwd, env=env, close_fds=True,
    ) as process:  # fmt: skip
        os.close(secondary)
        chunks = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 1.0)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        status = process.wait(timeout=30)
    os.close(primary)
    return status, b"".join(chunks).decode("utf-8", "replace")


def test_collect_in_a_terminal_shows_a_progress_bar(tmp_path: Path) -> None:
    """On a terminal, collect draws a rich progress bar and then its summary line."""
    path = tmp_path / "school.db"
    installments, _ = past_school(path, students=20)
    status, shown = run_in_terminal(
        "collect", "--url", url_of(path), "--gateway", "fake", cwd=tmp_path
    )
    assert status == 0, shown
    assert "\x1b[" in shown  # a terminal gets escape sequences (cursor, colours)
    plain = ANSI.sub("", shown)
    assert "Collecting" in plain
    assert "━" in plain  # the bar
    assert f"{installments} item(s): {installments} paid, 0 declined" in plain
    assert f"charged={installments} succeeded={installments} failed=0" in plain
    assert "Traceback" not in plain


def test_demo_in_a_terminal_shows_progress_over_the_months(tmp_path: Path) -> None:
    """On a terminal the demo draws a progress bar over the simulated months, then the reports."""
    status, shown = run_in_terminal(
        "demo", "--students", "4", "--months", "2", "--db", "t.db", cwd=tmp_path
    )
    assert status == 0, shown
    plain = ANSI.sub("", shown)
    assert "Simulating 2027-0" in plain
    assert "month 2/2" in plain
    assert "Audit chain intact:" in plain
    assert "Simulated 59 days in " in plain
    assert (tmp_path / "t.db").exists()


def test_demo_twice_prints_the_same_report(tmp_path: Path) -> None:
    """Two runs with one seed print identical output (off a terminal) within a minute each."""
    # Off a terminal tables are 120 columns wide unless COLUMNS says otherwise.
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    runs = []
    for _ in range(2):
        started = time.monotonic()
        result = subprocess.run(
            [str(ENROLLPAY), *DEMO_ARGS, "--db", "demo.db"],
            capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False, env=env,
        )  # fmt: skip
        elapsed = time.monotonic() - started
        assert result.returncode == 0, result.stderr
        assert elapsed < 60
        assert "Traceback" not in result.stderr
        assert re.fullmatch(r"Simulated 120 days in \d+\.\d s\.\n", result.stderr)
        runs.append(result.stdout)
    first, second = runs
    assert first == second
    assert "\x1b[" not in first  # no progress bar or colours in a pipe
    lines = [" ".join(line.split()) for line in first.splitlines()]
    assert lines[0] == (
        "enrollpay demo: 12 students over 4 months (2027-01-04 to 2027-05-04), seed 7, "
        "database demo.db"
    )
    for heading in (
        "The school's catalogue",
        "What happened",
        "Revenue by month",
        "Enrollments by status",
        "Schedule items by status",
        "Product performance: enrollments",
        "Product performance: money",
        "Receivables aging as of 2027-05-04",
        "Forecast: 6 month(s) from 2027-05-04",
        "Failed-payment recovery",
    ):
        assert heading in lines
    story = "\n".join(lines)
    assert "card declined 4 times: installment defaulted, enrollment suspended" in story
    assert re.search(r"paid \$\d+\.\d\d by bank transfer \(TXN-\d{5}\)", story)
    assert "refunded $130.02 (prorated, less a $25.00 admin fee)" in story
    assert "2027-02 USD $620.00 $130.02 $489.98 5 1" in lines
    assert re.search(r"^Audit chain intact: \d+ entries verified\.$", story, re.MULTILINE)
    assert lines[-1] == "Explore the database: enrollpay report revenue --url sqlite:///demo.db"


def test_errors_from_the_console_script_are_one_line(tmp_path: Path) -> None:
    """The real process: a bad amount is one line on stderr, exit 2, no traceback."""
    result = subprocess.run(
        [str(ENROLLPAY), "refund", "quote", "--price", "12.3456", "--currency", "EUR",
         "--paid", "0", "--start", "2027-01-01", "--end", "2027-12-31",
         "--cancelled-on", "2027-03-01"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("Error: Invalid value for '--price': 12.3456 EUR has more")


def test_the_library_never_imports_the_command_line() -> None:
    """Importing the library (every public module) loads neither click, rich nor enrollpay.cli."""
    code = (
        "import sys, enrollpay, enrollpay.testing, enrollpay.reports, enrollpay.audit, "
        "enrollpay.storage.memory, enrollpay.storage.sql, enrollpay.gateways.fake\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('click', 'rich') "
        "or m.startswith('enrollpay.cli')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


# -- events (the outbox) ------------------------------------------------------------------


def test_events_list_and_dispatch_print_json_lines(tmp_path: Path) -> None:
    """`events list` shows the outbox without delivering; `events dispatch` delivers each once."""
    path = tmp_path / "school.db"
    past_school(path, students=2)
    listed = run("events", "list", "--url", url_of(path))
    assert listed.exit_code == 0
    events = [json.loads(line) for line in listed.stdout.splitlines()]
    kinds = [e["kind"] for e in events]
    assert kinds.count("enrollment.created") == 2
    assert kinds.count("access.granted") == 2
    assert set(events[0]) == {"id", "kind", "enrollment_id", "at", "data"}
    pending = run("events", "list", "--pending", "--url", url_of(path), "--limit", "3")
    assert [json.loads(line) for line in pending.stdout.splitlines()] == events[:3]

    first = run("events", "dispatch", "--url", url_of(path), "--limit", "3")
    assert (first.exit_code, first.stderr) == (0, "3 event(s) dispatched\n")
    rest = run("events", "dispatch", "--url", url_of(path))
    delivered = [json.loads(line) for line in (first.stdout + rest.stdout).splitlines()]
    assert delivered == events
    assert run("events", "list", "--pending", "--url", url_of(path)).stdout == ""
    again = run("events", "dispatch", "--url", url_of(path))
    assert (again.stdout, again.stderr) == ("", "0 event(s) dispatched\n")
