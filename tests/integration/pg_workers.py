"""Code that runs in worker processes of the PostgreSQL concurrency tests.

Spawned processes import this module by name, so it holds only plain
functions; they charge through the gateway whose every charge is recorded
durably in the database (a killed process's records survive it), which
lives in ``benchmarks/durable_gateway.py`` (the faults benchmark uses it
too).
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import psycopg
from benchmarks.databases import libpq
from benchmarks.durable_gateway import DurableGateway, create_charge_tables

from enrollpay import EnrollmentStatus, FullPayment, ItemStatus, PaymentSystem, SystemConfig
from enrollpay.clock import SystemClock
from enrollpay.domain.money import Money
from enrollpay.domain.records import Customer, Enrollment, Product, ScheduleItem
from enrollpay.errors import DuplicateEnrollmentError
from enrollpay.storage.sql import SqlStore

__all__ = [
    "DurableGateway",
    "assert_each_item_charged_once",
    "collect_worker",
    "create_charge_tables",
    "enroll_worker",
    "libpq",
    "rolling_back_collect_worker",
    "seed_due_items",
]


def seed_due_items(url: str, count: int) -> list[str]:
    """``count`` users, each with one full-payment item due yesterday and a saved card."""
    now = SystemClock().now()
    due = now.date() - timedelta(days=1)
    price = Money.of("10.00", "USD")
    store = SqlStore.from_url(url)
    with store.transaction() as tx:
        tx.put_product(Product("prod_1", "course", "c-1", "Course", price, created_at=now))
        for n in range(count):
            enrollment = Enrollment(
                id=f"enr_{n:04d}",
                user_id=f"u-{n}",
                product_id="prod_1",
                status=EnrollmentStatus.PENDING_PAYMENT,
                plan=FullPayment(),
                price=price,
                start_date=due,
                created_at=now,
                updated_at=now,
            )
            tx.add_enrollment(enrollment)
            tx.add_items(
                [
                    ScheduleItem(
                        id=f"itm_{n:04d}",
                        enrollment_id=enrollment.id,
                        seq=1,
                        kind="full",
                        due=due,
                        amount=price,
                        status=ItemStatus.SCHEDULED,
                        amount_paid=Money.zero("USD"),
                    )
                ]
            )
            tx.put_customer(Customer(f"u-{n}", f"cus_{n}", "pm_card_visa"))
    store.close()
    create_charge_tables(url)
    return [f"itm_{n:04d}" for n in range(count)]


def assert_each_item_charged_once(url: str, item_ids: list[str]) -> list[tuple[str, int, bool]]:
    """Every item paid, with exactly one money-moving charge under one key; returns the calls."""
    with psycopg.connect(libpq(url)) as conn:
        rows = conn.execute("SELECT item_id, pid, replay FROM test_charge_calls ORDER BY id")
        calls = [(str(k), int(p), bool(r)) for k, p, r in rows.fetchall()]
        moved = Counter(str(i) for (i,) in conn.execute("SELECT item_id FROM test_charges"))
        per_item = conn.execute(
            "SELECT item_id, count(DISTINCT idempotency_key) FROM test_charge_calls "
            "GROUP BY item_id"
        )
        keys_per_item: dict[str, int] = {str(i): int(n) for i, n in per_item.fetchall()}
    assert moved == dict.fromkeys(item_ids, 1)
    assert set(keys_per_item.values()) == {1}
    store = SqlStore.from_url(url)
    with store.transaction() as tx:
        items = [tx.get_item(i) for i in item_ids]
        payments = [p for i in items if i is not None for p in tx.payments_of(i.enrollment_id)]
    store.close()
    assert {i.status for i in items if i is not None} == {ItemStatus.PAID}
    assert len(payments) == len(item_ids)
    return calls


def enroll_worker(url: str, product_id: str, barrier: Any, results: Any) -> None:
    """Enroll ``u-1`` in the product at the same moment as a twin process."""
    system = PaymentSystem(store=SqlStore.from_url(url, pool_size=1))
    barrier.wait(timeout=60)
    try:
        result = system.enroll(user_id="u-1", product_id=product_id)
    except DuplicateEnrollmentError as error:
        results.put(("duplicate", error.existing_id))
    else:
        results.put(("enrolled", result.enrollment_id))


def collect_worker(url: str, go: Any, lease_seconds: float, delay: float, deadline: float) -> None:
    """Run ``collect_due`` until every item is paid (or the deadline passes)."""
    store = SqlStore.from_url(url, pool_size=2)
    config = SystemConfig(lease=timedelta(seconds=lease_seconds), batch_size=10)
    system = PaymentSystem(store=store, gateway=DurableGateway(url, delay=delay), config=config)
    go.wait(timeout=60)
    while time.monotonic() < deadline:
        if system.collect_due().outcomes:
            continue
        if not system.list_schedule_items(status=["scheduled", "processing", "failed"]):
            return
        time.sleep(0.2)  # the rest is leased by others (or by a dead worker)


def rolling_back_collect_worker(
    url: str, go: Any, rollbacks: Any, fail_every: int, deadline: float
) -> None:
    """Like :func:`collect_worker`, but every ``fail_every``-th charge's unit of work rolls back.

    The rollback comes after the payment and its receipt were written (at
    the ``before_commit`` point), so the receipt number taken is given back;
    the item stays leased, and once the 1 s lease runs out a worker charges
    it again with the same key (the gateway replays the first charge).
    ``rollbacks`` (a shared integer) counts them.
    """
    calls = itertools.count(1)

    def faults(point: str) -> None:
        if point == "before_commit" and next(calls) % fail_every == 0:
            raise RuntimeError("injected rollback")

    store = SqlStore.from_url(url, pool_size=2)
    config = SystemConfig(lease=timedelta(seconds=1), batch_size=5)
    system = PaymentSystem(store=store, gateway=DurableGateway(url), config=config, faults=faults)
    go.wait(timeout=60)
    while time.monotonic() < deadline:
        try:
            if system.collect_due().outcomes:
                continue
        except RuntimeError:
            with rollbacks.get_lock():
                rollbacks.value += 1
            continue
        if not system.list_schedule_items(status=["scheduled", "processing", "failed"]):
            return
        time.sleep(0.2)  # the rest is leased by others (or waits for its lease to run out)
