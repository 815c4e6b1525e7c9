"""Worker processes of the faults-under-load test and benchmark (spawned by name).

:class:`FaultyGateway` is :class:`~benchmarks.durable_gateway.DurableGateway`
(one money-moving charge per idempotency key, every call logged in the
database) with the faults of issue 20 injected, each recorded in
``test_faults`` so the run can show it happened:

- ``500``: 1% of the keys fail once with a server error before any money
  moves;
- ``lost``: another 1% move the money, then the answer is lost (a timeout);
- ``429``: during the burst (a window of wall-clock time the supervisor,
  :func:`benchmarks.faults.run_with_faults`, writes in ``test_burst`` while
  the run goes on) every charge is refused as rate limited;
- ``ledger``: the gateway's own connection broke (PostgreSQL restarted under
  it): reconnect, and report the outcome as unknown.

Whatever reaches the library is a :class:`~enrollpay.errors.GatewayUnavailableError`:
the outcome is unknown, and ``reconcile`` asks :meth:`FaultyGateway.payment_status`,
which answers from the ledger, as a gateway looks a payment up by its key.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import psycopg

from benchmarks.databases import libpq
from benchmarks.durable_gateway import DurableGateway
from enrollpay import PaymentSystem, SystemConfig
from enrollpay.domain.events import DomainEvent
from enrollpay.domain.money import Money
from enrollpay.errors import GatewayUnavailableError, StorageError
from enrollpay.ports import ChargeResult
from enrollpay.storage.sql import SqlStore

__all__ = ["FAULT_TABLES", "FaultyGateway", "collect_until_done", "dispatch_until_done"]

FAULT_TABLES = """
CREATE TABLE test_faults (idempotency_key text NOT NULL, kind text NOT NULL, pid int NOT NULL);
CREATE UNIQUE INDEX test_faults_once ON test_faults (idempotency_key, kind)
    WHERE kind IN ('500', 'lost');
