"""A collection run with faults injected while it runs, and the checks after it (issue 20, item 2).

Shared by the CI test (``tests/integration/test_pg_faults_under_load.py``,
2,000 items) and the benchmark case ``faults`` (1,000,000 items at full
size). :func:`run_with_faults` starts collecting processes and one
dispatcher (:mod:`benchmarks.fault_workers`) on a PostgreSQL server the
caller owns, and, as a supervisor would, while they run:

- kills a collecting process with SIGKILL every ``kill_every_s`` seconds
  and starts a new one in its place;
- restarts PostgreSQL once, when ``restart_share`` of the items were
  charged (an immediate stop: every connection cut);
- opens a 429 burst of ``burst_s`` seconds when ``burst_share`` were
  charged (kept open until it has refused at least one charge);
- while the gateway (:class:`benchmarks.fault_workers.FaultyGateway`)
  answers 1% of the keys with a 500 before charging and loses the answer
  of another 1% after charging.

:func:`check_run` then counts, in SQL (so that it holds no per-item memory
at a million items): every due item charged exactly once at the gateway
(its ledger) and paid once in the store, no item still leased, the audit
chain intact (streamed through :func:`enrollpay.audit.verify_audit_chain`),
every outbox event delivered and applied by the handler.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import psycopg
import sqlalchemy as sa

from benchmarks.databases import libpq
from benchmarks.fault_workers import (
    FAULT_TABLES,
    LEASE_SECONDS,
    collect_until_done,
    dispatch_until_done,
)
from enrollpay.audit import verify_audit_chain
from enrollpay.storage.sql.mapping.journal import audit_from_row
from enrollpay.storage.sql.schema import audit_log, payments, schedule_items

__all__ = [
    "FaultCheckError",
    "FaultChecks",
    "FaultPlan",
    "FaultRun",
    "Restartable",
    "check_run",
    "faults_by_kind",
    "prepare",
    "run_with_faults",
]

SPAWN = multiprocessing.get_context("spawn")
#: The fault kinds every run must have met (``ledger`` only happens if a charge meets the restart).
EXPECTED_FAULTS = ("500", "lost", "429")


class FaultCheckError(AssertionError):
    """A check after a faults run failed: the message names every failure."""


class Restartable(Protocol):
    """A PostgreSQL server the run owns: it can be restarted as a crash would."""

    def restart(self) -> None:
        """Stop the server at once (every connection cut) and start it again."""


@dataclass(frozen=True)
class FaultPlan:
    """The size of a faults run and when its faults come."""

    items: int
    collectors: int
    kill_every_s: float
    max_kills: int | None = None
    burst_share: float = 0.10
    burst_s: float = 2.0
    restart_share: float = 0.25
    lease_s: float = LEASE_SECONDS
    latency_s: float = 0.0
    poll_s: float = 0.1
    deadline_s: float = 900.0


@dataclass
class FaultRun:
    """What happened: exit codes, the faults met, and the times (seconds since the start)."""

    collect_s: float
    drained_s: float
    killed: list[int | None]
    collectors: list[int | None]
    dispatcher: int | None
    restarted_at_s: float | None
    burst_at_s: float | None
    faults: dict[str, int] = field(default_factory=dict)

    def failures(self) -> list[str]:
        """What went wrong in the run itself (the workers, the faults that must happen)."""
        found = []
        if self.collectors != [0] * len(self.collectors):
            found.append(f"collecting processes exited with {self.collectors}")
        if self.dispatcher != 0:
            found.append(f"the dispatcher exited with {self.dispatcher}")
        if self.killed != [-signal.SIGKILL] * len(self.killed):
            found.append(f"killed processes exited with {self.killed}")
        if not self.killed:
            found.append("no process was killed")
        if self.restarted_at_s is None:
            found.append("PostgreSQL was not restarted")
        missing = [kind for kind in EXPECTED_FAULTS if self.faults.get(kind, 0) == 0]
        if missing:
            found.append(f"no fault of kind {missing} happened")
        return found


def prepare(url: str) -> None:
    """Create the tables where the faulty gateway and the handler write down what happened.

    The gateway's own ledger (``test_charges``, ``test_charge_calls``) is
    :func:`benchmarks.durable_gateway.create_charge_tables`'s.
    """
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute(FAULT_TABLES)


def _count(url: str, sql: str) -> int:
    """One number from the database, or -1 while the server is restarting."""
    try:
        with psycopg.connect(libpq(url), connect_timeout=2) as conn:
            row = conn.execute(sql).fetchone()
    except psycopg.Error:
        return -1
    return int(row[0]) if row else 0


def faults_by_kind(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """The faults the gateway injected so far, counted by kind (``500``, ``lost``, ...)."""
    rows = conn.execute("SELECT kind, count(*) FROM test_faults GROUP BY kind").fetchall()
    return {str(kind): int(count) for kind, count in rows}


def _collector(url: str, deadline: float, plan: FaultPlan) -> Any:
    process = SPAWN.Process(
        target=collect_until_done, args=(url, deadline, plan.lease_s, plan.latency_s)
    )
    process.start()
    return process


def _open_burst(url: str, seconds: float) -> float:
    at = time.time()
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute("INSERT INTO test_burst VALUES (%s, %s)", (at, at + seconds))
    return at


def _burst_met(url: str, seconds: float) -> bool:
    """True once a charge met the 429 burst; else keep it open ``seconds`` more.

    On a slow machine no worker may have charged in the burst's seconds (all
    of them waiting for a CPU, or just killed): the burst lasts until it has
    refused a charge.
    """
    try:
        with psycopg.connect(libpq(url), autocommit=True, connect_timeout=2) as conn:
            row = conn.execute("SELECT count(*) FROM test_faults WHERE kind = '429'").fetchone()
            if row is not None and int(row[0]) > 0:
                return True
            now = time.time()
            conn.execute(
                "UPDATE test_burst SET ends = %s WHERE ends < %s", (now + seconds, now + 0.5)
            )
    except psycopg.Error:  # the server restarting: ask again next round
        pass
    return False


def run_with_faults(server: Restartable, url: str, plan: FaultPlan, *, seed: int = 20) -> FaultRun:
    """Collect ``plan.items`` due items at ``url`` while faults are injected; see the module."""
    started = time.time()
    deadline = started + plan.deadline_s
    done = SPAWN.Event()
    dispatcher = SPAWN.Process(target=dispatch_until_done, args=(url, deadline, done))
    dispatcher.start()
    collectors = [_collector(url, deadline, plan) for _ in range(plan.collectors)]
    killed: list[Any] = []
    rng = random.Random(seed)  # noqa: S311 - which worker dies, reproducibly
    restarted_at = burst_at = None
    burst_met = False
    next_kill = started + plan.kill_every_s
    try:
        while any(p.is_alive() for p in collectors) and time.time() < deadline:
            charged = _count(url, "SELECT count(*) FROM test_charges")
            if burst_at is None and charged >= plan.items * plan.burst_share:
                burst_at = _open_burst(url, plan.burst_s)
            elif burst_at is not None and not burst_met:
                burst_met = _burst_met(url, plan.burst_s)
            if restarted_at is None and charged >= plan.items * plan.restart_share:
                server.restart()
                restarted_at = time.time()
            may_kill = plan.max_kills is None or len(killed) < plan.max_kills
            if time.time() >= next_kill and may_kill and 0 < charged < plan.items:
                alive = [p for p in collectors if p.is_alive()]
                if alive:
                    victim = rng.choice(alive)
                    os.kill(victim.pid, signal.SIGKILL)
                    victim.join(timeout=30)
                    killed.append(victim)
                    collectors.remove(victim)
                    collectors.append(_collector(url, deadline, plan))
                next_kill = time.time() + plan.kill_every_s
            time.sleep(plan.poll_s)
        for process in collectors:
            process.join(timeout=max(60.0, deadline - time.time()))
        collect_s = time.time() - started
        done.set()
        dispatcher.join(timeout=max(300.0, deadline - time.time()))
        drained_s = time.time() - started
    finally:
        for process in [*collectors, dispatcher]:  # past the deadline: stop what is left
            if process.is_alive():
                process.kill()
                process.join(timeout=30)
    with psycopg.connect(libpq(url)) as conn:
        faults = faults_by_kind(conn)
    return FaultRun(
        collect_s=collect_s,
        drained_s=drained_s,
        killed=[p.exitcode for p in killed],
        collectors=[p.exitcode for p in collectors],
        dispatcher=dispatcher.exitcode,
        restarted_at_s=None if restarted_at is None else restarted_at - started,
        burst_at_s=None if burst_at is None else burst_at - started,
        faults=faults,
    )


@dataclass(frozen=True)
class FaultChecks:
    """The state after a faults run, counted in SQL; :meth:`failures` says what is wrong."""

    items: int
    charged: int
    missing: int
    charged_twice: int
    stray_charges: int
    several_keys: int
    not_paid: int
    not_one_gateway_payment: int
    still_leased: int
    chain_ok: bool
    chain_reason: str | None
    chain_entries: int
    events: int
    undelivered: int
    not_applied: int
    applied_unknown: int
    handler_calls: int

    def failures(self) -> list[str]:
        """Every check that failed, in words (empty: all passed)."""
        bad = {
            "due items never charged at the gateway": self.missing,
            "due items charged more than once at the gateway": self.charged_twice,
            "gateway charges for items that were not due": self.stray_charges,
            "items charged under more than one idempotency key": self.several_keys,
            "due items not paid in the store": self.not_paid,
            "due items without exactly one gateway payment": self.not_one_gateway_payment,
            "items still leased after the run": self.still_leased,
            "outbox events not delivered": self.undelivered,
            "outbox events the handler never applied": self.not_applied,
            "applied events the outbox does not hold": self.applied_unknown,
        }
        found = [f"{what}: {n}" for what, n in bad.items() if n]
        if self.charged != self.items:
            found.append(f"{self.charged} items charged for {self.items} due")
        if not self.chain_ok:
            found.append(f"the audit chain is broken: {self.chain_reason}")
        if self.handler_calls < self.events:
            found.append(f"{self.handler_calls} handler calls for {self.events} events")
        return found

    def raise_if_failed(self) -> None:
        """Raise :class:`FaultCheckError` naming every failed check."""
        found = self.failures()
        if found:
            raise FaultCheckError("; ".join(found))

    def to_json(self) -> dict[str, Any]:
        """The counts as plain JSON values."""
        return asdict(self)


def _load_due_ids(conn: sa.Connection, item_ids: list[str]) -> sa.TableClause:
    """The due items' ids in a temporary table (COPY: a million ids in seconds)."""
    conn.exec_driver_sql("CREATE TEMPORARY TABLE due_ids (item_id text PRIMARY KEY)")
    raw: Any = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy("COPY due_ids (item_id) FROM STDIN") as copy:
        for item_id in item_ids:
            copy.write_row((item_id,))
    conn.exec_driver_sql("ANALYZE due_ids")
    return sa.table("due_ids", sa.column("item_id", sa.String()))


