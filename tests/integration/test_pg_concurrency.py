"""PostgreSQL under real concurrency: threads and processes against one database."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from enrollpay import EnrollmentStatus, Money, PaymentSystem
from enrollpay.storage.sql import SqlStore
from enrollpay.testing import FakeGateway, FrozenClock

from . import pg_workers

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
SPAWN = multiprocessing.get_context("spawn")


@pytest.fixture
def spawnable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let spawned children import ``tests.integration.pg_workers`` by name."""
    monkeypatch.syspath_prepend(str(ROOT))


def _libpq(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def test_one_webhook_delivered_ten_times_at_once_is_processed_once(pg_url: str) -> None:
    """Ten threads deliver the same event: one ``processed``, nine ``duplicate``, one payment."""
    clock = FrozenClock(datetime(2027, 3, 15, 9, 0, tzinfo=UTC))
    fake = FakeGateway(clock=clock)
    store = SqlStore.from_url(pg_url)
    system = PaymentSystem(store=store, gateway=fake, clock=clock)
    course = system.register_product(
        product_type="course", product_id="c-1", name="Course", price=Money.of("299.99", "USD")
    )
    enrolled = system.enroll(user_id="u-1", product_id=course.id)
    assert enrolled.client_secret is not None
    fake.complete_payment(enrolled.client_secret)
    (hook,) = [h for h in fake.take_events() if h.event_type == "payment_intent.succeeded"]
    start = threading.Barrier(10)
    results: list[str] = []
    errors: list[BaseException] = []

    def deliver() -> None:
        start.wait()
        try:
            results.append(system.handle_webhook(hook.payload, hook.headers).result)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Counter(results) == {"processed": 1, "duplicate": 9}
    details = system.payment_details(enrolled.enrollment_id)
    assert len(details.payments) == 1
    assert details.enrollment.status == EnrollmentStatus.COMPLETED
    assert system.verify_audit_chain().ok
    store.close()


@pytest.mark.usefixtures("spawnable")
def test_two_processes_enrolling_the_same_user_at_once_make_one_enrollment(pg_url: str) -> None:
    """Two processes race to enroll u-1: one enrollment; the loser learns its id."""
    store = SqlStore.from_url(pg_url)
    system = PaymentSystem(store=store)
    course = system.register_product(
        product_type="course", product_id="c-1", name="Course", price=Money.of("100.00", "USD")
    )
    barrier = SPAWN.Barrier(2)
    results = SPAWN.Queue()
    workers = [
        SPAWN.Process(target=pg_workers.enroll_worker, args=(pg_url, course.id, barrier, results))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    outcomes = sorted(results.get(timeout=60) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)
    assert [w.exitcode for w in workers] == [0, 0]
    (loser, winner) = outcomes
    assert (loser[0], winner[0]) == ("duplicate", "enrolled")
    assert loser[1] == winner[1]
    assert [e.id for e in system.list_enrollments(user_id="u-1")] == [winner[1]]
    store.close()


@pytest.mark.usefixtures("spawnable")
def test_four_collection_workers_charge_each_of_500_items_exactly_once(pg_url: str) -> None:
    """Four processes run collect_due at once; the union of their charges covers each item once."""
    item_ids = pg_workers.seed_due_items(pg_url, 500)
    go = SPAWN.Event()
    deadline = time.monotonic() + 120
    args = (pg_url, go, 600.0, 0.0, deadline)
    workers = [SPAWN.Process(target=pg_workers.collect_worker, args=args) for _ in range(4)]
    for worker in workers:
        worker.start()
    go.set()
    for worker in workers:
        worker.join(timeout=180)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    calls = pg_workers.assert_each_item_charged_once(pg_url, item_ids)
    assert len(calls) == 500  # no replays were even needed
    assert len({pid for _, pid, _ in calls}) >= 2  # the work really was shared


@pytest.mark.usefixtures("spawnable")
def test_a_killed_worker_leaves_nothing_charged_twice_or_not_at_all(pg_url: str) -> None:
    """SIGKILL one worker mid-batch: after its 2 s leases expire the survivors finish its items."""
    item_ids = pg_workers.seed_due_items(pg_url, 200)
    go = SPAWN.Event()
    deadline = time.monotonic() + 120
    args = (pg_url, go, 2.0, 0.01, deadline)
    workers = [SPAWN.Process(target=pg_workers.collect_worker, args=args) for _ in range(3)]
    for worker in workers:
        worker.start()
    go.set()
    victim = workers[0]
    assert victim.pid is not None
    with psycopg.connect(_libpq(pg_url), autocommit=True) as conn:
        while True:  # wait until the victim is in the middle of its work
            (charged,) = conn.execute(
                "SELECT count(*) FROM test_charge_calls WHERE pid = %s", (victim.pid,)
            ).fetchone() or (0,)
            if charged >= 5 or time.monotonic() > deadline:
                break
            time.sleep(0.01)
    os.kill(victim.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    for worker in workers:
        worker.join(timeout=180)
    assert victim.exitcode == -signal.SIGKILL
    assert [w.exitcode for w in workers[1:]] == [0, 0]
    assert time.monotonic() - killed_at >= 2.0 or charged < 5  # survivors waited out the leases
    calls = pg_workers.assert_each_item_charged_once(pg_url, item_ids)
    assert any(pid == victim.pid for _, pid, _ in calls)
