"""The context one :class:`~enrollpay.PaymentSystem` hands to every use case.

It holds the ports (store, gateway, clock), the settings, the id factory,
the authorisation policy and the fault hook, and the helpers every use case
shares inside its transactions: time and ids, audit entries, authorisation,
locking an enrollment for writing, and storing what the state machine decided (a record
and its events, in one transaction).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from enrollpay.domain import transitions
from enrollpay.domain.calendar import ensure_aware
from enrollpay.domain.events import EventDraft
from enrollpay.domain.records import Enrollment, Payment, PaymentAttempt, Refund, ScheduleItem
from enrollpay.domain.schedule import ScheduleLine
from enrollpay.domain.statuses import AttemptStatus
from enrollpay.domain.transitions import Change
from enrollpay.errors import GatewayNotConfiguredError, PermissionDeniedError
from enrollpay.errors_invoices import InvoiceCollectionUnsupportedError
from enrollpay.gateways.ratelimit_invoices import item_invoices
from enrollpay.ports import (
    AuditDraft,
    Clock,
    Gateway,
    LockedEnrollment,
    Store,
    StoreTransaction,
)
from enrollpay.service.base import Authorizer, FaultHook, IdFactory, SystemConfig, check_text
from enrollpay.service.receipts import issue_credit_note, issue_receipt
from enrollpay.service.seats import on_events as seat_events

__all__ = ["Context"]


class Context:
    """Holds the ports and the helpers every use case shares (one per PaymentSystem)."""

    def __init__(
        self,
        *,
        store: Store,
        gateway: Gateway | None,
        clock: Clock,
        config: SystemConfig,
        ids: IdFactory,
        authorize: Authorizer | None,
        faults: FaultHook | None = None,
    ) -> None:
        self.store = store
        self.gateway = gateway
        self.clock = clock
        self.config = config
        self._ids = ids
        self._authorize_fn = authorize
        self._faults = faults
        self._zone = ZoneInfo(config.timezone)
        #: One ``dispatch_events`` call of this system at a time (see system_reads).
        self.dispatch_turn = threading.Lock()
        #: The dispatch holder whose call raised: the next call reuses it (its lease).
        self.unreleased_dispatch: str | None = None
        #: The steps each open unit of work holds back for its end (see :meth:`unit`).
        self._held: dict[int, list[Callable[[], object]]] = {}
        invoicing = config.installment_collection == "invoice" and gateway is not None
        if invoicing and item_invoices(gateway) is None:  # type: ignore[arg-type]
            raise InvoiceCollectionUnsupportedError(
                "installment_collection='invoice' needs a gateway that invoices items "
                f"(an ItemInvoiceGateway); {type(gateway).__name__} is not one"
            )

    # -- time and ids -------------------------------------------------------------

    def now(self) -> datetime:
        """The clock's instant (refuses a clock that returns naive datetimes)."""
        return ensure_aware(self.clock.now(), "clock.now()")

    def today(self, now: datetime | None = None) -> date:
        """The business date of ``now`` (default: the clock's)."""
        return (now or self.now()).astimezone(self._zone).date()

    def new_id(self, prefix: str) -> str:
        """A new id from the injected factory."""
        return self._ids(prefix)

    def require_gateway(self) -> Gateway:
        """The gateway, or a clear error when the system runs without one."""
        if self.gateway is None:
            raise GatewayNotConfiguredError("this operation needs a payment gateway")
        return self.gateway

    def checkpoint(self, name: str) -> None:
        """A named fault-injection point: calls the test hook, if any."""
        if self._faults is not None:
            self._faults(name)

    # -- units of work -------------------------------------------------------------

    @contextmanager
    def unit(self) -> Iterator[StoreTransaction]:
        """A store transaction whose serialised writes wait for the end of its work.

        The audit chain has one head and a receipt series has no gaps, so each
        admits one writer at a time, and a writer keeps it until it commits.
        Inside this block, audit entries (:meth:`audit`), receipts
        (:meth:`record_payment`) and credit notes (:meth:`emit`) are therefore
        held back and written when the block's own work is done, in the order
        they were asked for, just before the commit: the serialised part of a
        unit of work is its last few statements, not the whole of it. If the
        block raises they are never written, and the transaction rolls back.
        In a transaction not opened here, they are written at once.
        """
        with self.store.transaction() as tx:
            held: list[Callable[[], object]] = []
            self._held[id(tx)] = held
            try:
                yield tx
                for step in held:  # a step that holds back another: the loop reaches it too
                    step()
            finally:
                del self._held[id(tx)]

    def at_end(self, tx: StoreTransaction, step: Callable[[], object]) -> None:
        """Run ``step`` at the end of ``tx``'s unit of work (at once outside :meth:`unit`)."""
        held = self._held.get(id(tx))
        if held is None:
            step()
        else:
            held.append(step)

    # -- audit and authorisation -------------------------------------------------

    def audit(
        self,
        tx: StoreTransaction,
        *,
        actor: str,
        action: str,
        entity_type: str,
        entity_id: str,
        data: Mapping[str, Any] | None = None,
        at: datetime | None = None,
    ) -> None:
        """Append an audit entry inside the caller's transaction (at its end: :meth:`unit`)."""
        draft = AuditDraft(
            at=at or self.now(),
            actor=actor,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            data=dict(data or {}),
        )
        self.at_end(tx, partial(tx.append_audit, draft))

    def authorize(self, actor: str, action: str, target: str) -> None:
        """Ask the authorisation policy; on refusal write a denied entry and raise."""
        check_text(actor, "actor")
        if self._authorize_fn is None or self._authorize_fn(actor, action, target):
            return
        with self.store.transaction() as tx:
            self.audit(
                tx,
                actor=actor,
                action="permission.denied",
                entity_type="operation",
                entity_id=target,
                data={"action": action},
            )
        raise PermissionDeniedError(actor, action, target)

    # -- derived enrollment status ---------------------------------------------------

    def refresh_enrollment(
        self,
        tx: StoreTransaction,
        enrollment_id: str,
        *,
        actor: str = "system",
        at: datetime | None = None,
    ) -> Enrollment:
        """Move an enrollment to the status its items imply at ``at`` (default: now).

        The state machine's ``sync``, with the access policy: overdue items
        count, so the status follows the calendar as well as the payments.
        """
        locked = self.lock(tx, enrollment_id)
        enrollment = locked.enrollment
        at = self.now() if at is None else at
        change = transitions.sync_enrollment(
            enrollment,
            locked.items,
            today=self.today(at),
            at=at,
            past_due_access=self.config.past_due_access,
            access=self.config.access_policy,
            debit_hold=self.config.debit_access == "suspend"
            and any(a.status == AttemptStatus.PROCESSING for a in locked.attempts),
        )
        if change.record is enrollment:
            return enrollment
        updated = self.save_enrollment(tx, change)
        self.audit(
            tx,
            actor=actor,
            action="enrollment.status_changed",
            entity_type="enrollment",
            entity_id=enrollment_id,
            data={"from": enrollment.status, "to": updated.status},
        )
        return updated

    # -- storing what the state machine decided ----------------------------------------

    def emit(self, tx: StoreTransaction, events: Sequence[EventDraft]) -> None:
        """Stamp ``events`` with ids and put them in the outbox, in this transaction.

        A refund that is done (``refund.issued``) gets its credit note here,
        whichever path completed it; an enrollment's seat is held or
        released here (:func:`enrollpay.service.seats.on_events`) likewise.
        """
        if events:
            tx.add_events([event.stamp(self.new_id("evt")) for event in events])
        for event in events:
            if event.kind == "refund.issued":
                refund_id = str(event.data["refund_id"])
                self.at_end(tx, partial(issue_credit_note, self, tx, refund_id))
        seat_events(self, tx, events)

    def record_payment(self, tx: StoreTransaction, payment: Payment) -> None:
        """Store money received, and its numbered receipt at the end of the unit of work."""
        tx.add_payment(payment)
        self.at_end(tx, partial(issue_receipt, self, tx, payment))

    def save_enrollment(self, tx: StoreTransaction, change: Change[Enrollment]) -> Enrollment:
        """Store an enrollment transition and its events."""
        tx.update_enrollment(change.record)
        self.emit(tx, change.events)
        return change.record

    def save_item(self, tx: StoreTransaction, change: Change[ScheduleItem]) -> ScheduleItem:
        """Store a schedule item transition and its events."""
        tx.update_item(change.record)
        self.emit(tx, change.events)
        return change.record

    def save_refund(self, tx: StoreTransaction, change: Change[Refund]) -> Refund:
        """Store a refund transition and its events."""
        tx.update_refund(change.record)
        self.emit(tx, change.events)
        return change.record

    # -- locking: the store decides which rows, in which order ----------------------------

    def lock(self, tx: StoreTransaction, enrollment_id: str) -> LockedEnrollment:
        """Lock an enrollment the caller knows exists (it read it, or one of its records)."""
        locked = tx.lock_enrollment(enrollment_id)
        assert locked is not None  # noqa: S101 - enrollments are never deleted
        return locked

    def lock_item(self, tx: StoreTransaction, item_id: str) -> ScheduleItem | None:
        """Lock the enrollment of an item for writing; the item as it stands then."""
        peek = tx.get_item(item_id)
        if peek is None:
            return None
        return self.lock(tx, peek.enrollment_id).item(item_id)

    def lock_attempt(self, tx: StoreTransaction, attempt_id: str) -> PaymentAttempt:
        """Lock the enrollment of an attempt for writing; the attempt as it stands then."""
        peek = tx.get_attempt(attempt_id)
        assert peek is not None  # noqa: S101 - callers pass ids they just read
        self.lock(tx, peek.enrollment_id)
        attempt = tx.get_attempt(attempt_id)
        assert attempt is not None  # noqa: S101
        return attempt

    def item_from_line(
        self, enrollment_id: str, line: ScheduleLine, now: datetime | None = None
    ) -> ScheduleItem:
        """A new, scheduled item for one line of a schedule (``now``: the clock's, if given)."""
        return transitions.new_item(
            item_id=self.new_id("itm"),
            enrollment_id=enrollment_id,
            line=line,
            at=self.now() if now is None else now,
        )
