"""What the task-queue tests' worker processes import by name (Celery and Procrastinate).

The workers are real processes started by the tests; they find everything
here through environment variables the test sets:

``ENROLLPAY_SYSTEM_FACTORY=tests.integration.queue_workers:build_system``
    the factory the integrations call once per worker process;
``ENROLLPAY_TEST_QUEUE_DB``
    the test's PostgreSQL database (the store, the durable gateway's
    ledger, and the broker's tables);
``ENROLLPAY_TEST_GATEWAY_DELAY`` and ``ENROLLPAY_TEST_LEASE``
    seconds per charge (default 0) and of each item's lease (default 600).

Every charge of every worker is written to the one ledger of
:class:`~tests.integration.pg_workers.DurableGateway` in the database, so
the test counts what moved money across all the processes.
"""

from __future__ import annotations

import os
from datetime import timedelta

import sqlalchemy as sa

from enrollpay import PaymentSystem, SystemConfig
from enrollpay.storage.sql import SqlStore

from .pg_workers import DurableGateway

__all__ = ["DB_VAR", "DELAY_VAR", "LEASE_VAR", "broker_url", "build_system"]

DB_VAR = "ENROLLPAY_TEST_QUEUE_DB"
DELAY_VAR = "ENROLLPAY_TEST_GATEWAY_DELAY"
LEASE_VAR = "ENROLLPAY_TEST_LEASE"


def build_system() -> PaymentSystem:
    """The system of one worker process: the test database and the shared durable gateway."""
    url = os.environ[DB_VAR]
    delay = float(os.environ.get(DELAY_VAR, "0"))
    lease = float(os.environ.get(LEASE_VAR, "600"))
    config = SystemConfig(lease=timedelta(seconds=lease), batch_size=10)
    store = SqlStore.from_url(url, pool_size=2)
    return PaymentSystem(store=store, gateway=DurableGateway(url, delay=delay), config=config)


def broker_url(url: str) -> str:
    """Kombu's SQLAlchemy transport on the same PostgreSQL database (psycopg 3)."""
    plain = sa.make_url(url).set(drivername="postgresql+psycopg")
    return "sqla+" + plain.render_as_string(hide_password=False)
