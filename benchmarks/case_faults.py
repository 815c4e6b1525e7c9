"""Case 12: the monthly run at scale with faults injected while it runs (issue 20, item 2).

1,000,000 due items (300 at the quick size) on a PostgreSQL server of the
case's own (it is restarted mid-run), collected by 8 processes (2 quick)
while one more dispatches the outbox's events to an idempotent handler,
through :class:`benchmarks.fault_workers.FaultyGateway`, which answers
after 20 ms (the monthly run's gateway, case 10) and keeps its ledger in
the database. The supervisor of :mod:`benchmarks.faults` kills a
collecting process with SIGKILL every 30 s (2 s quick) and starts another,
restarts PostgreSQL once a quarter of the way, opens a two-second 429
burst a tenth of the way; the gateway fails 1% of the keys with a 500 and
loses the answer of another 1%.

Reported: the wall time (to the last item paid, and to the last event
delivered), items per second, the kills, the faults by kind, the events
delivered and the handler's calls, and the checks (every due item charged
exactly once in the gateway's ledger and paid once, none still leased, the
audit chain intact, every event delivered and applied). A failed check
raises: the case never reports success for a run that lost or doubled a
charge. The ratio is the run's throughput against the gateway-bound limit
(every worker only waiting 20 ms an item), as in case 10. ``items``
(``--faults-items``) runs the full size's workers and faults at another
size.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import sqlalchemy as sa

from benchmarks.core import CaseResult
from benchmarks.durable_gateway import create_charge_tables
from benchmarks.faults import (
    FaultCheckError,
    FaultPlan,
    check_run,
    prepare,
    run_with_faults,
)
from benchmarks.machine import postgres_version
from benchmarks.pg_cluster import PgCluster, PgDatabases
from benchmarks.seed import seed_due_items

__all__ = ["plan_for", "run"]

LATENCY = 0.02
FULL_ITEMS = 1_000_000
QUICK_ITEMS = 300


def plan_for(*, quick: bool, items: int | None = None) -> FaultPlan:
    """The plan of a quick or a full-size run (``items`` changes only the count)."""
    count = items or (QUICK_ITEMS if quick else FULL_ITEMS)
    if quick:
        return FaultPlan(  # at most 5 kills: a new worker takes seconds to start here
            items=count,
            collectors=2,
            kill_every_s=2.0,
            max_kills=5,
            lease_s=3.0,
            latency_s=LATENCY,
        )
    return FaultPlan(
        items=count,
        collectors=8,
        kill_every_s=30.0,
        lease_s=10.0,
        latency_s=LATENCY,
        poll_s=1.0,
        deadline_s=max(3_600.0, count * 0.05),  # 14 hours for a million: a slow machine's
    )


def run(*, quick: bool, items: int | None = None) -> CaseResult:
    """One run with faults on a cluster of its own; raises if any check fails.

    :class:`benchmarks.pg_cluster.PgUnavailableError` if no cluster can be started.
    """
    plan = plan_for(quick=quick, items=items)
    cluster = PgCluster()
    try:
        databases = PgDatabases(cluster.url)
        url = databases.create()
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        try:  # due today by the wall clock: the workers' leases run out in real time
            due_ids = seed_due_items(engine, plan.items, now=datetime.now(UTC))
        finally:
            engine.dispose()
        create_charge_tables(url)
        prepare(url)
        outcome = run_with_faults(cluster, url, plan)
        checks = check_run(url, due_ids)
        version = postgres_version(url)
        databases.close()
    finally:
        cluster.stop()
    failures = outcome.failures() + checks.failures()
    if failures:
        raise FaultCheckError(f"the faults run failed its checks: {'; '.join(failures)}")
    throughput = plan.items / outcome.collect_s
    limit = plan.collectors / LATENCY
    return CaseResult(
        name="faults_postgres",
        title=(
            f"collect_due with faults, {plan.items:,} items, {plan.collectors} workers, "
            f"a kill every {plan.kill_every_s:g} s, PostgreSQL restarted, 20 ms gateway"
        ),
        library=1 / throughput,
        baseline=1 / limit,
        ratio=throughput / limit,
        target="every check passes (the ratio: share of the 20 ms gateway-bound limit)",
        met=not failures,
        unit="s/item (library: the run with faults; baseline: each worker only waiting 20 ms)",
        ratio_meaning="throughput / gateway-bound limit",
        sizes={
            "items": plan.items,
            "collectors": plan.collectors,
            "dispatchers": 1,
            "kill_every_s": plan.kill_every_s,
            "lease_s": plan.lease_s,
            "latency_s": LATENCY,
            "cores": os.cpu_count() or 0,
        },
        samples={"run": [1 / throughput]},
        extra={
            "postgresql": version,
            "wall_s": outcome.collect_s,
            "drained_s": outcome.drained_s,
            "items_per_second": throughput,
            "kills": len(outcome.killed),
            "restarted_at_s": outcome.restarted_at_s,
            "burst_at_s": outcome.burst_at_s,
            "faults": outcome.faults,
            "events_delivered": checks.events - checks.undelivered,
            "handler_calls": checks.handler_calls,
            "checks": {
                "charged_exactly_once": checks.charged == checks.items
                and not (checks.missing or checks.charged_twice or checks.stray_charges),
                "none_stuck_past_lease": checks.still_leased == 0 and checks.not_paid == 0,
                "chain_intact": checks.chain_ok,
                "every_event_delivered": checks.undelivered == 0 and checks.not_applied == 0,
                **checks.to_json(),
            },
        },
    )
