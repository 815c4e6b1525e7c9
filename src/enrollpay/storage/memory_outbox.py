"""The outbox table of :class:`~enrollpay.storage.memory.InMemoryStore`.

The in-memory store copies its tables at the start of each transaction and
swaps the copy in on commit; :class:`MemoryOutbox` is one more such table
(with :meth:`MemoryOutbox.copy`), holding the events in the order they
were added and the one dispatch lease (see
:class:`~enrollpay.ports.EventOutbox` for why there is one lease, not one
lock per event). Transactions of that store take turns, so the lease needs
no more than a check and a write.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from enrollpay.audit import jsonable
from enrollpay.domain.events import DomainEvent
from enrollpay.errors import DuplicateError, StorageError

if TYPE_CHECKING:
    from enrollpay.storage.memory_tables import MemoryTables

__all__ = ["MemoryOutbox"]


@attrs.frozen
class _Stored:
    seq: int
    event: DomainEvent
    delivered_at: datetime | None = None


@attrs.frozen
class _Lease:
    holder: str
    until: datetime


@attrs.define
class MemoryOutbox:
    """The events by id (in ``seq`` order, as dicts keep insertion order) and the lease."""

    rows: dict[str, _Stored] = attrs.Factory(dict)
    #: The last sequence value handed out (a rolled-back transaction's values, seen by
    #: no one, are handed out again).
    last_seq: int = 0
    lease: _Lease | None = None

    def copy(self) -> MemoryOutbox:
        """A snapshot for a transaction (the rows are frozen: copying the dict suffices)."""
        return MemoryOutbox(rows=dict(self.rows), last_seq=self.last_seq, lease=self.lease)

    def add_events(self, events: Sequence[DomainEvent]) -> None:
        """Append in order; ``DuplicateError`` (and nothing added) on a known or repeated id.

        The data is kept as the SQL store's JSON column gives it back
        (:func:`~enrollpay.audit.jsonable`, as audit data), so both stores return equal events.
        """
        seen: set[str] = set()
        for event in events:
            if event.id in self.rows or event.id in seen:
                raise DuplicateError("event id", event.id)
            seen.add(event.id)
        for event in events:
            self.last_seq += 1
            stored = attrs.evolve(event, data=jsonable(event.data))
            self.rows[event.id] = _Stored(self.last_seq, stored)

    def pending_events(self, *, limit: int) -> list[DomainEvent]:
        """Up to ``limit`` undelivered events, oldest first."""
        return self.list_events(delivered=False, limit=limit)

    def list_events(
        self, *, delivered: bool | None = None, limit: int | None = None
    ) -> list[DomainEvent]:
        """Events oldest first, optionally only (un)delivered ones."""
        found = [
            row.event
            for row in self.rows.values()
            if delivered is None or (row.delivered_at is not None) == delivered
        ]
        return found if limit is None else found[: max(limit, 0)]

    def mark_event_delivered(self, event_id: str, *, holder: str, at: datetime) -> bool:
        """Mark if ``holder`` has an unexpired lease at ``at`` (see the port)."""
        if not self._held_by(holder, at):
            return False
        row = self.rows.get(event_id)
        if row is None:
            raise StorageError(f"cannot mark event {event_id!r} delivered: it does not exist")
        if row.delivered_at is None:
            self.rows[event_id] = attrs.evolve(row, delivered_at=at)
        return True

    def acquire_dispatch_lease(self, *, holder: str, now: datetime, until: datetime) -> bool:
        """Take or extend the lease unless another holder's runs past ``now``."""
        lease = self.lease
        if lease is not None and lease.holder != holder and lease.until > now:
            return False
        self.lease = _Lease(holder, until)
        return True

    def release_dispatch_lease(self, *, holder: str) -> None:
        """Free the lease if ``holder`` has it."""
        if self.lease is not None and self.lease.holder == holder:
            self.lease = None

    def _held_by(self, holder: str, at: datetime) -> bool:
        return self.lease is not None and self.lease.holder == holder and self.lease.until > at


class MemoryOutboxRepository:
    """The outbox methods of an in-memory transaction, over its tables' outbox."""

    _t: MemoryTables

    def add_events(self, events: Sequence[DomainEvent]) -> None:
        """Append events in order, visible to others on commit."""
        self._t.outbox.add_events(events)

    def pending_events(self, *, limit: int) -> list[DomainEvent]:
        """Undelivered events in occurrence order."""
        return self._t.outbox.pending_events(limit=limit)

    def list_events(
        self, *, delivered: bool | None = None, limit: int | None = None
    ) -> list[DomainEvent]:
        """Events in occurrence order, optionally only (un)delivered ones."""
        return self._t.outbox.list_events(delivered=delivered, limit=limit)

    def mark_event_delivered(self, event_id: str, *, holder: str, at: datetime) -> bool:
        """Mark delivered if ``holder`` still holds the dispatch lease."""
        return self._t.outbox.mark_event_delivered(event_id, holder=holder, at=at)

    def acquire_dispatch_lease(self, *, holder: str, now: datetime, until: datetime) -> bool:
        """Take (or extend) the one dispatch lease unless another holds it."""
        return self._t.outbox.acquire_dispatch_lease(holder=holder, now=now, until=until)

    def release_dispatch_lease(self, *, holder: str) -> None:
        """Free the lease if ``holder`` has it."""
        self._t.outbox.release_dispatch_lease(holder=holder)
