"""Receipt numbers under real concurrency: four worker processes against one PostgreSQL."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from enrollpay.storage.sql import SqlStore

from . import pg_workers
from .pg_workers import assert_each_item_charged_once, seed_due_items
from .test_pg_concurrency import SPAWN
from .test_pg_concurrency import spawnable as spawnable  # noqa: PLC0414 - re-exported fixture

pytestmark = pytest.mark.postgres


def _receipt_numbers(url: str, item_ids: list[str]) -> list[int]:
    """The receipt sequences of the items' payments; each payment must have exactly one."""
    store = SqlStore.from_url(url)
    try:
        with store.transaction() as tx:
            items = [tx.get_item(i) for i in item_ids]
            payments = [p for i in items if i is not None for p in tx.payments_of(i.enrollment_id)]
            receipts = [tx.receipt_for_payment(p.id) for p in payments]
    finally:
        store.close()
    assert len(payments) == len(item_ids)
    assert all(r is not None for r in receipts)
    assert {r.payment_id for r in receipts if r is not None} == {p.id for p in payments}
    assert {r.number for r in receipts if r is not None} == {
        f"R-{r.sequence:06d}" for r in receipts if r is not None
    }
    return sorted(r.sequence for r in receipts if r is not None)


@pytest.mark.usefixtures("spawnable")
def test_four_processes_number_receipts_without_gaps_through_rollbacks(pg_url: str) -> None:
    """4 processes collect 150 items; every 7th unit of work rolls back after its receipt.

    Every payment ends with exactly one receipt and the numbers are exactly
    1..150: nothing given twice, nothing skipped, although numbers were
    taken and given back by the rollbacks while the others were numbering.
    """
    item_ids = seed_due_items(pg_url, 150)
    go = SPAWN.Event()
    rollbacks = SPAWN.Value("i", 0)
    deadline = time.monotonic() + 150
    args = (pg_url, go, rollbacks, 7, deadline)
    workers = [
        SPAWN.Process(target=pg_workers.rolling_back_collect_worker, args=args) for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    go.set()
    for worker in workers:
        worker.join(timeout=200)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]

    calls = assert_each_item_charged_once(pg_url, item_ids)
    assert rollbacks.value >= 4  # the rollbacks really happened (each worker's 7th, 14th, ...)
    assert len({pid for _, pid, _ in calls}) >= 2  # the work really was shared
    assert Counter(replay for _, _, replay in calls)[True] >= 1  # rolled-back charges were redone
    assert _receipt_numbers(pg_url, item_ids) == list(range(1, 151))