CREATE TABLE test_burst (starts double precision NOT NULL, ends double precision NOT NULL);
CREATE TABLE test_delivered (event_id text PRIMARY KEY, kind text NOT NULL);
CREATE TABLE test_delivery_calls (event_id text NOT NULL, pid int NOT NULL);
"""
OPEN = ("scheduled", "processing", "failed")
#: Items a collection round takes at most (its outcomes are kept: bounded memory at any size).
ROUND = 1_000
#: Seconds a worker keeps an item it claimed (the test's): a killed worker's items wait this long.
LEASE_SECONDS = 3.0


def _bucket(key: str) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 100


class FaultyGateway(DurableGateway):
    """The durable gateway with server errors, lost answers, a 429 burst and a broken ledger."""

    def __init__(self, url: str, *, delay: float = 0.0) -> None:
        super().__init__(url, delay=delay)
        self._url = url

    def _in_burst(self) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM test_burst WHERE starts <= %s AND %s < ends", (time.time(),) * 2
        ).fetchone()
        return row is not None

    def _reconnect(self) -> None:
        try:
            self._conn.close()
        finally:
            self._conn = psycopg.connect(libpq(self._url), autocommit=True)

    def _fault_once(self, key: str, kind: str) -> bool:
        """Record that ``key`` meets fault ``kind``; False if it met it before (faults once)."""
        row = self._conn.execute(
            "INSERT INTO test_faults VALUES (%s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
            (key, kind, os.getpid()),
        ).fetchone()
        return row is not None

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
        """Charge once per key, with the faults above."""
        try:
            if self._in_burst():
                self._conn.execute(
                    "INSERT INTO test_faults VALUES (%s, '429', %s)", (idempotency_key, os.getpid())
                )
                raise GatewayUnavailableError("429: too many requests", retry_after=1.0)
            bucket = _bucket(idempotency_key)
            if bucket == 0 and self._fault_once(idempotency_key, "500"):
                raise GatewayUnavailableError("500: the gateway failed before charging")
            result = super().charge_off_session(
                customer_id=customer_id,
                payment_method_id=payment_method_id,
                amount=amount,
                idempotency_key=idempotency_key,
                metadata=metadata,
                description=description,
            )
            if bucket == 1 and self._fault_once(idempotency_key, "lost"):
                raise GatewayUnavailableError("timeout: the answer to a charge was lost")
        except psycopg.Error as exc:
            self._reconnect()
            self._conn.execute(
                "INSERT INTO test_faults VALUES (%s, 'ledger', %s)", (idempotency_key, os.getpid())
            )
            raise GatewayUnavailableError(f"the gateway's ledger failed: {exc}") from None
        return result

    def payment_status(
        self, *, gateway_payment_id: str | None, idempotency_key: str, amount: Money
    ) -> ChargeResult | None:
        """The charge made under ``idempotency_key``, looked up in the ledger (None: none)."""
        try:
            row = self._conn.execute(
                "SELECT 1 FROM test_charges WHERE idempotency_key = %s", (idempotency_key,)
            ).fetchone()
        except psycopg.Error as exc:
            self._reconnect()
            raise GatewayUnavailableError(f"the gateway's ledger failed: {exc}") from None
        if row is None:
            return None
        digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
        return ChargeResult("succeeded", f"pi_{digest}", amount, payment_method_id="pm_card_visa")


def _open(url: str, deadline: float, lease: float, latency: float) -> PaymentSystem:
    """Open the system, retried while the server restarts, as a supervisor restarts a worker.

    A worker started while PostgreSQL is still recovering fails to open its
    store (the revision check cannot connect); a supervisor would start it
    again, so this waits and tries again until the deadline.
    """
    config = SystemConfig(lease=timedelta(seconds=lease), batch_size=10)
    while True:
        store: SqlStore | None = None
        try:
            store = SqlStore.from_url(url, pool_size=2)
            gateway = FaultyGateway(url, delay=latency)
        except (StorageError, psycopg.Error):  # the server cannot be reached yet
            if store is not None:
                store.close()
            if time.time() >= deadline:
                raise
            time.sleep(0.2)
            continue
        return PaymentSystem(store=store, gateway=gateway, config=config)


def collect_until_done(
    url: str, deadline: float, lease: float = LEASE_SECONDS, latency: float = 0.0
) -> None:
    """Collect and reconcile until nothing is open; any error is survived, as a supervisor would.

    ``lease`` is the seconds a claimed item stays this worker's; ``latency``
    the seconds the gateway takes to answer a charge.
    A database error (the server restarting) or an unknown outcome is
    retried after a short pause; ``reconcile`` settles the unknown outcomes
    and sends again what never reached the gateway.
    """
    system = _open(url, deadline, lease, latency)
    while time.time() < deadline:
        try:
            if system.collect_due(limit=ROUND).outcomes:
                continue
            system.reconcile()
            if not system.list_schedule_items(status=OPEN, limit=1):
                return
        except Exception:  # the injected faults: the next round retries
            time.sleep(0.2)
            continue
        time.sleep(0.2)  # leased by others, or by a killed worker until its lease runs out


def dispatch_until_done(url: str, deadline: float, done: Any) -> None:
    """Hand the outbox's events to an idempotent handler until ``done`` is set and none is left.

    The handler records every call in ``test_delivery_calls`` and applies
    each event once (``test_delivered``, keyed by the event's id).
    """
    system = _open(url, deadline, LEASE_SECONDS, 0.0)
    conn = psycopg.connect(libpq(url), autocommit=True)

    def handler(event: DomainEvent) -> None:
        nonlocal conn
        try:
            conn.execute("INSERT INTO test_delivery_calls VALUES (%s, %s)", (event.id, os.getpid()))
            conn.execute(
                "INSERT INTO test_delivered VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (event.id, event.kind),
            )
        except psycopg.Error:
            conn = psycopg.connect(libpq(url), autocommit=True)
            raise

    while time.time() < deadline:
        try:
            if system.dispatch_events(handler, limit=200):
                continue
        except Exception:  # the server restarting: the next round retries
            time.sleep(0.2)
            continue
        if done.is_set() and not system.list_events(delivered=False, limit=1):
            return
        time.sleep(0.2)
