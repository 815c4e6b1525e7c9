"""Case 4: signed ``payment_intent.succeeded`` webhooks through ``handle_webhook``.

Each event settles one in-flight off-session charge (seeded in bulk): the
library verifies the signature, deduplicates by event id and records the
payment, the paid item, the completed enrollment and their audit entries in
one transaction. The baseline does the minimum by hand with ``sqlite3``:
the HMAC check (with the timestamp tolerance), the JSON parse, the dedupe
insert of the event id and the row updates (attempt succeeded, item paid),
in one ``BEGIN IMMEDIATE`` transaction per event. A second baseline
also makes the library's other writes (payment, audit entry, enrollment
status), a third adds the event's two outbox rows, and a fourth writes
every row the library writes (also the receipt with its number and the
status change's audit entry); their ratios are reported alongside.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import time
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks.core import CaseResult, median, throughput_extra
from benchmarks.databases import SqliteFiles
from benchmarks.rawsql import AuditChain, add_events, add_receipt, sqlite_instant
from benchmarks.seed import BENCH_NOW, INSTALLMENT_MINOR, seed_due_items
from enrollpay import PaymentSystem
from enrollpay.gateways.signing import sign_payload
from enrollpay.storage.sql import SqlStore
from enrollpay.testing import FakeGateway, FrozenClock

__all__ = ["run"]

SECRET = "whsec_bench"  # noqa: S105 - a benchmark's own test secret
_COMPLETED = {"from": "active", "to": "completed"}
Event = tuple[bytes, dict[str, str]]


def _events(count: int) -> list[Event]:
    stamp = int(BENCH_NOW.timestamp())
    events: list[Event] = []
    for n in range(count):
        body = {
            "id": f"evt_bench_{n:07d}",
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": stamp,
            "livemode": False,
            "data": {
                "object": {
                    "id": f"pi_bench_{n:07d}",
                    "object": "payment_intent",
                    "amount": INSTALLMENT_MINOR,
                    "currency": "usd",
                    "customer": f"cus_{n:07d}",
                    "payment_method": "pm_card_visa",
                    "status": "succeeded",
                    "metadata": {"attempt_id": f"att_{n:07d}", "item_id": f"itm_{n:07d}_2"},
                    "last_payment_error": None,
                }
            },
        }
        payload = json.dumps(body, separators=(",", ":")).encode()
        events.append((payload, {"Stripe-Signature": sign_payload(payload, SECRET, stamp)}))
    return events


def _library(path: Path, events: list[Event], segment: int) -> list[float]:
    clock = FrozenClock(BENCH_NOW)
    store = SqlStore.from_url(SqliteFiles.url(path), migrate=False)
    # The events were signed at BENCH_NOW, ahead of time: that is the wall clock too.
    system = PaymentSystem(store=store, gateway=FakeGateway(webhook_secret=SECRET, clock=clock),
                           clock=clock, wall_clock=clock)  # fmt: skip
    times: list[float] = []
    processed = 0
    start = time.perf_counter()
    for n, (payload, headers) in enumerate(events, start=1):
        processed += system.handle_webhook(payload, headers).result == "processed"
        if n % segment == 0:
            now = time.perf_counter()
            times.append(now - start)
            start = now
    store.close()
    if processed != len(events):
        raise AssertionError(f"the library processed {processed} of {len(events)} events")
    return times


class _Raw:
    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.secret = SECRET.encode()

    def verify(self, payload: bytes, headers: Mapping[str, str]) -> None:
        parts = dict(p.split("=", 1) for p in headers["Stripe-Signature"].split(","))
        stamp = int(parts["t"])
        if abs(BENCH_NOW.timestamp() - stamp) > 300:
            raise ValueError("stale")
        signed = parts["t"].encode() + b"." + payload
        expected = hmac.new(self.secret, signed, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, parts["v1"]):
            raise ValueError("bad signature")

    def handle(self, payload: bytes, headers: Mapping[str, str]) -> bool:
        self.verify(payload, headers)
        event = json.loads(payload)
        intent = event["data"]["object"]
        at = sqlite_instant(BENCH_NOW)
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        fresh = conn.execute(
            "INSERT INTO enrollpay_webhook_receipts (event_id, event_type, received_at, outcome) "
            "VALUES (?, ?, ?, 'processed') ON CONFLICT DO NOTHING",
            (event["id"], event["type"], at),
        ).rowcount
        if fresh:
            self.apply(intent, at)
        conn.execute("COMMIT")
        return bool(fresh)

    def apply(self, intent: dict[str, Any], at: str) -> None:
        """The row changes of a fresh event: the attempt succeeded, its item paid."""
        self.conn.execute(
            "UPDATE enrollpay_payment_attempts SET status = 'succeeded', updated_at = ? "
            "WHERE gateway_payment_id = ?",
            (at, intent["id"]),
        )
        self.conn.execute(
            "UPDATE enrollpay_schedule_items SET status = 'paid', amount_paid_minor = ?, "
            "paid_at = ?, updated_at = ? WHERE id = (SELECT item_id FROM "
            "enrollpay_payment_attempts WHERE gateway_payment_id = ?)",
            (intent["amount"], at, at, intent["id"]),
        )


class _RawSameWrites(_Raw):
    """The baseline plus the other writes the library must make for the event.

    The issue's baseline leaves out the payment row, the audit entry (linked
    to the chain's last one) and the enrollment's status; the library cannot.
    This variant adds them, so the report can tell how much of the gap is
    that work and how much is the library's own overhead.
    """

    #: The (item, enrollment) the last event settled.
    settled: tuple[str, str] = ("", "")

    def apply(self, intent: dict[str, Any], at: str) -> None:
        """The attempt succeeded, its item paid, the payment, the audit entry, the status."""
        conn = self.conn
        attempt_id, item_id, enrollment_id = conn.execute(
            "UPDATE enrollpay_payment_attempts SET status = 'succeeded', updated_at = ? "
            "WHERE gateway_payment_id = ? RETURNING id, item_id, enrollment_id",
            (at, intent["id"]),
        ).fetchone()
        self.settled = (item_id, enrollment_id)
        conn.execute(
            "UPDATE enrollpay_schedule_items SET status = 'paid', amount_paid_minor = ?, "
            "paid_at = ?, updated_at = ? WHERE id = ?",
            (intent["amount"], at, at, item_id),
        )
        payment_id = f"pay_{item_id}"
        conn.execute(
            "INSERT INTO enrollpay_payments (id, enrollment_id, item_id, amount_minor, "
            "currency, method, received_at, gateway_payment_id, attempt_id) "
            "VALUES (?, ?, ?, ?, ?, 'gateway', ?, ?, ?)",
            (payment_id, enrollment_id, item_id, intent["amount"], "USD", at, intent["id"],
             attempt_id),
        )  # fmt: skip
        AuditChain.append(
            conn.execute,
            at=BENCH_NOW,
            stored_at=at,
            actor="gateway",
            action="payment.succeeded",
            entity_type="schedule_item",
            entity_id=item_id,
            data={"attempt_id": attempt_id, "payment_id": payment_id},
        )
        conn.execute(
            "UPDATE enrollpay_enrollments SET status = 'completed', updated_at = ? "
            "WHERE id = ? AND NOT EXISTS (SELECT 1 FROM enrollpay_schedule_items WHERE "
            "enrollment_id = ? AND status NOT IN ('paid', 'waived', 'cancelled'))",
            (at, enrollment_id, enrollment_id),
        )


class _RawSameWritesAndEvents(_RawSameWrites):
    """The same writes plus the two outbox rows the library writes for the event.

    Since the state-machine redesign (issue 15) the library also records
    ``installment.paid`` and ``enrollment.completed`` in the outbox, in the
    event's transaction. This third baseline inserts those rows too (random
    ids, the same JSON data), so the report shows what they cost a hand-written
    handler.
    """

    def apply(self, intent: dict[str, Any], at: str) -> None:
        """The same writes, then the two events in one ``executemany``."""
        super().apply(intent, at)
        item_id, enrollment_id = self.settled
        amount = {"minor": intent["amount"], "currency": "USD"}
        paid = {"item_id": item_id, "seq": 2, "amount": amount, "paid": amount}
        add_events(
            self.conn.executemany,
            enrollment_id,
            at,
            [("installment.paid", paid), ("enrollment.completed", _COMPLETED)],
        )


class _RawEveryWrite(_RawSameWritesAndEvents):
    """Every row the library writes for the event, and nothing it only reads.

    Since the receipts (issue 17) the library also numbers and stores the
    payment's receipt in the event's transaction, and it audits the
    enrollment's status change as an entry of its own. This fourth baseline
    adds those rows (the receipt counter, the receipt, the second audit
    entry), so its ratio measures the library's own work: the reads its
    rules make before writing, the state machine, the mapping and the SQL
    layer.
    """

    def apply(self, intent: dict[str, Any], at: str) -> None:
        """The same writes and events, the status change's audit entry, then the receipt."""
        super().apply(intent, at)
        item_id, enrollment_id = self.settled
        conn = self.conn
        AuditChain.append(
            conn.execute,
            at=BENCH_NOW,
            stored_at=at,
            actor="gateway",
            action="enrollment.status_changed",
            entity_type="enrollment",
            entity_id=enrollment_id,
            data=_COMPLETED,
        )
        user_id, product_id, product_name, kind, seq, due = conn.execute(
            "SELECT e.user_id, p.id, p.name, i.kind, i.seq, i.due FROM enrollpay_schedule_items i "
            "JOIN enrollpay_enrollments e ON e.id = i.enrollment_id "
            "JOIN enrollpay_products p ON p.id = e.product_id WHERE i.id = ?",
            (item_id,),
        ).fetchone()
        add_receipt(
            conn.execute,
            payment_id=f"pay_{item_id}",
            enrollment_id=enrollment_id,
            user_id=user_id,
            product=(product_id, product_name),
            item=(kind, seq, date.fromisoformat(due)),
            amount=(intent["amount"], "USD"),
            stored_at=at,
            reference=intent["id"],
        )


