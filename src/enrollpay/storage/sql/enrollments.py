"""Enrollments and their schedule items in a SQL transaction (see :mod:`.guards`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy import exc

from enrollpay.domain.dunning import DUNNING_ITEM_STATUSES
from enrollpay.domain.lifecycle import EnrollmentStatus, ItemStatus
from enrollpay.domain.records import Enrollment, PaymentAttempt, ScheduleItem
from enrollpay.domain.statuses import IN_FLIGHT_ATTEMPT_STATUSES
from enrollpay.errors import DuplicateEnrollmentError, DuplicateError
from enrollpay.ports import ItemQuery, LockedEnrollment
from enrollpay.storage.schedule_versions import replace_open_items
from enrollpay.storage.sql import mapping as m
from enrollpay.storage.sql import statements as q
from enrollpay.storage.sql.prepared import Prepared
from enrollpay.storage.sql.schema import attempts, enrollments, schedule_items
from enrollpay.storage.sql.unit import Locked, SqlUnit, chunks

__all__ = ["EnrollmentRepository"]

_PAUSED_OR_CANCELLED = (EnrollmentStatus.PAUSED.value, EnrollmentStatus.CANCELLED.value)
#: Enrollments whose scheduled items wait (only due retries are charged).
_HELD = (EnrollmentStatus.SUSPENDED.value, EnrollmentStatus.DEFAULTED.value)


class EnrollmentRepository(SqlUnit):
    """Enrollments and their payment schedules (one aggregate)."""

    # -- enrollments -------------------------------------------------------------------

    def _check_open(self, enrollment: Enrollment) -> None:
        if enrollment.status != EnrollmentStatus.CANCELLED:
            existing = self.find_open_enrollment(enrollment.user_id, enrollment.product_id)
            if existing is not None and existing.id != enrollment.id:
                raise DuplicateEnrollmentError(
                    enrollment.user_id, enrollment.product_id, existing.id
                )

    def add_enrollment(self, enrollment: Enrollment) -> None:
        """Insert; ``DuplicateEnrollmentError`` if the user has an open one in the product."""

        def check() -> None:
            if self._g.exists(enrollments, enrollments.c.id == enrollment.id):
                raise DuplicateError("enrollment id", enrollment.id)
            self._check_open(enrollment)

        self._g.insert_new(enrollments, m.enrollment_to_row(enrollment), check)
        self._held.hold(enrollments, enrollment.id, enrollment)

    def get_enrollment(self, enrollment_id: str) -> Enrollment | None:
        """An enrollment by id (not locked: see :meth:`lock_enrollment`)."""
        return self._held_row(
            enrollments, enrollment_id, q.ENROLLMENT, m.enrollment_from_row, self._is_locked
        )

    def _is_locked(self, enrollment: Enrollment) -> bool:
        return enrollment.id in self._locked

    def lock_enrollment(self, enrollment_id: str) -> LockedEnrollment | None:
        """Lock the enrollment, then its items; its attempts in flight when asked for.

        That is the one lock order of the SQL store (PostgreSQL row locks;
        on SQLite the transaction holds the database's write lock already).
        Every writer of an item or an attempt locks its enrollment first, so
        the attempts need no lock of their own to stay put. The rows stay
        held for the rest of the transaction, so locking again is served
        from memory, with this transaction's own changes.
        """
        locked = self._locked.get(enrollment_id)
        if locked is None:
            enrollment = self._held_row(
                enrollments,
                enrollment_id,
                q.ENROLLMENT_LOCKED if self._pg else q.ENROLLMENT,
                m.enrollment_from_row,
                lambda _: True,
            )
            if enrollment is None:
                return None
            locked = Locked()
            stmt = q.ITEMS_OF_LOCKED if self._pg else q.ITEMS_OF
            locked.item_ids = self._hold_rows(stmt, enrollment_id, schedule_items, m.item_from_row)
            self._locked[enrollment_id] = locked
        items: list[ScheduleItem] = [self._held.get(schedule_items, k) for k in locked.item_ids]
        items.sort(key=lambda item: item.seq)
        return LockedEnrollment(
            self._held.get(enrollments, enrollment_id),
            tuple(items),
            lambda: self._in_flight(enrollment_id),
        )

    def _hold_rows(
        self, stmt: Prepared, key: str, table: sa.Table, from_row: Callable[[m.Row], Any]
    ) -> list[str]:
        """Run ``stmt`` with ``key``; hold each row it returns; their ids in order."""
        found: list[str] = []
        for row in self._rows(stmt, key):
            row_id = str(row["id"])
            if self._held.get(table, row_id) is None:
                self._held.hold(table, row_id, from_row(row), dict(row))
            found.append(row_id)
        return found

    def _in_flight(self, enrollment_id: str) -> tuple[PaymentAttempt, ...]:
        """The locked enrollment's attempts in flight, read once per transaction."""
        locked = self._locked[enrollment_id]
        if locked.attempt_ids is None:
            stmt = q.IN_FLIGHT_OF_LOCKED if self._pg else q.IN_FLIGHT_OF
            locked.attempt_ids = self._hold_rows(stmt, enrollment_id, attempts, m.attempt_from_row)
        seq = {key: self._held.get(schedule_items, key).seq for key in locked.item_ids}
        in_flight: list[PaymentAttempt] = [
            attempt
            for attempt in (self._held.get(attempts, key) for key in locked.attempt_ids)
            if attempt.status in IN_FLIGHT_ATTEMPT_STATUSES
        ]
        in_flight.sort(key=lambda a: (seq[a.item_id], a.number))
        return tuple(in_flight)

    def enrollments_of(self, user_id: str) -> list[Enrollment]:
        """A user's enrollments, oldest first."""
        return self.list_enrollments(user_id=user_id)

    def update_enrollment(self, enrollment: Enrollment) -> None:
        """Replace an existing enrollment."""
        before: Enrollment | None = self._held.get(enrollments, enrollment.id)
        if before == enrollment:
            return

        def check() -> None:
            self._g.require(enrollments, "id", enrollment.id, "enrollment")
            self._check_open(enrollment)

        row = m.enrollment_to_row(enrollment)
        changes = self._held.changes(enrollments, "id", row)
        self._g.guarded(
            check,
            lambda: self._g.update(enrollments, "id", changes, "enrollment"),
            keys_unchanged=before is not None
            and (before.user_id, before.product_id) == (enrollment.user_id, enrollment.product_id)
            and (
                before.status != EnrollmentStatus.CANCELLED
                or enrollment.status == EnrollmentStatus.CANCELLED
            ),
        )
        self._held.hold(enrollments, enrollment.id, enrollment, row)

    def find_open_enrollment(self, user_id: str, product_id: str) -> Enrollment | None:
        """The user's non-cancelled enrollment in the product, if any."""
        row = self._d.run(q.OPEN_ENROLLMENT, {"user": user_id, "product": product_id}).first()
        return None if row is None else m.enrollment_from_row(row)

    def find_enrollment_by_subscription(self, subscription_id: str) -> Enrollment | None:
        """The enrollment billed by a gateway subscription."""
        stmt = (
            sa.select(enrollments)
            .where(enrollments.c.gateway_subscription_id == subscription_id)
            .order_by(enrollments.c.created_at, self._text(enrollments.c.id))
            .limit(1)
        )
        row = self._row(stmt)
        return None if row is None else m.enrollment_from_row(row)

    def list_enrollments(
        self,
        *,
        user_id: str | None = None,
        product_id: str | None = None,
        statuses: frozenset[EnrollmentStatus] | None = None,
    ) -> list[Enrollment]:
        """Enrollments matching every given filter, oldest first."""
        stmt = sa.select(enrollments).order_by(
            enrollments.c.created_at, self._text(enrollments.c.id)
        )
        if user_id is not None:
            stmt = stmt.where(enrollments.c.user_id == user_id)
        if product_id is not None:
            stmt = stmt.where(enrollments.c.product_id == product_id)
        if statuses is not None:
            stmt = stmt.where(enrollments.c.status.in_([s.value for s in statuses]))
        return [m.enrollment_from_row(r) for r in self._rows(stmt)]

    # -- schedule items ----------------------------------------------------------------

    def _item_conflict(self, batch: Sequence[ScheduleItem]) -> tuple[int, DuplicateError | None]:
        """Index of the first item that may not be inserted, and why (as memory does it)."""
        ids: set[str] = set()
        pairs: set[tuple[str, int]] = set()
        for chunk in chunks([i.id for i in batch]):
            stmt = sa.select(schedule_items.c.id).where(schedule_items.c.id.in_(chunk))
            ids.update(str(row["id"]) for row in self._d.run(stmt).all())
        for chunk in chunks(sorted({i.enrollment_id for i in batch})):
            pairs_of = sa.select(schedule_items.c.enrollment_id, schedule_items.c.seq).where(
                schedule_items.c.enrollment_id.in_(chunk)
            )
            pairs.update(
                (str(row["enrollment_id"]), int(row["seq"])) for row in self._d.run(pairs_of).all()
            )
        for index, item in enumerate(batch):
            if item.id in ids:
                return index, DuplicateError("schedule item id", item.id)
            if (item.enrollment_id, item.seq) in pairs:
                return index, DuplicateError("schedule item", (item.enrollment_id, item.seq))
            ids.add(item.id)
            pairs.add((item.enrollment_id, item.seq))
        return len(batch), None

    def add_items(self, items: Sequence[ScheduleItem]) -> None:
        """Insert schedule items (those before a duplicate are inserted, like memory)."""
        batch = list(items)
        if batch and not self._pg:
            # SQLite: insert first, in a SAVEPOINT (in-process, no round trip)
            # since rows run one by one and a refused one leaves those before
            # it; only a refused batch pays for finding the culprit.
            self._d.run("SAVEPOINT enrollpay_items")
            try:
                self._d.run(
                    q.INSERT[schedule_items.name],
                    [m.item_to_row(i) for i in batch],
                    value_keys=True,
                )
            except exc.IntegrityError:
                self._d.run("ROLLBACK TO enrollpay_items")
                self._d.run("RELEASE enrollpay_items")
            else:
                self._d.run("RELEASE enrollpay_items")
                self._hold_new_items(batch)
                return
        good, error = self._item_conflict(batch)

        def check() -> None:
            _, conflict = self._item_conflict(batch[:good])
            if conflict is not None:
                raise conflict

        if good:
            rows = [m.item_to_row(i) for i in batch[:good]]
            self._g.guarded(check, lambda: self._d.run(sa.insert(schedule_items), rows))
            self._hold_new_items(batch[:good])
        if error is not None:
            raise error

    def _hold_new_items(self, items: Sequence[ScheduleItem]) -> None:
        for item in items:
            self._held.hold(schedule_items, item.id, item)
            locked = self._locked.get(item.enrollment_id)
            if locked is not None:
                locked.item_ids.append(item.id)

    def get_item(self, item_id: str) -> ScheduleItem | None:
        """A schedule item by id (not locked: see :meth:`lock_enrollment`)."""
        return self._held_row(schedule_items, item_id, q.ITEM, m.item_from_row, self._in_locked)

    def update_item(self, item: ScheduleItem) -> None:
        """Replace an existing schedule item."""
        if self._held.get(schedule_items, item.id) == item:
            return
        row = m.item_to_row(item)
        self._g.update(
            schedule_items, "id", self._held.changes(schedule_items, "id", row), "schedule item"
        )
        self._held.hold(schedule_items, item.id, item, row)

    def items_of(self, enrollment_id: str) -> list[ScheduleItem]:
        """The items of an enrollment by sequence number."""
        return [m.item_from_row(r) for r in self._rows(q.ITEMS_OF, enrollment_id)]

    def replace_open_items(
        self, enrollment_id: str, superseded: Sequence[ScheduleItem], added: Sequence[ScheduleItem]
    ) -> None:
        """Supersede open items and add the next schedule version (see the port)."""
        replace_open_items(self, enrollment_id, superseded, added)

    def list_items(self, query: ItemQuery) -> list[ScheduleItem]:
        """Items matching the query, by due date then id."""
        stmt = sa.select(schedule_items).order_by(
            schedule_items.c.due, self._text(schedule_items.c.id)
        )
        if query.product_id is not None or query.user_id is not None:
            stmt = stmt.join(enrollments, enrollments.c.id == schedule_items.c.enrollment_id)
            if query.product_id is not None:
                stmt = stmt.where(enrollments.c.product_id == query.product_id)
            if query.user_id is not None:
                stmt = stmt.where(enrollments.c.user_id == query.user_id)
        if query.statuses is not None:
            stmt = stmt.where(schedule_items.c.status.in_([s.value for s in query.statuses]))
        if query.due_from is not None:
            stmt = stmt.where(schedule_items.c.due >= query.due_from)
        if query.due_to is not None:
            stmt = stmt.where(schedule_items.c.due <= query.due_to)
        if query.enrollment_id is not None:
            stmt = stmt.where(schedule_items.c.enrollment_id == query.enrollment_id)
        if query.limit is not None:
            stmt = stmt.limit(query.limit)
        return [m.item_from_row(r) for r in self._rows(stmt)]

    def claim_due(
        self, *, today: date, now: datetime, lease_until: datetime, limit: int
    ) -> list[ScheduleItem]:
        """Lease up to ``limit`` collectible items so no other worker takes them.

        Each of the three kinds of collectible item is read on its own, in
        (due, id) order from the (status, due, id) index, so a claim reads
        about ``limit`` rows per kind instead of sorting every due item;
        the rows are then merged in Python's (due, id) order and cut to
        ``limit``. PostgreSQL: each read is ``FOR UPDATE OF items SKIP
        LOCKED`` so that concurrent workers each get different rows without
        waiting (a row whose lease another worker just committed no longer
        matches); rows read but cut stay locked only until the claim
        commits. The reads order ids in the database's collation, the
        index's, which is what lets them stop after ``limit`` rows: which of
        the items due on the same day fall in one batch can follow that
        collation, and the batch is then in Python's order. SQLite: the
        transaction already holds the write lock.
        """
        if limit <= 0:
            return []
        lease = schedule_items.c.lease_until
        items = schedule_items.c
        earlier = schedule_items.alias("earlier")
        in_dunning = (
            sa.select(earlier.c.id)
            .where(
                earlier.c.enrollment_id == items.enrollment_id,
                earlier.c.seq < items.seq,
                earlier.c.payer_id.is_not_distinct_from(items.payer_id),  # one cycle per payer
                earlier.c.status.in_([s.value for s in sorted(DUNNING_ITEM_STATUSES)]),
            )
            .exists()
        )
        kinds = (
            # enrollpay.domain.dunning.charged_automatically, in SQL: a
            # scheduled item waits while its enrollment is suspended or
            # defaulted, or an earlier item of it is in dunning.
            sa.and_(
                items.status == ItemStatus.SCHEDULED.value,
                items.due <= today,
                enrollments.c.status.not_in(_HELD),
                ~in_dunning,
            ),
            sa.and_(
                items.status == ItemStatus.FAILED.value,
                items.next_attempt_at.is_not(None),
                items.next_attempt_at <= now,
            ),
            sa.and_(items.status == ItemStatus.PROCESSING.value, lease.is_not(None)),
        )

        def claimable(*where: sa.ColumnElement[bool]) -> sa.Select[Any]:
            return (
                sa.select(schedule_items)
                .join(enrollments, enrollments.c.id == items.enrollment_id)
                .where(
                    enrollments.c.status.not_in(_PAUSED_OR_CANCELLED),
                    enrollments.c.gateway_subscription_id.is_(None),
                    sa.or_(lease.is_(None), lease <= now),
                    *where,
                )
                .order_by(items.due, items.id)  # the index's order (see above)
                .limit(limit)
            )

        rows: list[m.Row] = []
        for kind in kinds:
            stmt = claimable(kind)
            if self._pg:
                stmt = stmt.with_for_update(of=schedule_items, skip_locked=True)
            rows.extend(self._rows(stmt))
        rows.sort(key=lambda row: (row["due"], row["id"]))
        del rows[limit:]
        found = [m.item_from_row(r) for r in rows]
        for chunk in chunks([i.id for i in found]):
            self._d.run(
                sa.update(schedule_items)
                .where(schedule_items.c.id.in_(chunk))
                .values(lease_until=lease_until)
            )
        leased = [attrs.evolve(i, lease_until=lease_until) for i in found]
        for item in leased:
            self._held.hold(schedule_items, item.id, item)
        return leased
