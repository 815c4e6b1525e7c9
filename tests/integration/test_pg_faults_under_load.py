"""A collection run with faults injected while it runs (issue 20, item 2, at CI size).

Four collecting processes and one dispatcher work on a PostgreSQL server of
the test's own (so that it can be restarted), while the supervisor of
``benchmarks/faults.py`` (shared with the benchmark case ``faults``):

- kills a collecting process with SIGKILL every two seconds, and starts a
  new one in its place, as a supervisor would;
- restarts PostgreSQL once, a quarter of the way (an immediate stop: every
  connection cut);
- opens a two-second 429 burst a tenth of the way;
- and the gateway (``benchmarks.fault_workers.FaultyGateway``) answers 1% of
  the keys with a 500 before charging and loses the answer of another 1%
  after charging.

Afterwards every due item is charged exactly once at the gateway (counted
in its ledger) and paid once in the store, no item is left leased, the
audit chain is intact and every event of the outbox was delivered, its
effect applied once: checked through the library's API here, and by the
benchmark's SQL checks (``benchmarks.faults.check_run``), which must agree.
The full size (1,000,000 items, 8 workers, a kill every 30 s) is the
benchmark ``python -m benchmarks --case faults``, not a test.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from benchmarks import faults as fault_run
from benchmarks import progress

from enrollpay import PaymentSystem
from enrollpay.storage.sql import SqlStore
from tests.conftest import _no_postgres
from tests.storage_support import PgCluster, PgDatabases, PgUnavailableError

from . import pg_workers

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
ITEMS = 2_000
COLLECTORS = 4
PLAN = fault_run.FaultPlan(
    items=ITEMS, collectors=COLLECTORS, kill_every_s=2.0, max_kills=12, deadline_s=900.0
)


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


def test_collection_survives_kills_a_restart_and_gateway_faults(
    cluster: tuple[PgCluster, PgDatabases], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every item charged once, nothing stuck, the audit chain intact, every event delivered."""
    monkeypatch.syspath_prepend(str(ROOT))  # the spawned workers import benchmarks
    server, databases = cluster
    url = databases.create()
    item_ids = pg_workers.seed_due_items(url, ITEMS)
    fault_run.prepare(url)
    run = fault_run.run_with_faults(server, url, PLAN)

    # The run finished, through every kind of fault.
    assert run.collectors == [0] * COLLECTORS
    assert run.dispatcher == 0
    assert run.killed == [-signal.SIGKILL] * len(run.killed)
    assert len(run.killed) >= 3
    assert run.restarted_at_s is not None
    faults = run.faults
    assert {kind: faults.get(kind, 0) > 0 for kind in ("500", "lost", "429")} == {
        "500": True,
        "lost": True,
        "429": True,
    }
    assert run.failures() == []
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
        calls = int(conn.execute("SELECT count(*) FROM test_delivery_calls").fetchone()[0])  # type: ignore[index]
    assert applied == events
    assert calls >= len(events)
    # The benchmark's checks, counted in SQL, find the same.
    checks = fault_run.check_run(url, item_ids)
    assert checks.failures() == []
    assert (checks.items, checks.charged, checks.events) == (ITEMS, ITEMS, len(events))
    assert (checks.handler_calls, checks.chain_entries) == (calls, verified.checked)
    # And the outside watcher of the full-size run (benchmarks.progress) counts the same.
    watched = progress.sample_once(url)
    assert (watched["charged"], watched["delivered"]) == (ITEMS, len(events))
    assert watched["faults"] == faults
    print(  # the run's figures, for `pytest -s` (docs/performance.md quotes them)
        f"items={ITEMS} seconds={run.drained_s:.0f} kills={len(run.killed)} faults={faults} "
        f"events={len(events)} handler_calls={calls}"
    )
