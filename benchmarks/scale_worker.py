"""A collection worker process for the scale-out case (spawned by name).

Each worker runs ``collect_due`` in a loop against one PostgreSQL database
with its own fake gateway (20 ms per charge, its own id namespace) until
nothing is left, then reports every charge its gateway moved money for.
"""

from __future__ import annotations

import os
import resource
from datetime import timedelta
from typing import Any

from benchmarks.seed import BENCH_NOW
from enrollpay import PaymentSystem, SystemConfig
from enrollpay.storage.sql import SqlStore
from enrollpay.testing import FakeGateway, FrozenClock

__all__ = ["collect_worker"]


def collect_worker(url: str, latency: float, ready: Any, go: Any, results: Any) -> None:
    """Wait for ``go``, collect until nothing is left; put (pid, charges, CPU s) on ``results``."""
    clock = FrozenClock(BENCH_NOW)
    store = SqlStore.from_url(url, pool_size=2)
    fake = FakeGateway(clock=clock, latency=latency, strict=False, id_namespace=f"w{os.getpid()}")
    # Small batches, so that the work is shared evenly until the very end.
    config = SystemConfig(batch_size=10, lease=timedelta(minutes=10))
    system = PaymentSystem(store=store, gateway=fake, clock=clock, config=config)
    ready.put(os.getpid())
    go.wait(timeout=120)
    before = resource.getrusage(resource.RUSAGE_SELF)
    while system.collect_due().outcomes:
        pass
    after = resource.getrusage(resource.RUSAGE_SELF)
    store.close()
    charges = [(c.idempotency_key or "", c.gateway_payment_id) for c in fake.charges]
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    results.put((os.getpid(), charges, cpu))
