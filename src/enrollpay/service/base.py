"""Shared state and helpers of the service layer (the imperative shell)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
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
from enrollpay.domain.refunds import RefundPolicy
from enrollpay.domain.retry import RetryPolicy
from enrollpay.domain.schedule import ScheduleLine
from enrollpay.errors import (
    CurrencyMismatchError,
    GatewayNotConfiguredError,
    InvalidInputError,
    MoneyTypeError,
    PermissionDeniedError,
)
from enrollpay.ports import AuditDraft, Clock, Gateway, Store, StoreTransaction

__all__ = [
    "FAULT_POINTS",
    "Authorizer",
    "FaultHook",
    "IdFactory",
    "ServiceCore",
    "SystemConfig",
    "uuid_ids",
]

IdFactory = Callable[[str], str]
#: ``authorize(actor, action, target) -> bool``; False refuses the operation.
Authorizer = Callable[[str, str, str], bool]
#: Called at each named fault-injection point; tests raise from it to simulate a crash.
FaultHook = Callable[[str], None]

#: The named points where a crash is simulated in tests (see docs/reliability.md).
FAULT_POINTS = (
    "after_attempt_written",
    "after_gateway_answered",
    "before_commit",
    "after_commit",
    "webhook_before_commit",
    "webhook_after_commit",
    "after_refund_written",
    "after_refund_answered",
)

MAX_TEXT = 500
MAX_ID = 200
_CONTROL_IN_ID = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def uuid_ids(prefix: str) -> str:
    """Random ids such as ``enr_3f2c...`` (the default id factory).

    128 random bits as 32 hex digits, a UUID4's shape; from ``os.urandom``
    directly, a quarter of the cost of building a ``uuid.UUID`` (an
    enrollment takes fifteen ids).
    """
    return f"{prefix}_{secrets.token_hex(16)}"


@attrs.frozen
class SystemConfig:
    """Settings of a :class:`~enrollpay.PaymentSystem`; every one has a sensible default."""

    retry_policy: RetryPolicy = attrs.Factory(RetryPolicy)
    refund_policy: RefundPolicy = attrs.Factory(RefundPolicy)
    #: Business time zone: due dates are compared with the clock's date here.
    timezone: str = "UTC"
    #: Whether students keep access while a failed payment is being retried.
    past_due_access: bool = True
    #: How long a collection worker holds an item before another may take it.
    lease: timedelta = timedelta(minutes=10)
    #: How long an on-session payment waits for the customer before collection
    #: cancels it at the gateway and charges the saved card instead. Below
    #: Stripe's 24-hour idempotency window, so reopening the checkout within
    #: it always finds the same payment.
    checkout_window: timedelta = timedelta(hours=23)
    #: Items claimed per batch by ``collect_due``.
    batch_size: int = 100
    #: Items ``collect_due`` charges at once, each in its own thread.
    collect_concurrency: int = 1
    #: Gateway requests per second ``collect_due`` may make (None: no limit).
    gateway_rate_limit: float | None = None
    #: Periods of an open-ended subscription kept scheduled ahead.
    subscription_horizon: int = 12


class ServiceCore:
    """Holds the ports and the helpers every use case shares."""

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


def check_text(value: object, name: str, *, limit: int = MAX_ID, required: bool = True) -> str:
    """A non-empty string of at most ``limit`` characters.

    NUL and other control characters are refused (databases reject NUL, and
    they forge log lines); free text (``limit`` above :data:`MAX_ID`) may
    hold tabs and line breaks, identifiers may not.
    """
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise InvalidInputError(f"{name} must be a string, got {type(value).__name__}")
    if required and not value.strip():
        raise InvalidInputError(f"{name} must not be empty")
    if len(value) > limit:
        raise InvalidInputError(f"{name} is longer than {limit} characters")
    if (_CONTROL_IN_ID if limit <= MAX_ID else _CONTROL_IN_TEXT).search(value):
        raise InvalidInputError(f"{name} contains control characters")
    return value


def check_date(value: object, name: str) -> date:
    """A calendar date; a ``datetime`` (an instant, not a day) is refused too."""
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InvalidInputError(f"{name} must be a date, got {type(value).__name__}")
    return value


def check_money(value: object, name: str, *, currency: str | None = None) -> Money:
    """A positive :class:`Money` (floats and other types refused), in ``currency``."""
    if not isinstance(value, Money):
        if isinstance(value, (float, int, str)):
            raise MoneyTypeError(
                f"{name} must be Money (use Money.of(amount, currency)), got {value!r}"
            )
        raise MoneyTypeError(f"{name} must be Money, got {type(value).__name__}")
    if currency is not None and value.currency != currency:
        raise CurrencyMismatchError(currency, value.currency)
    if value.minor <= 0:
        raise InvalidInputError(f"{name} must be positive, got {value}")
    return value
