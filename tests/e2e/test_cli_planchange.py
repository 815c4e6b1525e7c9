"""``enrollpay plan change``: the diff, ``--preview`` writing nothing, refusals as one line."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

from enrollpay import Installments, Money, PaymentSystem
from enrollpay.clock import SystemClock
from enrollpay.domain.records import ScheduleItem
from enrollpay.storage.sql import SqlStore
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds

from .test_cli import ENROLLPAY, one_error_line, run, url_of


def school(path: Path) -> str:
    """An SQLite school: u-1 on twelve monthly 100.00 installments, the first paid today."""
    clock = FrozenClock(SystemClock().now())
    gateway = FakeGateway(clock=clock)
    store = SqlStore.from_url(url_of(path))
    try:
        system = PaymentSystem(store=store, gateway=gateway, clock=clock, ids=SequentialIds())
        course = system.register_product(
            product_type="course",
            product_id="c-12",
            name="Twelve",
            price=Money.of("1200", "USD"),
            payment_plan=Installments(12),
            offered_plans=(Installments(6),),
        )
        result = system.enroll(user_id="u-1", product_id=course.id)
        assert result.client_secret is not None
        gateway.complete_payment(result.client_secret, payment_method="pm_card_1")
        gateway.deliver(system)
        return result.enrollment_id
    finally:
        store.close()


def items(path: Path, enrollment_id: str) -> list[ScheduleItem]:
    """The enrollment's items by sequence number, read from the file."""
    store = SqlStore.from_url(url_of(path))
    try:
        found = PaymentSystem(store=store).list_schedule_items(enrollment_id=enrollment_id)
        return sorted(found, key=lambda i: i.seq)
    finally:
        store.close()


def test_preview_prints_the_diff_and_writes_nothing(tmp_path: Path) -> None:
    """Both sides of the diff with their totals; the database is left as it was."""
    path = tmp_path / "school.db"
    enrollment_id = school(path)
    before = items(path, enrollment_id)
    today = SystemClock().now().date()

    result = run(
        "plan", "change", enrollment_id, "installments=6", "--preview",
        "--gateway", "fake", "--url", url_of(path),
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"Would move enrollment {enrollment_id} from 12 installments every 1 month "
        f"to 6 installments every 1 month from {today.isoformat()}"
    )
    rows = [line.split() for line in lines]
    assert ["2", before[1].due.isoformat(), "$100.00"] in rows
    assert ["13", today.isoformat(), "$183.34"] in rows
    assert rows.count(["Total", "$1,100.00"]) == 2
    assert "Owed before $1,100.00, after $1,100.00" in result.stdout
    assert lines[-1] == "Preview only: nothing was written."
    assert "What was due (schedule version 1)" in result.stdout
    assert "What is due now (schedule version 2)" in result.stdout
    assert items(path, enrollment_id) == before


def test_change_writes_the_new_version_from_the_console_script(tmp_path: Path) -> None:
    """The real command: the rest in full from a later day, stored as version 2."""
    path = tmp_path / "school.db"
    enrollment_id = school(path)
    start = SystemClock().now().date() + timedelta(days=5)

    done = subprocess.run(
        [str(ENROLLPAY), "plan", "change", enrollment_id, "full", "--at", start.isoformat(),
         "--gateway", "fake", "--url", url_of(path), "--locale", "de_DE"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Moved enrollment {enrollment_id} from 12 installments")
    assert "Owed before 1.100,00\xa0$, after 1.100,00\xa0$" in done.stdout
    after = items(path, enrollment_id)
    assert [(i.seq, i.status.value, i.schedule_version) for i in after][-2:] == [
        (12, "superseded", 1),
        (13, "scheduled", 2),
    ]
    assert (after[-1].kind, after[-1].due, after[-1].amount) == (
        "full",
        start,
        Money.of("1100", "USD"),
    )


def test_refusals_are_one_line_and_write_nothing(tmp_path: Path) -> None:
    """A plan not offered, the same plan, a bad spec, a past start: one line each."""
    path = tmp_path / "school.db"
    enrollment_id = school(path)
    before = items(path, enrollment_id)
    base = ("plan", "change", enrollment_id)
    tail = ("--gateway", "fake", "--url", url_of(path))
    yesterday = (SystemClock().now().date() - timedelta(days=2)).isoformat()

    for args, code, message in [
        (("installments=3",), 2, "not offered"),
        (("installments=12",), 3, "same_plan"),
        (("installments=x",), 2, "PLAN_SPEC"),
        (("installments=6", "--at", yesterday), 2, "in the past"),
    ]:
        result = run(*base, *args, *tail)
        assert result.exit_code == code, (args, result.stderr)
        assert message in one_error_line(result)
    assert items(path, enrollment_id) == before
