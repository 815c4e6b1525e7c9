"""The transactional outbox in SQL: events stored with their changes, and the dispatch lease.

:class:`OutboxRepository` works in one
:class:`~enrollpay.storage.sql.transaction.SqlTransaction`, so the events
it adds commit or roll back with the unit of work that caused them. ``seq``
(an identity column) orders them as they occurred.

One dispatch lease, a single row of ``enrollpay_outbox_lease``, guards
delivery instead of per-event ``FOR UPDATE SKIP LOCKED``: events must reach
the handler in the order they occurred, and two dispatchers must never
deliver one event at once. With per-event locks a second dispatcher would
skip a locked event and deliver the next one first; with one lease holder
at a time both guarantees hold, and an expired lease (its dispatcher
crashed) frees itself.

The lease is taken with one ``INSERT ... ON CONFLICT (id) DO UPDATE ...
WHERE <free, expired or ours> RETURNING``. On PostgreSQL concurrent callers
queue on the row's lock and each re-checks the condition against the row
as the one before left it, so two can never both get it; on SQLite the
transaction holds the write lock already (``BEGIN IMMEDIATE``). Marking an
event delivered reads the lease ``FOR SHARE`` on PostgreSQL, inside the
marking ``UPDATE`` itself: a dispatcher whose lease runs out while it marks
keeps a successor waiting until the mark commits, so the successor cannot
read the event as pending and deliver it a second time meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.dialects import postgresql, sqlite

from enrollpay.audit import jsonable
from enrollpay.domain.events import DomainEvent
from enrollpay.errors import DuplicateError, StorageError
from enrollpay.storage.sql import statements as q
from enrollpay.storage.sql.prepared import Prepared
from enrollpay.storage.sql.schema import outbox, outbox_lease
from enrollpay.storage.sql.unit import SqlUnit, chunks

__all__ = ["OutboxRepository", "event_from_row", "event_to_row"]

#: The id of the lease's one row.
LEASE_ROW = 1


#: Rows per multi-row outbox INSERT on PostgreSQL (a unit of work writes one to three).
_PG_BATCH = 16
_EVENT_COLUMNS = ("id", "kind", "enrollment_id", "at", "data")
_INSERT_EVENTS: dict[int, Prepared] = {}


def _insert_events(count: int) -> Prepared:
    """``INSERT`` of ``count`` outbox rows (values ``<column>_<n>``), skipping taken ids."""
    prepared = _INSERT_EVENTS.get(count)
    if prepared is None:
        rows = [
            {
                name: sa.bindparam(f"{name}_{n}", type_=outbox.c[name].type)
                for name in _EVENT_COLUMNS
            }
            for n in range(count)
        ]
        stmt = postgresql.insert(outbox).values(rows).on_conflict_do_nothing(index_elements=["id"])
        prepared = _INSERT_EVENTS.setdefault(count, Prepared(stmt.returning(outbox.c.id)))
    return prepared


def _lease_held(*, pg: bool) -> sa.Select[Any]:
    """The lease row if ``:me`` holds it past ``:now`` (read ``FOR SHARE`` on PostgreSQL)."""
    held = sa.select(outbox_lease.c.id).where(
        outbox_lease.c.id == LEASE_ROW,
        outbox_lease.c.holder == sa.bindparam("me"),
        outbox_lease.c.lease_until > sa.bindparam("now"),
    )
    return held.with_for_update(read=True) if pg else held


#: By dialect (True: PostgreSQL): the lease check, and the mark that carries it.
_LEASE_HELD = {pg: Prepared(_lease_held(pg=pg)) for pg in (False, True)}
_MARK = {
    pg: Prepared(
        sa.update(outbox)
        .where(
            outbox.c.id == sa.bindparam("event"),
            outbox.c.delivered_at.is_(None),
            _lease_held(pg=pg).exists(),
        )
        .values(delivered_at=sa.bindparam("stamp"))
    )
    for pg in (False, True)
}
_EVENT_SEQ = Prepared(sa.select(outbox.c.seq).where(outbox.c.id == sa.bindparam("key")))


def event_to_row(e: DomainEvent) -> dict[str, Any]:
    """Column values of an event (``seq`` and ``delivered_at`` are the store's)."""
    return {
        "id": e.id,
        "kind": e.kind,
        "enrollment_id": e.enrollment_id,
        "at": e.at,
        "data": jsonable(e.data),
    }


def event_from_row(r: Any) -> DomainEvent:
    """The event a row holds."""
    return DomainEvent(
        id=r["id"], kind=r["kind"], enrollment_id=r["enrollment_id"], at=r["at"], data=r["data"]
    )


def _first_repeated(ids: Sequence[str]) -> str | None:
    seen: set[str] = set()
    for event_id in ids:
        if event_id in seen:
            return event_id
        seen.add(event_id)
    return None


class OutboxRepository(SqlUnit):
    """The outbox methods of :class:`~enrollpay.ports.EventOutbox` in one SQL transaction.

    Every statement runs through the transaction's one executor (``self._d.run``).
    """

    def add_events(self, events: Sequence[DomainEvent]) -> None:
        """Append in order; ``DuplicateError`` on a repeated or known id (see the port).

        An id repeated in ``events`` is refused at once. The rows wait in the
        transaction and go out together when it ends (:meth:`flush_events`,
        before the commit and before any read of the outbox in this
        transaction), as the audit entries do: a unit of work writes one to
        three events, and a statement each cost more than writing them. A
        known id then fails the commit with ``DuplicateError``, naming the id,
        and nothing of the transaction is kept. (Ids come from the id
        factory: 128 random bits by default.)

        - SQLite: one ``executemany``; the transaction holds the write lock.
        - PostgreSQL: one multi-row ``INSERT ... ON CONFLICT DO NOTHING
          RETURNING id`` per :data:`_PG_BATCH` rows, one round trip: a taken
          id comes back as no row instead of an error, so the transaction
          stays usable (the rows that did go in are deleted again).
        """
        if not events:
            return
        repeated = _first_repeated([e.id for e in events])
        if repeated is not None:
            raise DuplicateError("event id", repeated)
        self._events.extend(event_to_row(e) for e in events)

    def flush_events(self) -> None:
        """Send the events added so far (see :meth:`add_events`)."""
        if not self._events:
            return
        rows, self._events = self._events, []
        if self._pg:
            self._flush_pg(rows)
            return
        try:
            self._d.run(q.INSERT[outbox.name], rows, value_keys=True)
        except exc.IntegrityError as error:
            ids = [str(row["id"]) for row in rows]
            taken = self._taken_event_id(ids)
            if taken is None:  # pragma: no cover - every column is set from a valid event
                raise
            # The rows before the refused one went in: take them out again, so
            # that a caller who goes on (a read of the outbox met the error)
            # finds none of them, as on PostgreSQL.
            ours = ids[: ids.index(taken)]
            for chunk in chunks(ours):
                self._d.run(sa.delete(outbox).where(outbox.c.id.in_(chunk)))
            raise DuplicateError("event id", taken) from error

    def _flush_pg(self, rows: list[dict[str, Any]]) -> None:
        ids = [str(row["id"]) for row in rows]
        repeated = _first_repeated(ids)  # two batches of one transaction may share an id
        if repeated is not None:
            raise DuplicateError("event id", repeated)
        written: set[str] = set()
        for start in range(0, len(rows), _PG_BATCH):
            batch = rows[start : start + _PG_BATCH]
            values = {
                f"{key}_{n}": value for n, row in enumerate(batch) for key, value in row.items()
            }
            found = self._d.run(_insert_events(len(batch)), values).all()
            written.update(str(row["id"]) for row in found)
        if len(written) == len(ids):
            return
        if written:
            for chunk in chunks(sorted(written)):
                self._d.run(sa.delete(outbox).where(outbox.c.id.in_(chunk)))
        raise DuplicateError("event id", next(i for i in ids if i not in written))

    def _taken_event_id(self, ids: Sequence[str]) -> str | None:
        """The id whose row the database refused in a failed ``executemany`` of ``ids``.

        SQLite runs the rows one by one: those before the refused one are in
        (ours), the refused one undid itself and its id is there already.
        So the refused id is the last of the longest run of leading ids the
        table holds. (Any later id it holds is taken too, and is as good.)
        """
        present: set[str] = set()
        for chunk in chunks(ids):
            found = self._d.run(sa.select(outbox.c.id).where(outbox.c.id.in_(chunk))).all()
            present.update(str(row["id"]) for row in found)
        taken = None
        for event_id in ids:
            if event_id not in present:
                break
            taken = event_id
        return taken

    def pending_events(self, *, limit: int) -> list[DomainEvent]:
        """Up to ``limit`` undelivered events by ``seq`` (the partial index serves this)."""
        return self.list_events(delivered=False, limit=limit)

    def list_events(
        self, *, delivered: bool | None = None, limit: int | None = None
    ) -> list[DomainEvent]:
        """Events by ``seq``, optionally only (un)delivered ones."""
        self.flush_events()
        stmt = sa.select(outbox).order_by(outbox.c.seq)
        if delivered is not None:
            column = outbox.c.delivered_at
            stmt = stmt.where(column.is_not(None) if delivered else column.is_(None))
        if limit is not None:
            stmt = stmt.limit(max(limit, 0))
        return [event_from_row(r) for r in self._d.run(stmt).all()]

    def mark_event_delivered(self, event_id: str, *, holder: str, at: datetime) -> bool:
        """Set ``delivered_at`` if ``holder``'s lease runs past ``at`` (see the module doc).

        One statement in the common case: the update carries the lease check
        (``EXISTS`` over the lease row, read ``FOR SHARE`` on PostgreSQL).
        When it changes nothing, a second look tells a lost lease (False)
        from an event delivered already (True) or one that does not exist.
        The three statements are constants, rendered once (a dispatcher runs
        the mark once per event).
        """
        self.flush_events()
        pg = self._pg
        marked = self._d.run(_MARK[pg], {"event": event_id, "stamp": at, "now": at, "me": holder})
        if marked.rowcount:
            return True
        if self._d.run(_LEASE_HELD[pg], {"now": at, "me": holder}).first() is None:
            return False
        if self._d.run(_EVENT_SEQ, {"key": event_id}).first() is None:
            raise StorageError(f"cannot mark event {event_id!r} delivered: it does not exist")
        return True

    def acquire_dispatch_lease(self, *, holder: str, now: datetime, until: datetime) -> bool:
        """Take or extend the lease in one race-free statement (see the module doc)."""
        insert = (postgresql.insert if self._pg else sqlite.insert)(outbox_lease).values(
            id=LEASE_ROW, holder=holder, lease_until=until
        )
        current = outbox_lease.c
        stmt = insert.on_conflict_do_update(
            index_elements=[current.id],
            set_={"holder": insert.excluded.holder, "lease_until": insert.excluded.lease_until},
            where=sa.or_(
                current.holder.is_(None),
                current.lease_until.is_(None),
                current.lease_until <= now,
                current.holder == holder,
            ),
        ).returning(current.id)
        return self._d.run(stmt).first() is not None

    def release_dispatch_lease(self, *, holder: str) -> None:
        """Free the lease if ``holder`` has it."""
        self._d.run(
            sa.update(outbox_lease)
            .where(outbox_lease.c.id == LEASE_ROW, outbox_lease.c.holder == holder)
            .values(holder=None, lease_until=None)
        )