def _scalar(conn: sa.Connection, sql: str) -> int:
    return int(conn.exec_driver_sql(sql).scalar_one())


def _chain(conn: sa.Connection) -> tuple[bool, str | None, int]:
    rows = conn.execution_options(yield_per=5_000).execute(
        sa.select(audit_log).order_by(audit_log.c.seq)
    )
    verified = verify_audit_chain(audit_from_row(row) for row in rows.mappings())
    return verified.ok, verified.reason, verified.checked


def check_run(url: str, item_ids: list[str]) -> FaultChecks:
    """Count what the run left behind at ``url`` for the due items ``item_ids``.

    The outbox is ``enrollpay_outbox`` (``enrollpay.storage.sql.schema_outbox``).
    """
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    now = datetime.now(UTC)
    try:
        with engine.connect() as conn:
            due = _load_due_ids(conn, item_ids)
            charged = _scalar(
                conn,
                "SELECT count(DISTINCT c.item_id) FROM test_charges c JOIN due_ids USING (item_id)",
            )
            counts = {
                "missing": "SELECT count(*) FROM due_ids d WHERE NOT EXISTS "
                "(SELECT 1 FROM test_charges c WHERE c.item_id = d.item_id)",
                "charged_twice": "SELECT count(*) FROM (SELECT item_id FROM test_charges "
                "GROUP BY item_id HAVING count(*) > 1) t",
                "stray_charges": "SELECT count(*) FROM test_charges c WHERE NOT EXISTS "
                "(SELECT 1 FROM due_ids d WHERE d.item_id = c.item_id)",
                "several_keys": "SELECT count(*) FROM (SELECT item_id FROM test_charge_calls "
                "GROUP BY item_id HAVING count(DISTINCT idempotency_key) > 1) t",
                "applied_unknown": "SELECT count(*) FROM test_delivered d WHERE NOT EXISTS "
                "(SELECT 1 FROM enrollpay_outbox o WHERE o.id = d.event_id)",
                "not_applied": "SELECT count(*) FROM enrollpay_outbox o WHERE NOT EXISTS "
                "(SELECT 1 FROM test_delivered d WHERE d.event_id = o.id)",
                "events": "SELECT count(*) FROM enrollpay_outbox",
                "undelivered": "SELECT count(*) FROM enrollpay_outbox WHERE delivered_at IS NULL",
                "handler_calls": "SELECT count(*) FROM test_delivery_calls",
            }
            found = {name: _scalar(conn, sql) for name, sql in counts.items()}
            items = schedule_items.join(due, due.c.item_id == schedule_items.c.id)
            found["not_paid"] = conn.execute(
                sa.select(sa.func.count())
                .select_from(items)
                .where(schedule_items.c.status != "paid")
            ).scalar_one()
            found["still_leased"] = conn.execute(
                sa.select(sa.func.count()).where(schedule_items.c.lease_until > now)
            ).scalar_one()
            per_item = (
                sa.select(due.c.item_id, sa.func.count(payments.c.id).label("n"))
                .select_from(
                    due.outerjoin(
                        payments,
                        sa.and_(
                            payments.c.item_id == due.c.item_id, payments.c.method == "gateway"
                        ),
                    )
                )
                .group_by(due.c.item_id)
                .subquery()
            )
            found["not_one_gateway_payment"] = conn.execute(
                sa.select(sa.func.count()).select_from(per_item).where(per_item.c.n != 1)
            ).scalar_one()
            chain_ok, reason, entries = _chain(conn)
    finally:
        engine.dispose()
    return FaultChecks(
        items=len(item_ids),
        charged=charged,
        chain_ok=chain_ok,
        chain_reason=reason,
        chain_entries=entries,
        **{name: int(n) for name, n in found.items()},
    )
