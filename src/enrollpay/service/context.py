"""The context one :class:`~enrollpay.PaymentSystem` hands to every use case.

It holds the ports (store, gateway, clock), the settings, the id factory,
the authorisation policy and the fault hook, and the helpers every use case
shares inside its transactions: time and ids, audit entries, authorisation,
the one lock order, and checked item changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from enrollpay.domain.calendar import ensure_aware
from enrollpay.domain.lifecycle import (
    EnrollmentStatus,
    ItemState,
    ItemStatus,
    check_transition,
    derive_enrollment_status,
)
from enrollpay.domain.money import Money
from enrollpay.domain.plans import Subscription
from enrollpay.domain.records import Enrollment, PaymentAttempt, ScheduleItem
from enrollpay.domain.schedule import ScheduleLine
from enrollpay.errors import GatewayNotConfiguredError, PermissionDeniedError
from enrollpay.ports import AuditDraft, Clock, Gateway, Store, StoreTransaction
from enrollpay.service.base import Authorizer, FaultHook, IdFactory, SystemConfig, check_text

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
        """Append an audit entry inside the caller's transaction."""
        tx.append_audit(
            AuditDraft(
                at=at or self.now(),
                actor=actor,
                action=action,
                entity_type=entity_type,
                entity_id=entity_id,
                data=dict(data or {}),
            )
        )

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
        self, tx: StoreTransaction, enrollment_id: str, *, actor: str = "system"
    ) -> Enrollment:
        """Recompute an enrollment's status from its items and store it if it changed."""
        enrollment = tx.get_enrollment(enrollment_id, for_update=True)
        assert enrollment is not None  # noqa: S101 - callers pass ids they just read
        items = tx.items_of(enrollment_id)
        status = derive_enrollment_status(
            (ItemState(i.status, i.due) for i in items),
            today=self.today(),
            cancelled=enrollment.status == EnrollmentStatus.CANCELLED,
            paused=enrollment.status == EnrollmentStatus.PAUSED,
            open_ended=isinstance(enrollment.plan, Subscription) and enrollment.plan.cycles is None,
        )
        if status == enrollment.status:
            return enrollment
        check_transition(enrollment.status, status)
        updated = attrs.evolve(enrollment, status=status, updated_at=self.now())
        tx.update_enrollment(updated)
        self.audit(
            tx,
            actor=actor,
            action="enrollment.status_changed",
            entity_type="enrollment",
            entity_id=enrollment_id,
            data={"from": enrollment.status, "to": status},
        )
        return updated

    def lock_item(
        self, tx: StoreTransaction, item_id: str, *, enrollment_id: str | None = None
    ) -> ScheduleItem | None:
        """Lock an item for writing: its enrollment first, then the item.

        The library takes row locks in one order (enrollment, item, attempt)
        so concurrent writers on PostgreSQL queue instead of deadlocking. A
        caller that knows the item's enrollment (it never changes) passes it
        and saves reading the item twice.
        """
        if enrollment_id is None:
            peek = tx.get_item(item_id)
            if peek is None:
                return None
            enrollment_id = peek.enrollment_id
        tx.get_enrollment(enrollment_id, for_update=True)
        item = tx.get_item(item_id, for_update=True)
        if item is not None and item.enrollment_id != enrollment_id:
            raise AssertionError(f"item {item_id!r} is not in enrollment {enrollment_id!r}")
        return item

    def lock_attempt(self, tx: StoreTransaction, attempt_id: str) -> PaymentAttempt:
        """Lock an attempt's enrollment and item, then the attempt (the one lock order)."""
        peek = tx.get_attempt(attempt_id)
        assert peek is not None  # noqa: S101 - callers pass ids they just read
        self.lock_item(tx, peek.item_id, enrollment_id=peek.enrollment_id)
        attempt = tx.get_attempt(attempt_id, for_update=True)
        assert attempt is not None  # noqa: S101
        return attempt

    def item_from_line(
        self, enrollment_id: str, line: ScheduleLine, now: datetime | None = None
    ) -> ScheduleItem:
        """A new, scheduled item for one line of a schedule (``now``: the clock's, if given)."""
        return ScheduleItem(
            id=self.new_id("itm"),
            enrollment_id=enrollment_id,
            seq=line.seq,
            kind=line.kind,
            due=line.due,
            amount=line.amount,
            status=ItemStatus.SCHEDULED,
            amount_paid=Money.zero(line.amount.currency),
            updated_at=self.now() if now is None else now,
        )

    def set_item(self, tx: StoreTransaction, item: ScheduleItem, **changes: Any) -> ScheduleItem:
        """Change an item, checking its status move against the lifecycle table."""
        if "status" in changes:
            check_transition(item.status, changes["status"])
        updated = attrs.evolve(item, updated_at=self.now(), **changes)
        tx.update_item(updated)
        return updated
