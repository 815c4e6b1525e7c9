"""A fake gateway that keeps its ledger in PostgreSQL, so that it survives a killed process.

:class:`DurableGateway` moves money once per idempotency key, as a real
gateway does, and writes every call down in the database under test
(``test_charges``: one row per key that moved money; ``test_charge_calls``:
every call, with the caller's pid), so that a run's charges can be counted
after its workers were killed. The concurrency tests and the faults
benchmark (:mod:`benchmarks.fault_workers`) charge through it.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping

import psycopg

from benchmarks.databases import libpq
from benchmarks.gateways import InstantGateway
from enrollpay.domain.money import Money
from enrollpay.ports import ChargeResult

__all__ = ["CHARGE_TABLES", "DurableGateway", "create_charge_tables"]

CHARGE_TABLES = """
CREATE TABLE test_charges (idempotency_key text PRIMARY KEY, item_id text NOT NULL,
                           pid int NOT NULL);
CREATE TABLE test_charge_calls (id serial PRIMARY KEY, idempotency_key text NOT NULL,
                                item_id text NOT NULL, pid int NOT NULL, replay boolean NOT NULL);
"""


def create_charge_tables(url: str) -> None:
    """Create the tables where the durable gateway records charges."""
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute(CHARGE_TABLES)


class DurableGateway(InstantGateway):
    """Charges always succeed, once per idempotency key, and each call is recorded.

    ``test_charges`` holds one row per key that moved money (the primary key
    makes a second charge with the same key a replay, as a real gateway
    does); ``test_charge_calls`` logs every call with the caller's pid. What
    charging does not use (customers, refunds, checkouts, webhooks) is the
    instant gateway's.
    """

    name = "durable-test"

    def __init__(self, url: str, *, delay: float = 0.0) -> None:
        super().__init__(latency=delay)
        self._conn = psycopg.connect(libpq(url), autocommit=True)

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
        if self.latency:
            time.sleep(self.latency)
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
