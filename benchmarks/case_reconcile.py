"""Case 7: ``reconcile`` walking 100,000 gateway objects with 1% drift, against listing them raw.

The gateway's record is 99,000 succeeded PaymentIntents, each recorded in
the store (SQLite) as the library records a card payment, and 1,000 refunds
made in the dashboard whose webhooks were lost (1% of the objects): drift
that ``reconcile`` must find and apply. Both sides talk to the same Stripe
list API (:mod:`benchmarks.ledger_server`, in a process of its own) through
:class:`~enrollpay.gateways.stripe.StripeGateway` and the official SDK:

- library: one ``reconcile()`` on a fresh copy of the seeded database (the
  first walk: look-back from the benchmark's instant), which lists both
  kinds, looks each page up in the store, and records the 1,000 refunds;
- baseline: the same listings through the same adapter (payments, refunds,
  and the empty list of disputes), only counted ("listing the same objects
  raw").

The ratio is library / baseline (median of the repeats). For scale, the
same two runs against an in-process listing (no HTTP, no SDK: the pages are
read into port values beforehand) are reported in ``extra``: there the
listing costs next to nothing, so the library's time is its own work alone
(per object, the 1% drift applied included).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks.core import CaseResult, median
from benchmarks.databases import SqliteFiles
from benchmarks.gateways import InstantGateway
from benchmarks.ledger_server import record
from benchmarks.seed import BENCH_NOW, seed_paid_by_card
from enrollpay import PaymentSystem
from enrollpay.gateways.stripe import StripeGateway
from enrollpay.gateways.stripe.client import build_client
from enrollpay.gateways.stripe.ledger import payment_of, refund_of
from enrollpay.ports import (
    LEDGER_PAGE_SIZE,
    LedgerDispute,
    LedgerGateway,
    LedgerPayment,
    LedgerRefund,
)
from enrollpay.storage.sql import SqlStore
from enrollpay.testing import FrozenClock

__all__ = ["run"]

ROOT = Path(__file__).resolve().parents[1]


def _sizes(quick: bool) -> tuple[int, int, int]:
    """Gateway objects, of which drift (1%), and repeats."""
    return (1_000, 10, 3) if quick else (100_000, 1_000, 3)


@contextmanager
def _server(payments: int, refunds: int) -> Iterator[str]:
    """The list API in a child process; its base address."""
    child = subprocess.Popen(  # noqa: S603 - our own module, our own arguments
        [sys.executable, "-m", "benchmarks.ledger_server", str(payments), str(refunds)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None  # noqa: S101 - piped above
        port = int(child.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        child.kill()
        child.wait()


class _InProcessLedger(InstantGateway):
    """The same record as port values in memory: listing costs next to nothing."""

    name = "in-process"

    def __init__(self, payments: list[LedgerPayment], refunds: list[LedgerRefund]) -> None:
        super().__init__()
        self._payments = payments
        self._refunds = refunds

    @staticmethod
    def _paged(objects: Sequence[Any], since: datetime, size: int) -> Iterator[Sequence[Any]]:
        chosen = [o for o in objects if o.created >= since]
        for start in range(0, len(chosen), size):
            yield chosen[start : start + size]

    def list_payments(
        self, *, since: datetime, page_size: int = LEDGER_PAGE_SIZE
    ) -> Iterator[Sequence[LedgerPayment]]:
        """The payments, newest first, in pages."""
        return self._paged(self._payments, since, page_size)

    def list_refunds(
        self, *, since: datetime, page_size: int = LEDGER_PAGE_SIZE
    ) -> Iterator[Sequence[LedgerRefund]]:
        """The refunds, newest first, in pages."""
        return self._paged(self._refunds, since, page_size)

    def list_disputes(
        self, *, since: datetime, page_size: int = LEDGER_PAGE_SIZE
    ) -> Iterator[Sequence[LedgerDispute]]:
        """No disputes: the record has none."""
        return self._paged([], since, page_size)


def _listing(gateway: LedgerGateway, since: datetime) -> tuple[float, int]:
    start = time.perf_counter()
    listed = sum(len(page) for page in gateway.list_payments(since=since))
    listed += sum(len(page) for page in gateway.list_refunds(since=since))
    listed += sum(len(page) for page in gateway.list_disputes(since=since))
    return time.perf_counter() - start, listed


def _reconcile(path: Path, gateway: Any, *, objects: int, drift: int) -> float:
    store = SqlStore.from_url(SqliteFiles.url(path), migrate=False)
    try:
        system = PaymentSystem(store=store, gateway=gateway, clock=FrozenClock(BENCH_NOW))
        start = time.perf_counter()
        report = system.reconcile()
        elapsed = time.perf_counter() - start
    finally:
        store.close()
    scanned = sum(report.drift.scanned.values())
    if (scanned, report.drift.fixed, report.drift.open) != (objects, drift, 0):
        raise AssertionError(f"reconcile read {scanned} and fixed {report.drift.fixed}: {report}")
    return elapsed


def run(*, files: SqliteFiles, quick: bool) -> CaseResult:
    """Median seconds of a whole reconcile against a whole raw listing of the same record."""
    objects, drift, repeats = _sizes(quick)
    payments = objects - drift
    seeded = files.new("reconcile-seed.db")
    engine = sa.create_engine(SqliteFiles.url(seeded))
    try:
        seed_paid_by_card(engine, payments)
    finally:
        engine.dispose()
    since = BENCH_NOW - timedelta(days=30)  # the first walk's look-back (the default)
    library: list[float] = []
    baseline: list[float] = []
    with _server(payments, drift) as url:
        stripe = StripeGateway(
            build_client("sk_test_bench", api_base=url, max_network_retries=0), ["whsec_bench"]
        )
        for n in range(repeats):
            took, listed = _listing(stripe, since)
            if listed != objects:
                raise AssertionError(f"the raw listing read {listed} of {objects} objects")
            baseline.append(took)
            copy = files.copy(seeded, f"reconcile-lib-{n}.db")
            library.append(_reconcile(copy, stripe, objects=objects, drift=drift))
    intents, refunds = record(payments, drift)
    memory = _InProcessLedger([payment_of(i) for i in intents], [refund_of(r) for r in refunds])
    in_process_listing = [_listing(memory, since)[0] for _ in range(repeats)]
    in_process_library = [
        _reconcile(
            files.copy(seeded, f"reconcile-mem-{n}.db"), memory, objects=objects, drift=drift
        )
        for n in range(repeats)
    ]
    lib, base = median(library), median(baseline)
    mem_lib, mem_list = median(in_process_library), median(in_process_listing)
    return CaseResult(
        name="reconcile_drift",
        title=(
            f"reconcile over {objects:,} gateway objects with {drift:,} drifted "
            "(Stripe SDK over local HTTP, SQLite), whole run"
        ),
        library=lib,
        baseline=base,
        ratio=lib / base,
        target="<= 2",
        met=lib / base <= 2,
        sizes={"objects": objects, "drift": drift, "repeats": repeats, "page_size": 100},
        unit="s/run",
        samples={
            "library": library,
            "baseline": baseline,
            "library_in_process": in_process_library,
            "listing_in_process": in_process_listing,
        },
        extra={
            "library_per_object_s": lib / objects,
            "library_minus_listing_per_object_s": (lib - base) / objects,
            "in_process_library_s": mem_lib,
            "in_process_listing_s": mem_list,
            "in_process_library_per_object_s": mem_lib / objects,
        },
    )
