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
from datetime import datetime
from typing import Any

import psycopg

from benchmarks.databases import libpq
from enrollpay.domain.money import Money
from enrollpay.errors import GatewayRequestError
from enrollpay.ports import ChargeResult, GatewayEvent, GatewayRefund, PaymentSession

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


class DurableGateway:
    """Charges always succeed, once per idempotency key, and each call is recorded.

    ``test_charges`` holds one row per key that moved money (the primary key
    makes a second charge with the same key a replay, as a real gateway
    does); ``test_charge_calls`` logs every call with the caller's pid.
    """

    name = "durable-test"

    def __init__(self, url: str, *, delay: float = 0.0) -> None:
        self._conn = psycopg.connect(libpq(url), autocommit=True)
        self._delay = delay

    def amount_granularity(self, currency: str) -> int:
        """Any amount goes."""
        return 1

    def minimum_charge(self, currency: str) -> Money | None:
        """No minimum."""
        return None

    def ensure_customer(self, user_id: str, *, idempotency_key: str) -> str:
        """Customers are made by the test."""
        return f"cus_{user_id}"

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
        if self._delay:
            time.sleep(self._delay)
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

    def start_payment(self, **_: Any) -> PaymentSession:
        """Not used by these tests."""
        raise GatewayRequestError("on-session payments are not part of this test gateway")

    def payment_status(
        self, *, gateway_payment_id: str | None, idempotency_key: str, amount: Money
    ) -> ChargeResult | None:
        """Unknown outcomes do not happen here."""
        return None

    def cancel_payment(self, *, gateway_payment_id: str, idempotency_key: str) -> ChargeResult:
        """Not used by these tests (there are no on-session payments to cancel)."""
        raise GatewayRequestError("cancellations are not part of this test gateway")

    def refund(self, **_: Any) -> GatewayRefund:
        """Not used by these tests."""
        raise GatewayRequestError("refunds are not part of this test gateway")

    def start_payment_method_update(
        self, *, customer_id: str, idempotency_key: str, metadata: Mapping[str, str] | None = None
    ) -> str:
        """Not used by these tests."""
        raise GatewayRequestError("setup flows are not part of this test gateway")

    def parse_webhook(
        self, payload: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> GatewayEvent:
        """Not used by these tests."""
        raise GatewayRequestError("webhooks are not part of this test gateway")
