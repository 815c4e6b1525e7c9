"""Collecting due items with a pool of worker threads (``collect_due(concurrency=N)``).

Gateway calls are slow (hundreds of milliseconds) while the database work
around them is short, so one process can keep many charges in flight. The
calling thread claims batches (with their lease, exactly as the serial loop
does) and hands each item to the pool; a worker runs the same per-item code
as the serial loop, so every guarantee holds per item: the attempt is
written with its key before the gateway call, the lease is checked before
anything is written, and an item claimed once is collected once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from enrollpay.domain.records import ScheduleItem
from enrollpay.service.results import ItemOutcome

__all__ = ["collect_concurrently"]


def collect_concurrently(
    *,
    claim: Callable[[int], Sequence[ScheduleItem]],
    collect: Callable[[ScheduleItem], ItemOutcome],
    workers: int,
    batch_size: int,
    limit: int | None,
) -> Iterator[ItemOutcome]:
    """Yield each claimed item's outcome as ``workers`` threads finish them.

    A new batch is claimed whenever fewer than ``2 * workers`` items are
    queued or running, so the workers never wait for a whole batch to drain
    and no item sits claimed for longer than a couple of batches take (its
    lease must outlast that). At most ``limit`` items are claimed. If an
    item raises, items not started yet are cancelled (their leases expire
    and a later run takes them, as after a crash), running ones finish, and
    the error propagates.
    """
    claimed = 0
    exhausted = False
    pending: set[Future[ItemOutcome]] = set()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="enrollpay-collect") as pool:
        try:
            while True:
                while not exhausted and len(pending) < 2 * workers:
                    size = batch_size if limit is None else min(batch_size, limit - claimed)
                    batch = claim(size) if size > 0 else ()
                    if not batch:
                        exhausted = True
                        break
                    claimed += len(batch)
                    pending.update(pool.submit(collect, item) for item in batch)
                if not pending:
                    return
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        finally:
            for future in pending:
                future.cancel()