def _raw(path: Path, events: list[Event], segment: int, kind: type[_Raw] = _Raw) -> list[float]:
    raw = kind(path)
    times: list[float] = []
    processed = 0
    start = time.perf_counter()
    for n, (payload, headers) in enumerate(events, start=1):
        processed += raw.handle(payload, headers)
        if n % segment == 0:
            now = time.perf_counter()
            times.append(now - start)
            start = now
    raw.conn.close()
    if processed != len(events):
        raise AssertionError(f"the baseline processed {processed} of {len(events)} events")
    return times


def run(*, files: SqliteFiles, quick: bool) -> CaseResult:
    """Median seconds per event over segments of consecutive events."""
    count, segment = (500, 100) if quick else (50_000, 5_000)
    seeded = files.new("webhooks-seed.db")
    engine = sa.create_engine(SqliteFiles.url(seeded))
    try:
        seed_due_items(engine, count, in_flight=True)
    finally:
        engine.dispose()
    events = _events(count)
    lib_db, raw_db = files.copy(seeded, "webhooks-lib.db"), files.copy(seeded, "webhooks-raw.db")
    same_db = files.copy(seeded, "webhooks-same.db")
    events_db = files.copy(seeded, "webhooks-same-events.db")
    every_db = files.copy(seeded, "webhooks-every-write.db")
    library = [t / segment for t in _library(lib_db, events, segment)]
    baseline = [t / segment for t in _raw(raw_db, events, segment)]
    same_writes = [t / segment for t in _raw(same_db, events, segment, _RawSameWrites)]
    with_events = [t / segment for t in _raw(events_db, events, segment, _RawSameWritesAndEvents)]
    every_write = [t / segment for t in _raw(every_db, events, segment, _RawEveryWrite)]
    lib, base, same = median(library), median(baseline), median(same_writes)
    same_events, every = median(with_events), median(every_write)
    return CaseResult(
        name="webhooks",
        title=f"handle_webhook, {count:,} signed payment_intent.succeeded (SQLite), per event",
        library=lib,
        baseline=base,
        ratio=lib / base,
        target="<= 3; <= 1.5 against the same writes",
        met=lib / base <= 3 and lib / same <= 1.5,
        sizes={"events": count, "events_per_segment": segment},
        samples={
            "library": library,
            "baseline": baseline,
            "same_writes": same_writes,
            "same_writes_and_events": with_events,
            "every_write": every_write,
        },
        extra={
            **throughput_extra(lib, base, same),
            "same_writes_and_events_baseline_s": same_events,
            "ratio_to_same_writes_and_events_baseline": lib / same_events,
            "every_write_baseline_s": every,
            "ratio_to_every_write_baseline": lib / every,
        },
    )
