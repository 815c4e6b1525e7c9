"""A collection run with faults injected while it runs (issue 20, item 2, at CI size).

Four collecting processes and one dispatcher work on a PostgreSQL server of
the test's own (so that it can be restarted), while the test:

- kills a collecting process with SIGKILL every two seconds, and starts a
  new one in its place, as a supervisor would;
- restarts PostgreSQL once, a quarter of the way (an immediate stop: every
  connection cut);
- opens a two-second 429 burst a tenth of the way;
- and the gateway (``pg_fault_workers.FaultyGateway``) answers 1% of the
  keys with a 500 before charging and loses the answer of another 1% after
  charging.

Afterwards every due item is charged exactly once at the gateway (counted
in its ledger) and paid once in the store, no item is left leased, the
audit chain is intact and every event of the outbox was delivered, its
effect applied once. The full size (1,000,000 items, 8 workers, a kill
every 30 s) is a benchmark, not a test.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from enrollpay import PaymentSystem
from enrollpay.storage.sql import SqlStore
from tests.conftest import _no_postgres
from tests.storage_support import PgCluster, PgDatabases, PgUnavailableError

from . import pg_fault_workers, pg_workers

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
SPAWN = multiprocessing.get_context("spawn")
ITEMS = 2_000
COLLECTORS = 4
KILL_EVERY_S = 2.0
MAX_KILLS = 12
DEADLINE_S = 900.0


@pytest.fixture
def cluster() -> Iterator[tuple[PgCluster, PgDatabases]]:
    """A PostgreSQL server of this test's own: restarting it disturbs no other test."""
    try:
        server = PgCluster()
    except PgUnavailableError as error:
        _no_postgres(str(error))
        raise  # unreachable: _no_postgres raises
    databases = PgDatabases(server.url)
    try:
        yield server, databases
    finally:
        databases.close()
        server.stop()


def _count(url: str, sql: str) -> int:
    """One number from the database, or -1 while the server is restarting."""
    try:
        with psycopg.connect(pg_workers.libpq(url), connect_timeout=2) as conn:
            row = conn.execute(sql).fetchone()
    except psycopg.Error:
        return -1
    return int(row[0]) if row else 0


def _collector(url: str, deadline: float) -> Any:
    process = SPAWN.Process(target=pg_fault_workers.collect_until_done, args=(url, deadline))
    process.start()
    return process


def test_collection_survives_kills_a_restart_and_gateway_faults(
    cluster: tuple[PgCluster, PgDatabases], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every item charged once, nothing stuck, the audit chain intact, every event delivered."""
    monkeypatch.syspath_prepend(str(ROOT))  # the spawned workers import tests.integration
    server, databases = cluster
    url = databases.create()
    item_ids = pg_workers.seed_due_items(url, ITEMS)
    with psycopg.connect(pg_workers.libpq(url), autocommit=True) as conn:
        conn.execute(pg_fault_workers.FAULT_TABLES)
    started = time.time()
    deadline = started + DEADLINE_S
    done = SPAWN.Event()
    dispatcher = SPAWN.Process(
        target=pg_fault_workers.dispatch_until_done, args=(url, deadline, done)
    )
    dispatcher.start()
    collectors = [_collector(url, deadline) for _ in range(COLLECTORS)]
    killed: list[Any] = []
    rng = random.Random(20)  # noqa: S311 - which worker dies, reproducibly
    restarted_at = burst_at = None
    next_kill = started + KILL_EVERY_S
    while any(p.is_alive() for p in collectors) and time.time() < deadline:
        charged = _count(url, "SELECT count(*) FROM test_charges")
        if burst_at is None and charged >= ITEMS // 10:  # a 429 burst of two seconds
            burst_at = time.time()
            with psycopg.connect(pg_workers.libpq(url), autocommit=True) as conn:
                conn.execute("INSERT INTO test_burst VALUES (%s, %s)", (burst_at, burst_at + 2))
        if restarted_at is None and charged >= ITEMS // 4:
            server.restart()
            restarted_at = time.time()
        if time.time() >= next_kill and len(killed) < MAX_KILLS and 0 < charged < ITEMS:
            alive = [p for p in collectors if p.is_alive()]
            if alive:
                victim = rng.choice(alive)
                os.kill(victim.pid, signal.SIGKILL)
                victim.join(timeout=30)
                killed.append(victim)
                collectors.remove(victim)
                collectors.append(_collector(url, deadline))
            next_kill = time.time() + KILL_EVERY_S
        time.sleep(0.1)
    for process in collectors:
        process.join(timeout=60)
    done.set()
    dispatcher.join(timeout=300)

    # The run finished, through every kind of fault.
    assert [p.exitcode for p in collectors] == [0] * COLLECTORS
    assert dispatcher.exitcode == 0
    assert [p.exitcode for p in killed] == [-signal.SIGKILL] * len(killed)
    assert len(killed) >= 3
    assert restarted_at is not None
    with psycopg.connect(pg_workers.libpq(url)) as conn:
        rows = conn.execute("SELECT kind, count(*) FROM test_faults GROUP BY kind").fetchall()
    faults: dict[str, int] = {str(kind): int(n) for kind, n in rows}
    assert {kind: faults.get(kind, 0) > 0 for kind in ("500", "lost", "429")} == {
        "500": True,
        "lost": True,
        "429": True,
    }
    # Each item charged exactly once at the gateway, paid once in the store.
    pg_workers.assert_each_item_charged_once(url, item_ids)
    store = SqlStore.from_url(url)
    try:
        system = PaymentSystem(store=store)
        now = datetime.now(UTC)
        items = system.list_schedule_items()
        assert len(items) == ITEMS
        # Nothing left leased past its lease.
        assert [i.id for i in items if i.lease_until is not None and i.lease_until > now] == []
        verified = system.verify_audit_chain()
        assert (verified.ok, verified.reason) == (True, None)
        # Every event delivered; the handler applied each once.
        assert system.list_events(delivered=False) == []
        events = {e.id for e in system.list_events()}
    finally:
        store.close()
    with psycopg.connect(pg_workers.libpq(url)) as conn:
        applied = {str(e) for (e,) in conn.execute("SELECT event_id FROM test_delivered")}
        calls = _count(url, "SELECT count(*) FROM test_delivery_calls")
    assert applied == events
    assert calls >= len(events)
    print(  # the run's figures, for `pytest -s` (docs/performance.md quotes them)
        f"items={ITEMS} seconds={time.time() - started:.0f} kills={len(killed)} faults={faults} "
        f"events={len(events)} handler_calls={calls}"
    )
