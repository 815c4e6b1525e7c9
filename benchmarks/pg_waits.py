"""What a PostgreSQL database's sessions are doing, sampled while a case runs.

Every half second one query over ``pg_stat_activity`` reads the state of
every other session of the database, and each is counted under one label:

- ``advisory_lock``: waiting for an advisory lock (the audit chain's, the
  webhook event's, a seat lock's);
- ``other_lock``: waiting for a row, a tuple or a transaction id;
- ``running``: running a statement (including waits for I/O);
- ``between_statements``: in a transaction, waiting for its client;
- ``idle``: between transactions.

Each sample also notes whether some session holds the audit chain's lock
(``pg_locks``): the share of samples in which it is held, times the run's
wall time, over the items, is how long each item keeps the chain to itself.
Near 1, the chain bounds the run however many workers there are.

The shares tell whether the workers queue behind a lock (the fix is in the
code) or the server and the workers are busy (the fix is in cores).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from enrollpay.storage.sql.auditchain import AUDIT_LOCK_KEY

__all__ = ["WaitSampler", "sampling"]

_SAMPLE = sa.text(
    "SELECT state, wait_event_type, wait_event FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
    "AND backend_type = 'client backend'"
)

#: pg_locks shows a bigint advisory key as two 32-bit halves, with objsubid 1.
_CHAIN_HELD = sa.text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND classid::bigint = :high AND objid::bigint = :low AND objsubid = 1"
).bindparams(high=AUDIT_LOCK_KEY >> 32, low=AUDIT_LOCK_KEY & 0xFFFFFFFF)


def _label(state: str | None, wait_type: str | None, wait: str | None) -> str:
    if wait_type == "Lock":
        return "advisory_lock" if wait == "advisory" else "other_lock"
    if state == "active":
        return "running"
    if state is not None and state.startswith("idle in transaction"):
        return "between_statements"
    return "idle"


class WaitSampler:
    """A thread that samples the sessions of ``url``'s database (see :func:`sampling`)."""

    def __init__(self, url: str, every: float = 0.5) -> None:
        self.engine = sa.create_engine(url, poolclass=sa.NullPool)
        self.every = every
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.counts: Counter[str] = Counter()
        #: Samples taken, and those in which a session held the chain's lock.
        self.samples = 0
        self.chain_held = 0

    def _run(self) -> None:
        with self.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            while not self.stop.wait(self.every):
                for row in conn.execute(_SAMPLE):
                    self.counts[_label(row.state, row.wait_event_type, row.wait_event)] += 1
                self.samples += 1
                self.chain_held += int(conn.execute(_CHAIN_HELD).scalar_one() > 0)

    def chain_held_share(self) -> float | None:
        """The share of samples in which the audit chain's lock was held (None: no sample)."""
        return self.chain_held / self.samples if self.samples else None

    def shares(self) -> dict[str, float]:
        """Each label's share of all the samples taken (0 to 1)."""
        total = sum(self.counts.values())
        return {label: n / total for label, n in sorted(self.counts.items())} if total else {}


@contextmanager
def sampling(url: str, every: float = 0.5) -> Iterator[WaitSampler]:
    """Sample the sessions of ``url``'s database while the block runs."""
    sampler = WaitSampler(url, every)
    sampler.thread.start()
    try:
        yield sampler
    finally:
        sampler.stop.set()
        sampler.thread.join(timeout=30)
        sampler.engine.dispose()
