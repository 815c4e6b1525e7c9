"""The benchmarks' "every write" baselines write what the library writes.

A ratio against a hand-written baseline means something only if the
baseline writes the same rows. These tests run the library and the
baseline on two copies of one seeded database and compare, table by
table, the rows each wrote: how many, and the columns that carry meaning
(receipt numbers, totals and lines, event kinds and data, audit actions,
statuses). Ids and hashes are left out: the library draws random ids.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from benchmarks import case_webhooks as cw
from benchmarks.databases import SqliteFiles
from benchmarks.gateways import InstantGateway
from benchmarks.raw_collect import RawCollector
from benchmarks.seed import BENCH_NOW, seed_due_items

from enrollpay import PaymentSystem
from enrollpay.storage.sql import SqlStore
from enrollpay.testing import FrozenClock

COUNT = 12

#: What each table's rows are compared by (sorted, so order of writing does not matter).
_COMPARED = {
    "enrollpay_receipts": (
        "number, sequence, enrollment_id, user_id, product_id, product_name, method, "
        "lines, total_minor, currency, reference"
    ),
    "enrollpay_outbox": "kind, enrollment_id, data",
    "enrollpay_audit_log": "seq, actor, action, entity_type, entity_id",
    "enrollpay_payments": "enrollment_id, item_id, amount_minor, currency, method",
    "enrollpay_schedule_items": "id, status, amount_paid_minor, lease_until",
    "enrollpay_enrollments": "id, status",
    "enrollpay_payment_attempts": "item_id, number, status, amount_minor",
    "enrollpay_receipt_counters": "issuer, kind, last",
}


def _rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    found: dict[str, list[tuple[Any, ...]]] = {}
    try:
        with engine.connect() as conn:
            for table, columns in _COMPARED.items():
                rows = conn.execute(sa.text(f"SELECT {columns} FROM {table}")).all()  # noqa: S608 - our constants
                found[table] = sorted((_plain(row) for row in rows), key=repr)
    finally:
        engine.dispose()
    return found


def _plain(row: sa.Row[Any]) -> tuple[Any, ...]:
    """A row with JSON text parsed (key order and spacing are not the rows' meaning)."""
    out: list[Any] = []
    for value in row:
        parsed = json.loads(value) if isinstance(value, str) and value[:1] in "[{" else value
        out.append(
            json.dumps(parsed, sort_keys=True) if isinstance(parsed, list | dict) else parsed
        )
    return tuple(out)


def _seeded(tmp_path: Path, *, in_flight: bool) -> tuple[Path, Path]:
    files = SqliteFiles(tmp_path)
    seeded = files.new("seed.db")
    engine = sa.create_engine(SqliteFiles.url(seeded))
    try:
        seed_due_items(engine, COUNT, in_flight=in_flight)
    finally:
        engine.dispose()
    library, baseline = tmp_path / "library.db", tmp_path / "baseline.db"
    shutil.copy(seeded, library)
    shutil.copy(seeded, baseline)
    return library, baseline


def test_webhook_every_write_baseline_writes_the_library_s_rows(tmp_path: Path) -> None:
    """Webhooks: the fourth baseline writes the library's receipts, events and audit entries."""
    library, baseline = _seeded(tmp_path, in_flight=True)
    events = cw._events(COUNT)
    cw._library(library, events, COUNT)
    cw._raw(baseline, events, COUNT, cw._RawEveryWrite)
    wrote = _rows(SqliteFiles.url(library))
    assert len(wrote["enrollpay_receipts"]) == COUNT
    assert len(wrote["enrollpay_outbox"]) == 2 * COUNT
    assert _rows(SqliteFiles.url(baseline)) == wrote


def _collect_library(url: str) -> None:
    store = SqlStore.from_url(url, migrate=False)
    try:
        system = PaymentSystem(store=store, gateway=InstantGateway(), clock=FrozenClock(BENCH_NOW))
        assert system.collect_due().succeeded == COUNT
    finally:
        store.close()


def _collect_raw(url: str) -> None:
    raw = RawCollector(url, InstantGateway(), every_write=True)
    try:
        raw.collect_all(BENCH_NOW, segment=COUNT)
    finally:
        raw.close()
    assert raw.gateway.charged == COUNT


def test_collect_every_write_baseline_writes_the_library_s_rows_on_sqlite(tmp_path: Path) -> None:
    """collect_due on SQLite: the raw collector with every_write writes the library's rows."""
    library, baseline = _seeded(tmp_path, in_flight=False)
    _collect_library(SqliteFiles.url(library))
    _collect_raw(SqliteFiles.url(baseline))
    wrote = _rows(SqliteFiles.url(library))
    assert len(wrote["enrollpay_receipts"]) == COUNT
    assert {row[0] for row in wrote["enrollpay_outbox"]} == {
        "installment.paid",
        "enrollment.completed",
    }
    assert _rows(SqliteFiles.url(baseline)) == wrote


@pytest.mark.postgres
def test_collect_every_write_baseline_writes_the_library_s_rows_on_postgresql(
    pg_databases: Any,
) -> None:
    """The same on PostgreSQL, where the raw collector binds its own way (``%s``)."""
    urls = [pg_databases.create(), pg_databases.create()]
    try:
        for url in urls:
            engine = sa.create_engine(url, poolclass=sa.NullPool)
            try:
                seed_due_items(engine, COUNT)
            finally:
                engine.dispose()
        _collect_library(urls[0])
        _collect_raw(urls[1])
        wrote = _rows(urls[0])
        assert len(wrote["enrollpay_receipts"]) == COUNT
        assert _rows(urls[1]) == wrote
    finally:
        for url in urls:
            pg_databases.drop(url)
