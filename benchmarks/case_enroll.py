"""Case 2: enrollments per second through ``PaymentSystem.enroll`` against raw ``sqlite3``.

The library enrolls new users in a product pinned to 12 installments after
a 10% deposit, with the fake gateway, on an SQLite file: the enrollment, its
13 schedule items, the first attempt and the audit entry in one
transaction, then the customer and the on-session payment at the gateway.
The baseline writes the same rows (enrollment, 13 items, attempt, audit
entry with its hash link) with ``sqlite3`` in one ``BEGIN IMMEDIATE``
transaction each, on a copy of the same database. A second baseline
(``ratio_to_same_writes_baseline``) also makes the library's second
transaction: the customer, the payment's gateway id and their audit
entries.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import time
import uuid
from datetime import timedelta
from pathlib import Path

from benchmarks.case_schedule import inline_schedule
from benchmarks.core import CaseResult, median, throughput_extra
from benchmarks.databases import SqliteFiles
from benchmarks.rawsql import AuditChain, sqlite_instant
from benchmarks.seed import BENCH_NOW
from enrollpay import Deposit, Installments, Money, PaymentSystem
from enrollpay.domain.plans import plan_to_data
from enrollpay.storage.sql import SqlStore
from enrollpay.testing import FakeGateway, FrozenClock

__all__ = ["run"]

PLAN = Installments(12, deposit=Deposit.percent(10))
PRICE = Money.of("1299.99", "USD")
_ONE_YEAR = json.dumps({"unit": "years", "count": 1})


class _Library:
    def __init__(self, path: Path) -> None:
        self.clock = FrozenClock(BENCH_NOW)
        self.store = SqlStore.from_url(SqliteFiles.url(path), migrate=False)
        self.system = PaymentSystem(
            store=self.store, gateway=FakeGateway(clock=self.clock), clock=self.clock
        )
        self.product = self.system.register_product(
            product_type="course",
            product_id="bench",
            name="Benchmark Course",
            price=PRICE,
            payment_plan=PLAN,
        )
        self.users = itertools.count()

    def enroll(self, count: int) -> int:
        for _ in range(count):
            result = self.system.enroll(user_id=f"u-{next(self.users)}", product_id=self.product.id)
            assert result.client_secret is not None  # noqa: S101 - the first payment opened
        return count


class _Raw:
    def __init__(self, path: Path, product_id: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.product_id = product_id
        self.plan = json.dumps(plan_to_data(PLAN))
        self.users = itertools.count()

    def enroll(self, count: int) -> int:
        conn = self.conn
        now = BENCH_NOW
        at = sqlite_instant(now)
        checkout = sqlite_instant(now + timedelta(hours=23))  # the checkout window lease
        today = now.date()
        for _ in range(count):
            user = f"u-{next(self.users)}"
            enrollment_id = f"enr_{uuid.uuid4().hex}"
            lines = inline_schedule(PRICE.minor, today)
            item_ids = [f"itm_{uuid.uuid4().hex}" for _ in lines]
            attempt_id = f"att_{uuid.uuid4().hex}"
            conn.execute("BEGIN IMMEDIATE")
            open_ = conn.execute(
                "SELECT 1 FROM enrollpay_enrollments WHERE user_id = ? AND product_id = ? "
                "AND status != 'cancelled'",
                (user, self.product_id),
            ).fetchone()
            assert open_ is None  # noqa: S101 - the same duplicate check the library makes
            conn.execute(
                "INSERT INTO enrollpay_enrollments (id, user_id, product_id, status, plan, "
                "price_minor, currency, start_date, created_at, updated_at, meta) "
                "VALUES (?, ?, ?, 'pending_payment', ?, ?, 'USD', ?, ?, ?, '{}')",
                (
                    enrollment_id,
                    user,
                    self.product_id,
                    self.plan,
                    PRICE.minor,
                    today.isoformat(),
                    at,
                    at,
                ),
            )
            conn.executemany(
                "INSERT INTO enrollpay_schedule_items (id, enrollment_id, seq, kind, due, "
                "amount_minor, amount_paid_minor, currency, status, failures, lease_until, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, 0, 'USD', ?, 0, ?, ?)",
                [
                    (
                        item_id,
                        enrollment_id,
                        seq,
                        kind,
                        due.isoformat(),
                        amount,
                        "processing" if seq == 1 else "scheduled",
                        checkout if seq == 1 else None,
                        at,
                    )
                    for item_id, (seq, kind, due, amount) in zip(item_ids, lines, strict=True)
                ],
            )
            conn.execute(
                "INSERT INTO enrollpay_payment_attempts (id, item_id, enrollment_id, number, "
                "idempotency_key, status, amount_minor, currency, mode, created_at, updated_at) "
                "VALUES (?, ?, ?, 1, ?, 'pending', ?, 'USD', 'on_session', ?, ?)",
                (
                    attempt_id,
                    item_ids[0],
                    enrollment_id,
                    f"item:{item_ids[0]}:attempt:1",
                    lines[0][3],
                    at,
                    at,
                ),
            )
            AuditChain.append(
                conn.execute,
                at=now,
                stored_at=at,
                actor=user,
                action="enrollment.created",
                entity_type="enrollment",
                entity_id=enrollment_id,
                data={
                    "product_id": self.product_id,
                    "plan": "installments",
                    "items": 13,
                    "first_attempt": attempt_id,
                },
            )
            conn.execute("COMMIT")
            self.after_commit(user, attempt_id, item_ids[0])
        return count

    def after_commit(self, user: str, attempt_id: str, item_id: str) -> None:
        """Nothing more: the issue's baseline ends with the enrollment's transaction."""


class _RawSameWrites(_Raw):
    """The baseline plus the second transaction the library must make.

    After the gateway answers, the library records the new student's gateway
    customer and the payment's gateway id, each with its audit entry, in a
    transaction of its own: the first one is committed before the gateway is
    called, so a crash between the two cannot lose the attempt or charge
    twice. This variant makes the same writes, so the report can tell that
    work from the library's own overhead.
    """

    def after_commit(self, user: str, attempt_id: str, item_id: str) -> None:
        """The customer, the attempt's gateway id, two audit entries: one transaction."""
        conn = self.conn
        at = sqlite_instant(BENCH_NOW)
        customer_id = f"cus_{user}"
        payment_id = f"pi_{attempt_id}"
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO enrollpay_customers (user_id, gateway_customer_id) VALUES (?, ?)",
            (user, customer_id),
        )
        conn.execute(
            "UPDATE enrollpay_payment_attempts SET gateway_payment_id = ?, updated_at = ? "
            "WHERE id = ?",
            (payment_id, at, attempt_id),
        )
        last = None
        for action, entity_type, entity_id, data in (
            ("customer.created", "customer", user, {"gateway_customer_id": customer_id}),
            ("payment.session_opened", "schedule_item", item_id,
             {"attempt_id": attempt_id, "gateway_payment_id": payment_id}),
        ):  # fmt: skip
            last = AuditChain.append(
                conn.execute,
                at=BENCH_NOW,
                stored_at=at,
                actor="system",
                action=action,
                entity_type=entity_type,
                entity_id=entity_id,
                data=data,
                last=last,
            )
        conn.execute("COMMIT")


