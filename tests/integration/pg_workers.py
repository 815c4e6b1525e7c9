"""Code that runs in worker processes of the PostgreSQL concurrency tests.

Spawned processes import this module by name, so it holds only plain
functions and a small gateway whose every charge is recorded durably in
the database (a killed process's records survive it).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import time
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import psycopg
import sqlalchemy as sa

from enrollpay import EnrollmentStatus, FullPayment, ItemStatus, PaymentSystem, SystemConfig
from enrollpay.clock import SystemClock
from enrollpay.domain.money import Money
from enrollpay.domain.records import Customer, Enrollment, Product, ScheduleItem
from enrollpay.errors import DuplicateEnrollmentError, GatewayRequestError
from enrollpay.ports import ChargeResult, GatewayEvent, GatewayRefund, PaymentSession
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

CHARGE_TABLES = """
CREATE TABLE test_charges (idempotency_key text PRIMARY KEY, item_id text NOT NULL,
                           pid int NOT NULL);
CREATE TABLE test_charge_calls (id serial PRIMARY KEY, idempotency_key text NOT NULL,
                                item_id text NOT NULL, pid int NOT NULL, replay boolean NOT NULL);
"""


def libpq(url: str) -> str:
    """A SQLAlchemy URL as libpq (psycopg) takes it."""
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_charge_tables(url: str) -> None:
    """Create the tables where the durable gateway records charges."""
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute(CHARGE_TABLES)


class DurableGateway:
    """Charges always succeed, once per idempotency key, and each call is recorded.

    ``test_charges`` holds one row per key that moved money (the primary key
    makes a second charge with the same key a replay, as a real gateway
    does); ``test_charge_calls`` logs every call with the caller's pid.
    """

    name = "durable-test"

    def __init__(self, url: str, *, delay: float = 0.0) -> None:
        self._conn = psycopg.connect(libpq(url), autocommit=True)
        self._delay = delay

    def amount_granularity(self, currency: str) -> int:
        """Any amount goes."""
        return 1

    def minimum_charge(self, currency: str) -> Money | None:
        """No minimum."""
        return None

    def ensure_customer(self, user_id: str, *, idempotency_key: str) -> str:
        """Customers are made by the test."""
        return f"cus_{user_id}"

    def charge_off_session(
        self,
        *,
        customer_id: str,
        payment_method_id: str,
        amount: Money,
        idempotency_key: str,
        metadata: Mapping[str, str],
        description: str = "",
    ) -> ChargeResult:
        """Record the charge durably (once per key) and report success."""
        if self._delay:
            time.sleep(self._delay)
        item_id = metadata["item_id"]
        with self._conn.transaction():
            moved = self._conn.execute(
                "INSERT INTO test_charges VALUES (%s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
                (idempotency_key, item_id, os.getpid()),
            ).fetchone()
            self._conn.execute(
                "INSERT INTO test_charge_calls (idempotency_key, item_id, pid, replay) "
                "VALUES (%s, %s, %s, %s)",
                (idempotency_key, item_id, os.getpid(), moved is None),
            )
        digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
        return ChargeResult(
            "succeeded",
            f"pi_{digest}",
            amount,
            payment_method_id=payment_method_id,
            customer_id=customer_id,
        )

    def start_payment(self, **_: Any) -> PaymentSession:
        """Not used by these tests."""
        raise GatewayRequestError("on-session payments are not part of this test gateway")

    def payment_status(
        self, *, gateway_payment_id: str | None, idempotency_key: str, amount: Money
    ) -> ChargeResult | None:
        """Unknown outcomes do not happen here."""
        return None

    def cancel_payment(self, *, gateway_payment_id: str, idempotency_key: str) -> ChargeResult:
        """Not used by these tests (there are no on-session payments to cancel)."""
        raise GatewayRequestError("cancellations are not part of this test gateway")

    def refund(self, **_: Any) -> GatewayRefund:
        """Not used by these tests."""
        raise GatewayRequestError("refunds are not part of this test gateway")

    def start_payment_method_update(
        self, *, customer_id: str, idempotency_key: str, metadata: Mapping[str, str] | None = None
    ) -> str:
        """Not used by these tests."""
        raise GatewayRequestError("setup flows are not part of this test gateway")

    def parse_webhook(
        self, payload: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> GatewayEvent:
        """Not used by these tests."""
        raise GatewayRequestError("webhooks are not part of this test gateway")


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
