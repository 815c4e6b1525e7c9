"""A collection worker of the monthly-run case (spawned by name): it times every item.

Like :mod:`benchmarks.scale_worker`, with the gateway that keeps nothing
(:class:`benchmarks.gateways.InstantGateway`, 20 ms per charge), so that a
million-item run measures the library and not a fake's memory. Every
outcome's wall-clock time is kept (an array of doubles: 8 bytes an item)
for the throughput plot, and the peak resident memory of the process is
reported with them: Linux's ``VmHWM``, reset when the worker starts.
``getrusage``'s ``ru_maxrss`` would report the parent's resident size at
the moment it started the worker (Linux keeps it across ``exec``), which
is what run 16 reported by mistake; ``ru_maxrss`` is only the fallback
where ``VmHWM`` cannot be reset.
"""

from __future__ import annotations

import os
import resource
import time
from array import array
from datetime import timedelta
from typing import Any

from benchmarks.gateways import InstantGateway
from benchmarks.machine import peak_kb, reset_peak
from benchmarks.seed import BENCH_NOW
from enrollpay import PaymentSystem, SystemConfig
from enrollpay.service.results import ItemOutcome
from enrollpay.storage.sql import SqlStore
from enrollpay.testing import FrozenClock

__all__ = ["run_worker"]


def run_worker(url: str, latency: float, ready: Any, go: Any, results: Any) -> None:
    """Wait for ``go``, collect until nothing is left; report on ``results``.

    The report: (pid, the outcomes' times as bytes, peak KiB, charges, CPU s).
    """
    exact = reset_peak()
    clock = FrozenClock(BENCH_NOW)
    store = SqlStore.from_url(url, pool_size=2)
    gateway = InstantGateway(latency=latency)
    config = SystemConfig(batch_size=10, lease=timedelta(minutes=10))
    system = PaymentSystem(store=store, gateway=gateway, clock=clock, config=config)
    stamps = array("d")

    def seen(_outcome: ItemOutcome) -> None:
        stamps.append(time.time())

    ready.put(os.getpid())
    go.wait(timeout=300)
    before = resource.getrusage(resource.RUSAGE_SELF)
    while system.collect_due(limit=1_000, progress=seen, keep_outcomes=False, sweep=False).charged:
        pass
    after = resource.getrusage(resource.RUSAGE_SELF)
    store.close()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    results.put((os.getpid(), stamps.tobytes(), peak_kb(exact), gateway.charged, cpu))