def run(*, files: SqliteFiles, quick: bool) -> CaseResult:
    """Median seconds per enrollment of each, over interleaved blocks."""
    per_block, repeats = (20, 3) if quick else (200, 7)
    library = _Library(files.new("enroll-library.db"))
    raw = _Raw(files.new("enroll-raw.db"), library.product.id)
    same = _RawSameWrites(files.new("enroll-same.db"), library.product.id)
    for baseline in (raw, same):
        with baseline.conn:  # the product row the raw enrollments point at
            baseline.conn.execute("BEGIN IMMEDIATE")
            baseline.conn.execute(
                "INSERT INTO enrollpay_products (id, product_type, product_id, name, "
                "price_minor, currency, active, auto_assign_payment_plan, payment_plan, "
                "offered_plans, service_period) VALUES (?, 'course', 'bench', "
                "'Benchmark Course', ?, 'USD', 1, 0, ?, '[]', ?)",
                (library.product.id, PRICE.minor, baseline.plan, _ONE_YEAR),
            )
            baseline.conn.execute("COMMIT")
    library.enroll(5)  # warm-up: statement caches, first connections
    raw.enroll(5)
    same.enroll(5)
    lib_times: list[float] = []
    raw_times: list[float] = []
    same_times: list[float] = []
    for _ in range(repeats):
        for runner, times in ((library, lib_times), (raw, raw_times), (same, same_times)):
            start = time.perf_counter()
            runner.enroll(per_block)
            times.append((time.perf_counter() - start) / per_block)
    library.store.close()
    raw.conn.close()
    same.conn.close()
    lib, base, same_writes = median(lib_times), median(raw_times), median(same_times)
    return CaseResult(
        name="enroll",
        title="enroll (fake gateway, SQLite file), per enrollment",
        library=lib,
        baseline=base,
        ratio=lib / base,
        target="<= 2.5; <= 1.8 against the same writes",
        met=lib / base <= 2.5 and lib / same_writes <= 1.8,
        sizes={"enrollments_per_block": per_block, "blocks": repeats, "schedule_rows": 13},
        samples={"library": lib_times, "baseline": raw_times, "same_writes": same_times},
        extra=throughput_extra(lib, base, same_writes),
    )
