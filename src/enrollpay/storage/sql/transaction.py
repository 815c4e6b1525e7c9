"""The repositories of one SQL unit of work (:class:`SqlTransaction`).

Every method checks the same invariants, in the same order, as the
in-memory reference store and raises the same library errors. The checks
run as queries first, so the errors carry the same data (for example the
``existing_id`` of a duplicate enrollment). On PostgreSQL a concurrent
transaction can still commit a conflicting row between the check and the
write; the write then runs inside a SAVEPOINT, and when a unique
constraint refuses it the savepoint is rolled back and the check runs
again: under READ COMMITTED it now sees the committed row and raises the
same error it would have raised had it come second. On SQLite every
transaction holds the database's write lock (``BEGIN IMMEDIATE``), so the
checks cannot be overtaken.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any, ParamSpec, TypeVar

import attrs
import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.dialects import postgresql, sqlite

from enrollpay.audit import link_entry
from enrollpay.domain.events import DomainEvent
from enrollpay.domain.lifecycle import AttemptStatus, EnrollmentStatus, ItemStatus
from enrollpay.domain.money import Money
from enrollpay.domain.plans import PlanRule
from enrollpay.domain.records import (
    AuditEntry,
    Customer,
    Enrollment,
    Payment,
    PaymentAttempt,
    Product,
    Refund,
    ScheduleItem,
    WebhookReceipt,
)
from enrollpay.errors import (
    DuplicateEnrollmentError,
    DuplicateError,
    PaymentNotFoundError,
    RefundExceedsPaidError,
    StorageError,
)
from enrollpay.ports import AuditDraft, ItemQuery
from enrollpay.storage.sql import mapping as m
from enrollpay.storage.sql.engine import is_postgresql, translate
from enrollpay.storage.sql.outbox import SqlOutbox
from enrollpay.storage.sql.prepared import Driver, Plans, Prepared
from enrollpay.storage.sql.reports import SqlReports
from enrollpay.storage.sql.schema import (
    attempts,
    audit_log,
    customers,
    enrollments,
    payments,
    plan_rules,
    products,
    refunds,
    schedule_items,
    webhook_receipts,
)

__all__ = ["SqlTransaction"]

P = ParamSpec("P")
R = TypeVar("R")

_CANCELLED = EnrollmentStatus.CANCELLED.value
_PAUSED_OR_CANCELLED = (EnrollmentStatus.PAUSED.value, EnrollmentStatus.CANCELLED.value)
#: pg_advisory_xact_lock key that serialises audit-chain writers (b"enrollau").
_AUDIT_LOCK_KEY = 0x656E726F6C6C6175
_CHUNK = 500  # bound on IN (...) lists
#: Key of (data_version, chain head) in an SQLite connection's ``info``.
_CHAIN_HEAD = "enrollpay_audit_head"
_UNSET = object()


def _by(table: sa.Table, column: str) -> sa.Select[Any]:
    """``SELECT * FROM table WHERE column = :key``."""
    return sa.select(table).where(table.c[column] == sa.bindparam("key"))


def _by_key(table: sa.Table, column: str) -> Prepared:
    return Prepared(_by(table, column))


def _by_key_locked(table: sa.Table, column: str) -> tuple[Prepared, Prepared]:
    """The plain read by key and the ``FOR UPDATE`` one."""
    stmt = _by(table, column)
    return Prepared(stmt), Prepared(stmt.with_for_update())


# The statements of the hot paths are built once, here, and run through
# Prepared (see prepared.py): SQLAlchemy renders each once per dialect and
# the driver runs it, where building a statement per call, or executing one
# through SQLAlchemy's execution machinery, cost more than the database
# did. Only the bound values vary.
_PRODUCT = _by_key(products, "id")
_CUSTOMER = _by_key(customers, "user_id")
_CUSTOMER_BY_GATEWAY = _by_key(customers, "gateway_customer_id")
_ENROLLMENT, _ENROLLMENT_LOCKED = _by_key_locked(enrollments, "id")
# The status is written into the SQL, not bound: only then can the database
# match the condition to the partial unique index on (user_id, product_id)
# WHERE status != 'cancelled'. With a bound value SQLite searched every
# enrollment in the product instead (each enrollment slower than the last).
_NOT_CANCELLED = enrollments.c.status != sa.literal_column(f"'{_CANCELLED}'")
_OPEN_ENROLLMENT = Prepared(
    sa.select(enrollments).where(
        enrollments.c.user_id == sa.bindparam("user"),
        enrollments.c.product_id == sa.bindparam("product"),
        _NOT_CANCELLED,
    )
)
_ITEM, _ITEM_LOCKED = _by_key_locked(schedule_items, "id")
_ITEMS_OF = Prepared(_by(schedule_items, "enrollment_id").order_by(schedule_items.c.seq))
_ATTEMPT, _ATTEMPT_LOCKED = _by_key_locked(attempts, "id")
_ATTEMPT_BY_GATEWAY = _by_key(attempts, "gateway_payment_id")
_ATTEMPTS_OF = Prepared(_by(attempts, "item_id").order_by(attempts.c.number, attempts.c.id))
# PostgreSQL's default collation does not order by code point, as Python does.
_ATTEMPTS_OF_PG = Prepared(
    _by(attempts, "item_id").order_by(attempts.c.number, attempts.c.id.collate("C"))
)
_PAYMENT = _by_key(payments, "id")
_PAYMENT_BY_GATEWAY = _by_key(payments, "gateway_payment_id")
_REFUND = _by_key(refunds, "id")
_REFUND_BY_GATEWAY = _by_key(refunds, "gateway_refund_id")
_RECEIPT = _by_key(webhook_receipts, "event_id")
_LAST_AUDIT = Prepared(sa.select(audit_log).order_by(audit_log.c.seq.desc()).limit(1))
#: ``INSERT`` per table; the row's keys name the columns.
_INSERT = {t.name: Prepared(sa.insert(t)) for t in (refunds, audit_log, schedule_items)}
_PLAN_RULES = Prepared(sa.select(plan_rules).order_by(plan_rules.c.position))
#: ``INSERT ... ON CONFLICT DO NOTHING`` per table and dialect (True: PostgreSQL).
_INSERT_NEW: dict[tuple[str, bool], Prepared] = {
    (t.name, pg): Prepared(
        (postgresql.insert(t) if pg else sqlite.insert(t))
        .on_conflict_do_nothing()
        .returning(sa.literal_column("1"))
    )
    for t in (enrollments, attempts, payments, webhook_receipts)
    for pg in (False, True)
}
_OTHER_ATTEMPT = attempts.alias("other")
#: ``UPDATE`` of an attempt that gets its gateway payment id, unless another has it.
_UPDATE_UNLESS_GID_TAKEN = Prepared(
    sa.update(attempts)
    .where(attempts.c.id == sa.bindparam("key_"))
    .where(
        ~sa.exists().where(
            _OTHER_ATTEMPT.c.gateway_payment_id == sa.bindparam("gid_"),
            _OTHER_ATTEMPT.c.id != sa.bindparam("key_"),
        )
    )
)
#: ``INSERT ... ON CONFLICT (key) DO UPDATE`` per (table, dialect, columns), built on first use.
_UPSERT: dict[tuple[str, bool, tuple[str, ...]], Prepared] = {}
#: ``UPDATE table SET <the row's other keys> WHERE key = :key_`` per table.
_UPDATE = {
    t.name: Prepared(sa.update(t).where(t.c[key] == sa.bindparam("key_")))
    for t, key in ((enrollments, "id"), (schedule_items, "id"), (attempts, "id"), (refunds, "id"))
}


def _translated(method: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except exc.SQLAlchemyError as error:
            raise translate(error) from error

    return wrapper


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


class SqlTransaction(SqlReports):
    """A :class:`~enrollpay.ports.StoreTransaction` over one SQLAlchemy connection."""

    def __init__(self, conn: sa.Connection, plans: Plans, *, watched: bool | None = None) -> None:
        self._c = conn
        self._d = Driver(conn, plans, watched=watched)
        self._pg = is_postgresql(conn)
        #: Rows this transaction holds, by (table, id): what it read or wrote
        #: (see :meth:`_held_row`), and the column values the database has when
        #: known, so an update sends only the columns that change. Nobody else
        #: can change these rows before the transaction ends.
        self._held: dict[tuple[str, str], tuple[Any, dict[str, Any] | None]] = {}
        #: The chain's last entry once this transaction holds the chain (None: not yet).
        self._audit_head: AuditEntry | None = None
        #: Audit rows linked but not yet sent: one multi-row INSERT at the end.
        self._audit_rows: list[dict[str, Any]] = []
        #: SQLite: the connection's ``PRAGMA data_version`` when this transaction
        #: first needed the chain's head (see :meth:`_sqlite_chain_head`).
        self._data_version: int | None = None
        self._outbox = SqlOutbox(conn, pg=self._pg)

    # -- helpers ---------------------------------------------------------------------

    def _rows(self, stmt: sa.Executable | Prepared, key: object = None) -> Sequence[m.Row]:
        params = None if key is None else {"key": key}
        if isinstance(stmt, Prepared):
            return self._d.run(stmt, params).all()
        return list(self._c.execute(stmt, params).mappings())

    def _row(self, stmt: sa.Executable | Prepared, key: object = None) -> m.Row | None:
        params = None if key is None else {"key": key}
        if isinstance(stmt, Prepared):
            return self._d.run(stmt, params).first()
        return self._c.execute(stmt, params).mappings().first()

    def _held_row(
        self,
        table: sa.Table,
        key: str,
        for_update: bool,
        stmts: tuple[Prepared, Prepared],
        from_row: Callable[[m.Row], R],
    ) -> R | None:
        """A row by id, read once per transaction where it cannot change meanwhile.

        The service reads the same enrollment, item and attempt several times
        in one unit of work (lock, check, settle, recompute the status); each
        read was a round trip. A row this transaction holds is served from
        memory: on SQLite every row (``BEGIN IMMEDIATE`` holds the write
        lock), on PostgreSQL a row it locked (``FOR UPDATE``) or wrote. An
        unlocked PostgreSQL read is never cached: READ COMMITTED lets the
        next read see another transaction's commit, as it did before.
        """
        held = self._holding(table, key)
        if held is not None:
            return held  # type: ignore[no-any-return]
        locking = for_update and self._pg
        row = self._row(stmts[1] if locking else stmts[0], key)
        if row is None:
            return None
        record = from_row(row)
        if locking or not self._pg:
            self._hold(table, key, record, dict(row))
        return record

    def _holding(self, table: sa.Table, key: str) -> Any:
        """The record of a row this transaction holds, or None."""
        held = self._held.get((table.name, key))
        return None if held is None else held[0]

    def _hold(
        self, table: sa.Table, key: str, record: object, row: dict[str, Any] | None = None
    ) -> None:
        """Remember a row this transaction holds (``row``: its column values, if known)."""
        self._held[table.name, key] = (record, row)

    def _changes(self, table: sa.Table, key: str, row: dict[str, Any]) -> dict[str, Any]:
        """``row`` less the columns the database already holds as they are (all if unknown)."""
        held = self._held.get((table.name, row[key]))
        before = None if held is None else held[1]
        if before is None:
            return row
        return {
            name: value
            for name, value in row.items()
            if name == key or before.get(name, _UNSET) != value
        }

    def _exists(self, table: sa.Table, *where: sa.ColumnElement[bool]) -> bool:
        stmt = sa.select(sa.literal(1)).select_from(table).where(*where).limit(1)
        return self._c.execute(stmt).first() is not None

    def _text(self, column: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
        """Order strings by code point, as Python does (PostgreSQL's default collation does not)."""
        return column.collate("C") if self._pg else column

    def _guarded(
        self,
        check: Callable[[], None],
        write: Callable[[], object],
        *,
        check_first: bool = False,
        keys_unchanged: bool = False,
    ) -> None:
        """Write; a write the database refuses fails with the error ``check`` raises.

        Every invariant ``check`` tests is also a constraint of the schema, so
        the queries of ``check`` only run when the write was refused (then
        the conflicting row is visible, committed or ours, and ``check``
        names it as the in-memory store does). ``check_first`` runs it
        before writing, for invariants the schema cannot hold (refund
        totals). On PostgreSQL the write runs in a SAVEPOINT, because a
        failed statement there aborts the transaction; on SQLite a failed
        statement undoes only itself.
        """
        if check_first:
            check()
        if keys_unchanged:
            # An update that leaves every unique key of a row this transaction
            # holds as it was cannot break a unique constraint: no SAVEPOINT
            # (two round trips on PostgreSQL) and nothing for ``check`` to name.
            write()
            return
        savepoint = self._c.begin_nested() if self._pg else None
        try:
            write()
        except exc.IntegrityError as error:
            if savepoint is not None:
                savepoint.rollback()
            check()
            raise translate(error) from error
        if savepoint is not None:
            savepoint.commit()

    def _insert_new(self, table: sa.Table, row: dict[str, Any], check: Callable[[], None]) -> None:
        """Insert ``row``; if a unique key of it is taken, raise the error ``check`` raises.

        ``ON CONFLICT DO NOTHING`` turns a taken key into "no row inserted"
        instead of an error, so PostgreSQL needs no SAVEPOINT around the
        write (two round trips) to carry on and let ``check`` name the
        conflict. Every invariant ``check`` tests is a unique constraint.
        """
        try:
            stmt = _INSERT_NEW[table.name, self._pg]
            inserted = self._d.run(stmt, row, value_keys=True).first()
        except exc.IntegrityError as error:  # not a unique key: a foreign key, a CHECK
            if not self._pg:  # (PostgreSQL has aborted the transaction: no more queries)
                check()
            raise translate(error) from error
        if inserted is None:
            check()
            raise StorageError(f"the database refused a write to {table.name}: a key is taken")

    def _update(
        self,
        table: sa.Table,
        key: str,
        values: dict[str, Any],
        what: str,
        stmt: Prepared | None = None,
        **where: Any,
    ) -> None:
        """``UPDATE`` by key (``stmt`` and ``where``: a guarded form and its values)."""
        params = {name: value for name, value in values.items() if name != key}
        if not params:
            return  # only a held row's own values (see _changes): nothing to write
        params["key_"] = values[key]
        params.update(where)
        update = _UPDATE[table.name] if stmt is None else stmt
        if self._d.run(update, params, value_keys=True).rowcount == 0:
            raise StorageError(f"cannot update {what} {values[key]!r}: it does not exist")

    def _require(self, table: sa.Table, key: str, value: str, what: str) -> None:
        if not self._exists(table, table.c[key] == value):
            raise StorageError(f"cannot update {what} {value!r}: it does not exist")

    def _upsert(self, table: sa.Table, key: str, values: dict[str, Any]) -> None:
        shape = (table.name, self._pg, tuple(values))
        stmt = _UPSERT.get(shape)
        if stmt is None:  # built once per table, dialect and set of columns
            insert = postgresql.insert(table) if self._pg else sqlite.insert(table)
            stmt = _UPSERT[shape] = Prepared(
                insert.on_conflict_do_update(
                    index_elements=[table.c[key]],
                    set_={name: insert.excluded[name] for name in values if name != key},
                )
            )
        self._d.run(stmt, values, value_keys=True)

    def _lock(self, key: str | int) -> None:
        """A PostgreSQL advisory lock held until the transaction ends."""
        if isinstance(key, int):
            self._c.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))
        else:
            hashed = sa.func.hashtextextended(sa.literal(key, sa.Text()), 0)
            self._c.execute(sa.select(sa.func.pg_advisory_xact_lock(hashed)))

    # -- products and rules ------------------------------------------------------------

    def get_product(self, product_id: str) -> Product | None:
        """The product with internal id ``product_id``."""
        row = self._row(_PRODUCT, product_id)
        return None if row is None else m.product_from_row(row)

    def find_product(self, product_type: str, external_id: str) -> Product | None:
        """The product registered under the host app's ``(type, id)``."""
        row = self._row(
            sa.select(products).where(
                products.c.product_type == product_type, products.c.product_id == external_id
            )
        )
        return None if row is None else m.product_from_row(row)

    def put_product(self, product: Product) -> None:
        """Insert or replace a product (unique by id and by (type, external id))."""

        def check() -> None:
            other = self.find_product(product.product_type, product.product_id)
            if other is not None and other.id != product.id:
                raise DuplicateError("product", (product.product_type, product.product_id))

        self._guarded(check, lambda: self._upsert(products, "id", m.product_to_row(product)))

    def list_products(self, *, active: bool | None = None) -> list[Product]:
        """Products ordered by name, optionally only (in)active ones."""
        stmt = sa.select(products).order_by(self._text(products.c.name), self._text(products.c.id))
        if active is not None:
            stmt = stmt.where(products.c.active == active)
        return [m.product_from_row(r) for r in self._rows(stmt)]

    def replace_plan_rules(self, rules: Sequence[PlanRule]) -> None:
        """Replace every plan rule, keeping the given order."""
        self._c.execute(sa.delete(plan_rules))
        if rules:
            self._c.execute(
                sa.insert(plan_rules), [m.rule_to_row(i, rule) for i, rule in enumerate(rules)]
            )

    def list_plan_rules(self) -> list[PlanRule]:
        """The plan rules in the order they were given."""
        return [m.rule_from_row(r) for r in self._rows(_PLAN_RULES)]

    # -- customers ---------------------------------------------------------------------

    def get_customer(self, user_id: str) -> Customer | None:
        """The gateway customer of a user."""
        row = self._row(_CUSTOMER, user_id)
        return None if row is None else m.customer_from_row(row)

    def find_customer_by_gateway_id(self, gateway_customer_id: str) -> Customer | None:
        """The user mapping for a gateway customer id."""
        row = self._row(_CUSTOMER_BY_GATEWAY, gateway_customer_id)
        return None if row is None else m.customer_from_row(row)

    def put_customer(self, customer: Customer) -> None:
        """Insert or replace the gateway customer of a user."""

        def check() -> None:
            other = self.find_customer_by_gateway_id(customer.gateway_customer_id)
            if other is not None and other.user_id != customer.user_id:
                raise DuplicateError("gateway customer", customer.gateway_customer_id)

        self._guarded(
            check, lambda: self._upsert(customers, "user_id", m.customer_to_row(customer))
        )

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
            if self._exists(enrollments, enrollments.c.id == enrollment.id):
                raise DuplicateError("enrollment id", enrollment.id)
            self._check_open(enrollment)

        self._insert_new(enrollments, m.enrollment_to_row(enrollment), check)
        self._hold(enrollments, enrollment.id, enrollment)

    def get_enrollment(self, enrollment_id: str, *, for_update: bool = False) -> Enrollment | None:
        """An enrollment, locked against concurrent writers with ``for_update``."""
        return self._held_row(
            enrollments,
            enrollment_id,
            for_update,
            (_ENROLLMENT, _ENROLLMENT_LOCKED),
            m.enrollment_from_row,
        )

    def update_enrollment(self, enrollment: Enrollment) -> None:
        """Replace an existing enrollment."""
        before: Enrollment | None = self._holding(enrollments, enrollment.id)
        if before == enrollment:
            return

        def check() -> None:
            self._require(enrollments, "id", enrollment.id, "enrollment")
            self._check_open(enrollment)

        row = m.enrollment_to_row(enrollment)
        changes = self._changes(enrollments, "id", row)
        self._guarded(
            check,
            lambda: self._update(enrollments, "id", changes, "enrollment"),
            keys_unchanged=before is not None
            and (before.user_id, before.product_id) == (enrollment.user_id, enrollment.product_id)
            and (
                before.status != EnrollmentStatus.CANCELLED
                or enrollment.status == EnrollmentStatus.CANCELLED
            ),
        )
        self._hold(enrollments, enrollment.id, enrollment, row)

    def find_open_enrollment(self, user_id: str, product_id: str) -> Enrollment | None:
        """The user's non-cancelled enrollment in the product, if any."""
        row = self._d.run(_OPEN_ENROLLMENT, {"user": user_id, "product": product_id}).first()
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
        for chunk in _chunks([i.id for i in batch]):
            ids.update(
                self._c.execute(
                    sa.select(schedule_items.c.id).where(schedule_items.c.id.in_(chunk))
                ).scalars()
            )
        for chunk in _chunks(sorted({i.enrollment_id for i in batch})):
            stmt = sa.select(schedule_items.c.enrollment_id, schedule_items.c.seq).where(
                schedule_items.c.enrollment_id.in_(chunk)
            )
            pairs.update((str(e), int(s)) for e, s in self._c.execute(stmt))
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
            self._d.execute_sql("SAVEPOINT enrollpay_items")
            try:
                self._d.run(
                    _INSERT[schedule_items.name],
                    [m.item_to_row(i) for i in batch],
                    value_keys=True,
                )
            except exc.IntegrityError:
                self._d.execute_sql("ROLLBACK TO enrollpay_items")
                self._d.execute_sql("RELEASE enrollpay_items")
            else:
                self._d.execute_sql("RELEASE enrollpay_items")
                for item in batch:
                    self._hold(schedule_items, item.id, item)
                return
        good, error = self._item_conflict(batch)

        def check() -> None:
            _, conflict = self._item_conflict(batch[:good])
            if conflict is not None:
                raise conflict

        if good:
            rows = [m.item_to_row(i) for i in batch[:good]]
            self._guarded(check, lambda: self._c.execute(sa.insert(schedule_items), rows))
            for item in batch[:good]:
                self._hold(schedule_items, item.id, item)
        if error is not None:
            raise error

    def get_item(self, item_id: str, *, for_update: bool = False) -> ScheduleItem | None:
        """A schedule item, locked with ``for_update``."""
        return self._held_row(
            schedule_items, item_id, for_update, (_ITEM, _ITEM_LOCKED), m.item_from_row
        )

    def update_item(self, item: ScheduleItem) -> None:
        """Replace an existing schedule item."""
        if self._holding(schedule_items, item.id) == item:
            return
        row = m.item_to_row(item)
        self._update(
            schedule_items, "id", self._changes(schedule_items, "id", row), "schedule item"
        )
        self._hold(schedule_items, item.id, item, row)

    def items_of(self, enrollment_id: str) -> list[ScheduleItem]:
        """The items of an enrollment by sequence number."""
        return [m.item_from_row(r) for r in self._rows(_ITEMS_OF, enrollment_id)]

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

        PostgreSQL: ``SELECT ... FOR UPDATE OF items SKIP LOCKED`` so that
        concurrent workers each get different rows without waiting; a row
        whose lease another worker just committed no longer matches. SQLite:
        the transaction already holds the write lock; each of the three
        kinds of collectible item is read on its own, in (due, id) order
        from the (status, due, id) index, so a claim reads about ``limit``
        rows per kind instead of sorting every due item.
        """
        if limit <= 0:
            return []
        lease = schedule_items.c.lease_until
        items = schedule_items.c
        kinds = (
            sa.and_(items.status == ItemStatus.SCHEDULED.value, items.due <= today),
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
                    sa.or_(lease.is_(None), lease <= now),
                    *where,
                )
                .order_by(items.due, self._text(items.id))
                .limit(limit)
            )

        if self._pg:
            stmt = claimable(sa.or_(*kinds)).with_for_update(of=schedule_items, skip_locked=True)
            rows = self._rows(stmt)
        else:
            rows = [row for kind in kinds for row in self._rows(claimable(kind))]
            rows.sort(key=lambda row: (row["due"], row["id"]))
            del rows[limit:]
        found = [m.item_from_row(r) for r in rows]
        for chunk in _chunks([i.id for i in found]):
            self._c.execute(
                sa.update(schedule_items)
                .where(schedule_items.c.id.in_(chunk))
                .values(lease_until=lease_until)
            )
        leased = [attrs.evolve(i, lease_until=lease_until) for i in found]
        for item in leased:
            self._hold(schedule_items, item.id, item)
        return leased

    # -- attempts ----------------------------------------------------------------------

    def add_attempt(self, attempt: PaymentAttempt) -> None:
        """Insert; ``DuplicateError`` if the idempotency key exists."""

        def check() -> None:
            if self._exists(attempts, attempts.c.id == attempt.id):
                raise DuplicateError("attempt id", attempt.id)
            if self._exists(attempts, attempts.c.idempotency_key == attempt.idempotency_key):
                raise DuplicateError("idempotency key", attempt.idempotency_key)
            gid = attempt.gateway_payment_id
            if gid is not None and self._exists(attempts, attempts.c.gateway_payment_id == gid):
                raise DuplicateError("gateway payment id", gid)

        self._insert_new(attempts, m.attempt_to_row(attempt), check)
        self._hold(attempts, attempt.id, attempt)

    def get_attempt(self, attempt_id: str, *, for_update: bool = False) -> PaymentAttempt | None:
        """An attempt by id, locked against concurrent writers with ``for_update``."""
        return self._held_row(
            attempts, attempt_id, for_update, (_ATTEMPT, _ATTEMPT_LOCKED), m.attempt_from_row
        )

    def update_attempt(self, attempt: PaymentAttempt) -> None:
        """Replace an existing attempt."""
        before: PaymentAttempt | None = self._holding(attempts, attempt.id)
        if before == attempt:
            return

        def check() -> None:
            self._require(attempts, "id", attempt.id, "attempt")
            gid = attempt.gateway_payment_id
            if gid is not None and self._exists(
                attempts, attempts.c.gateway_payment_id == gid, attempts.c.id != attempt.id
            ):
                raise DuplicateError("gateway payment id", gid)

        row = m.attempt_to_row(attempt)
        changes = self._changes(attempts, "id", row)
        if (
            self._pg
            and before is not None
            and before.idempotency_key == attempt.idempotency_key
            and before.gateway_payment_id is None
            and attempt.gateway_payment_id is not None
        ):
            # The gateway's id arrives (the common case): the UPDATE itself
            # skips the row when another attempt has the id, so no SAVEPOINT
            # (two round trips) is needed to name the conflict afterwards.
            try:
                self._update(
                    attempts,
                    "id",
                    changes,
                    "attempt",
                    _UPDATE_UNLESS_GID_TAKEN,
                    gid_=attempt.gateway_payment_id,
                )
            except StorageError:
                check()  # names the attempt that has the id
                raise
        else:
            self._guarded(
                check,
                lambda: self._update(attempts, "id", changes, "attempt"),
                keys_unchanged=before is not None
                and (before.idempotency_key, before.gateway_payment_id)
                == (attempt.idempotency_key, attempt.gateway_payment_id),
            )
        self._hold(attempts, attempt.id, attempt, row)

    def attempts_of(self, item_id: str) -> list[PaymentAttempt]:
        """The attempts of an item by number."""
        stmt = _ATTEMPTS_OF_PG if self._pg else _ATTEMPTS_OF
        return [m.attempt_from_row(r) for r in self._rows(stmt, item_id)]

    def find_attempt_by_gateway_id(self, gateway_payment_id: str) -> PaymentAttempt | None:
        """The attempt the gateway knows as ``gateway_payment_id``."""
        row = self._row(_ATTEMPT_BY_GATEWAY, gateway_payment_id)
        if row is None:
            return None
        attempt = m.attempt_from_row(row)
        if not self._pg:  # SQLite: held (see _held_row); the settlement reads it next
            self._hold(attempts, attempt.id, attempt, dict(row))
        return attempt

    def list_attempts(
        self, *, statuses: frozenset[AttemptStatus], limit: int | None = None
    ) -> list[PaymentAttempt]:
        """Attempts in the given statuses, oldest first."""
        stmt = (
            sa.select(attempts)
            .where(attempts.c.status.in_([s.value for s in statuses]))
            .order_by(attempts.c.created_at, self._text(attempts.c.id))
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        return [m.attempt_from_row(r) for r in self._rows(stmt)]

    # -- payments and refunds ----------------------------------------------------------

    def add_payment(self, payment: Payment) -> None:
        """Insert; ``DuplicateError`` if the gateway payment id was recorded already."""

        def check() -> None:
            if self._exists(payments, payments.c.id == payment.id):
                raise DuplicateError("payment id", payment.id)
            gid = payment.gateway_payment_id
            if gid is not None and self._exists(payments, payments.c.gateway_payment_id == gid):
                raise DuplicateError("gateway payment id", gid)

        self._insert_new(payments, m.payment_to_row(payment), check)

    def get_payment(self, payment_id: str) -> Payment | None:
        """A payment by id."""
        row = self._row(_PAYMENT, payment_id)
        return None if row is None else m.payment_from_row(row)

    def find_payment_by_gateway_id(self, gateway_payment_id: str) -> Payment | None:
        """The payment recorded for a gateway payment id."""
        row = self._row(_PAYMENT_BY_GATEWAY, gateway_payment_id)
        return None if row is None else m.payment_from_row(row)

    def payments_of(self, enrollment_id: str) -> list[Payment]:
        """The payments of an enrollment, oldest first."""
        stmt = (
            sa.select(payments)
            .where(payments.c.enrollment_id == enrollment_id)
            .order_by(payments.c.received_at, self._text(payments.c.id))
        )
        return [m.payment_from_row(r) for r in self._rows(stmt)]

    def add_refund(self, refund: Refund) -> None:
        """Insert a refund, enforcing the refund invariants.

        The payment's row is locked (``FOR UPDATE`` on PostgreSQL) before its
        refunds are summed, so two concurrent refunds of one payment cannot
        both fit in the same room.
        """

        def check() -> None:
            if self._exists(refunds, refunds.c.id == refund.id):
                raise DuplicateError("refund id", refund.id)
            gid, key = refund.gateway_refund_id, refund.idempotency_key
            if gid is not None and self._exists(refunds, refunds.c.gateway_refund_id == gid):
                raise DuplicateError("gateway refund id", gid)
            if key is not None and self._exists(refunds, refunds.c.idempotency_key == key):
                raise DuplicateError("refund idempotency key", key)
            stmt = sa.select(payments.c.amount_minor, payments.c.currency).where(
                payments.c.id == refund.payment_id
            )
            if self._pg:
                stmt = stmt.with_for_update()
            payment = self._c.execute(stmt).first()
            if payment is None:
                raise PaymentNotFoundError(refund.payment_id)
            already = self._c.execute(
                sa.select(sa.func.coalesce(sa.func.sum(refunds.c.amount_minor), 0)).where(
                    refunds.c.payment_id == refund.payment_id, refunds.c.status != "failed"
                )
            ).scalar_one()
            refundable = Money(int(payment.amount_minor) - int(already), payment.currency)
            if refund.amount.minor <= 0 or refund.amount > refundable:
                raise RefundExceedsPaidError(refund.amount, refundable)

        row = m.refund_to_row(refund)
        # The refundable amount is no constraint of the schema: checked before writing.
        self._guarded(
            check,
            lambda: self._d.run(_INSERT[refunds.name], row, value_keys=True),
            check_first=True,
        )

    def update_refund(self, refund: Refund) -> None:
        """Replace an existing refund (status and gateway id change as it completes)."""

        def check() -> None:
            self._require(refunds, "id", refund.id, "refund")
            gid = refund.gateway_refund_id
            if gid is not None and self._exists(
                refunds, refunds.c.gateway_refund_id == gid, refunds.c.id != refund.id
            ):
                raise DuplicateError("gateway refund id", gid)

        row = m.refund_to_row(refund)
        self._guarded(check, lambda: self._update(refunds, "id", row, "refund"))

    def get_refund(self, refund_id: str) -> Refund | None:
        """A refund by id."""
        row = self._row(_REFUND, refund_id)
        return None if row is None else m.refund_from_row(row)

    def list_refunds(self, *, status: str) -> list[Refund]:
        """Refunds in ``status``, oldest first."""
        stmt = (
            sa.select(refunds)
            .where(refunds.c.status == status)
            .order_by(refunds.c.created_at, self._text(refunds.c.id))
        )
        return [m.refund_from_row(r) for r in self._rows(stmt)]

    def find_refund_by_gateway_id(self, gateway_refund_id: str) -> Refund | None:
        """The refund recorded for a gateway refund id."""
        row = self._row(_REFUND_BY_GATEWAY, gateway_refund_id)
        return None if row is None else m.refund_from_row(row)

    def refunds_of(self, enrollment_id: str) -> list[Refund]:
        """The refunds of an enrollment, oldest first."""
        stmt = (
            sa.select(refunds)
            .where(refunds.c.enrollment_id == enrollment_id)
            .order_by(refunds.c.created_at, self._text(refunds.c.id))
        )
        return [m.refund_from_row(r) for r in self._rows(stmt)]

    # -- webhooks ----------------------------------------------------------------------

    def add_webhook_receipt(self, receipt: WebhookReceipt) -> None:
        """Insert; ``DuplicateError`` if the event id was processed already."""

        def check() -> None:
            if self._exists(webhook_receipts, webhook_receipts.c.event_id == receipt.event_id):
                raise DuplicateError("webhook event", receipt.event_id)

        self._insert_new(webhook_receipts, m.receipt_to_row(receipt), check)

    def get_webhook_receipt(self, event_id: str) -> WebhookReceipt | None:
        """The receipt of a processed event.

        On PostgreSQL this first takes an advisory lock on the event id, held
        until the transaction ends, so concurrent deliveries of one event
        queue up here: the first applies the event and records its receipt,
        the others then find the receipt (the service's check-then-apply is
        atomic, as it is in the in-memory store).
        """
        if self._pg:
            self._lock(f"enrollpay:webhook:{event_id}")
        row = self._row(_RECEIPT, event_id)
        return None if row is None else m.receipt_from_row(row)

    # -- audit -------------------------------------------------------------------------

    def append_audit(self, draft: AuditDraft) -> AuditEntry:
        """Link ``draft`` after the chain's last entry (serialised among writers).

        PostgreSQL: an advisory transaction lock serialises appenders until
        commit; SQLite: the transaction holds the write lock already.
        """
        head = self._audit_head
        if head is None:  # once per transaction: after that, the head is the entry we wrote
            if self._pg:
                self._lock(_AUDIT_LOCK_KEY)  # held until the transaction ends
                head = self._read_chain_head()
            else:
                head = self._sqlite_chain_head()
        entry = link_entry(draft, head)
        self._audit_rows.append(m.audit_to_row(entry))
        self._audit_head = entry
        return entry

    def _read_chain_head(self) -> AuditEntry | None:
        last = self._row(_LAST_AUDIT)
        return None if last is None else m.audit_from_row(last)

    def _sqlite_chain_head(self) -> AuditEntry | None:
        """The chain's last entry, remembered per connection while nobody else writes.

        SQLite changes a connection's ``PRAGMA data_version`` whenever another
        connection commits, and never for its own commits. So the head this
        connection committed last (see :meth:`committed`) is still the head
        when the version is unchanged: one PRAGMA instead of reading the
        chain's last row. The write lock (``BEGIN IMMEDIATE``) keeps it so
        until this transaction ends. A stale head could not go unnoticed
        anyway: its successor's ``seq`` is the audit table's primary key.
        """
        self._data_version = version = self._d.scalar("PRAGMA data_version")
        # Taken out: only a commit puts it back, so a failed transaction (even
        # one whose COMMIT reported an error after the fact) leaves nothing stale.
        remembered = self._c.connection.info.pop(_CHAIN_HEAD, None)
        if remembered is not None and remembered[0] == version:
            head: AuditEntry | None = remembered[1]
            return head
        return self._read_chain_head()

    def committed(self) -> None:
        """The store committed this transaction: remember the chain head it leaves (SQLite)."""
        if self._data_version is not None:
            self._c.connection.info[_CHAIN_HEAD] = (self._data_version, self._audit_head)

    def flush(self) -> None:
        """Send the audit entries linked so far (the store calls this before committing).

        A unit of work appends up to a few entries; they go out as one
        statement instead of one each. Nothing else reads them before this
        transaction ends except :meth:`list_audit`, which flushes first.
        """
        if self._audit_rows:
            rows, self._audit_rows = self._audit_rows, []
            self._d.run(_INSERT[audit_log.name], rows, value_keys=True)

    def list_audit(
        self, *, entity_type: str | None = None, entity_id: str | None = None
    ) -> list[AuditEntry]:
        """Audit entries in chain order, optionally for one entity."""
        self.flush()
        stmt = sa.select(audit_log).order_by(audit_log.c.seq)
        if entity_type is not None:
            stmt = stmt.where(audit_log.c.entity_type == entity_type)
        if entity_id is not None:
            stmt = stmt.where(audit_log.c.entity_id == entity_id)
        return [m.audit_from_row(r) for r in self._rows(stmt)]

    # -- outbox (storage/sql/outbox.py) ------------------------------------------------

    def add_events(self, events: Sequence[DomainEvent]) -> None:
        """Append events to the outbox, in order (see :class:`~enrollpay.ports.EventOutbox`)."""
        self._outbox.add_events(events)

    def pending_events(self, *, limit: int) -> list[DomainEvent]:
        """Up to ``limit`` undelivered events, in the order they occurred."""
        return self._outbox.pending_events(limit=limit)

    def list_events(
        self, *, delivered: bool | None = None, limit: int | None = None
    ) -> list[DomainEvent]:
        """Events in the order they occurred, optionally only (un)delivered ones."""
        return self._outbox.list_events(delivered=delivered, limit=limit)

    def mark_event_delivered(self, event_id: str, *, holder: str, at: datetime) -> bool:
        """Mark an event delivered if ``holder`` still has the dispatch lease."""
        return self._outbox.mark_event_delivered(event_id, holder=holder, at=at)

    def acquire_dispatch_lease(self, *, holder: str, now: datetime, until: datetime) -> bool:
        """Take or extend the dispatch lease unless another holder has it."""
        return self._outbox.acquire_dispatch_lease(holder=holder, now=now, until=until)

    def release_dispatch_lease(self, *, holder: str) -> None:
        """Free the dispatch lease if ``holder`` has it."""
        self._outbox.release_dispatch_lease(holder=holder)


for _name, _method in [*vars(SqlReports).items(), *vars(SqlTransaction).items()]:
    if not _name.startswith("_") and callable(_method):
        setattr(SqlTransaction, _name, _translated(_method))
