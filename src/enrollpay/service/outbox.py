"""Use case: hand the outbox's domain events to the host application.

Events are written by the transitions' unit of work, in the transaction of
the change they describe (see :mod:`enrollpay.domain.events`). Dispatch
delivers them at least once, in the order they occurred:

- one dispatcher at a time holds the store-wide dispatch lease, so the order
  holds and no two dispatchers hand out one event at once; a dispatcher that
  dies leaves the lease to expire;
- each event is marked delivered in its own transaction right after the
  handler returns; in the same transaction the lease is renewed once a
  tenth of it has passed (not at every event: rewriting the one lease row
  thousands of times in a run leaves PostgreSQL a chain of dead versions
  to walk at every read, and the run slows down as it goes), so a handler
  may take up to nine tenths of the lease;
- a handler that raises stops the run: that event and every later one stay
  undelivered for the next call, and the exception reaches the caller.

A handler may see an event twice (a crash between its return and the
delivery mark, or a lease that ran out): it dedupes by ``event.id``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from enrollpay.domain.events import DomainEvent
from enrollpay.ports import Store

__all__ = ["DISPATCH_BATCH", "DISPATCH_LEASE", "EventHandler", "dispatch_events", "list_events"]

logger = logging.getLogger(__name__)

EventHandler = Callable[[DomainEvent], object]
#: How long a dispatcher may go without progress before another may take over.
DISPATCH_LEASE = timedelta(minutes=5)
#: Events read per transaction.
DISPATCH_BATCH = 100


def dispatch_events(
    store: Store,
    handler: EventHandler,
    *,
    now: Callable[[], datetime],
    holder: str,
    limit: int | None = None,
    lease: timedelta = DISPATCH_LEASE,
) -> int:
    """Deliver undelivered events to ``handler`` in order; return how many were delivered.

    Returns 0 at once when another dispatcher holds the lease. ``limit``
    bounds the events delivered by this call (``None``: all there are).
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be at least 0, got {limit}")
    started = now()
    with store.transaction() as tx:
        if not tx.acquire_dispatch_lease(holder=holder, now=started, until=started + lease):
            return 0
    delivered = 0
    lease_until = started + lease
    try:
        while limit is None or delivered < limit:
            size = DISPATCH_BATCH if limit is None else min(DISPATCH_BATCH, limit - delivered)
            with store.transaction() as tx:
                batch = tx.pending_events(limit=size)
            if not batch:
                break
            for event in batch:
                handler(event)
                at = now()
                renew = at + lease * 0.9 > lease_until  # a tenth of the lease has passed
                if not _mark_delivered(
                    store, event, holder=holder, at=at, renew=at + lease if renew else None
                ):
                    logger.warning(
                        "dispatcher %s lost its lease after event %s; stopping", holder, event.id
                    )
                    return delivered
                if renew:
                    lease_until = at + lease
                delivered += 1
    finally:
        with store.transaction() as tx:
            tx.release_dispatch_lease(holder=holder)
    return delivered


def _mark_delivered(
    store: Store, event: DomainEvent, *, holder: str, at: datetime, renew: datetime | None
) -> bool:
    """Mark ``event`` delivered if ``holder`` still holds the lease; renew it to ``renew``."""
    with store.transaction() as tx:
        if not tx.mark_event_delivered(event.id, holder=holder, at=at):
            return False
        return renew is None or tx.acquire_dispatch_lease(holder=holder, now=at, until=renew)


def list_events(
    store: Store, *, delivered: bool | None = None, limit: int | None = None
) -> list[DomainEvent]:
    """Events in the order they occurred (``delivered``: only those, or only the others)."""
    with store.reader() as view:
        return view.list_events(delivered=delivered, limit=limit)
