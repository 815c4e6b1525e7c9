"""Charging what is due: off-session collection, retries and reconciliation."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime

import attrs

from enrollpay.domain.calendar import ensure_aware
from enrollpay.domain.lifecycle import AttemptStatus, EnrollmentStatus, ItemStatus
from enrollpay.domain.records import PaymentAttempt, ScheduleItem
from enrollpay.errors import (
    GatewayRequestError,
    GatewayUnavailableError,
    InvalidInputError,
    InvalidStateError,
    ScheduleItemNotFoundError,
)
from enrollpay.gateways.ratelimit import ThrottledGateway, TokenBucket
from enrollpay.ports import Gateway, StoreTransaction
from enrollpay.service.parallel import collect_concurrently
from enrollpay.service.refunds import RefundMixin
from enrollpay.service.results import (
    CollectionReport,
    ItemOutcome,
    ItemResult,
    OutcomeLog,
    ReconcileReport,
)
from enrollpay.service.settlement import apply_charge_result

__all__ = ["CANCELED", "OPEN_CHECKOUT", "CollectionMixin", "attempt_key", "is_open_checkout"]

# Logs ids, statuses and decline codes only: never client secrets or card data.
logger = logging.getLogger(__name__)

# Not requires_action: that payment waits for the customer to authenticate it
# (start_payment reopens it); a second one beside it could be paid twice.
_RETRYABLE = frozenset(
    {
        ItemStatus.SCHEDULED,
        ItemStatus.FAILED,
        ItemStatus.REQUIRES_PAYMENT_METHOD,
        ItemStatus.DEFAULTED,
    }
)


#: The decline code of an attempt whose gateway payment was cancelled: it can
#: never be paid, so a new checkout needs a new attempt.
CANCELED = "canceled"
#: Attempt statuses reconcile looks at (failed ones: open on-session checkouts only).
_STILL_OPEN = frozenset(
    {
        AttemptStatus.UNKNOWN,
        AttemptStatus.PENDING,
        AttemptStatus.REQUIRES_ACTION,
        AttemptStatus.FAILED,
    }
)
OPEN_CHECKOUT = frozenset(
    {AttemptStatus.PENDING, AttemptStatus.FAILED, AttemptStatus.REQUIRES_ACTION}
)


def is_open_checkout(attempt: PaymentAttempt | None) -> bool:
    """Whether ``attempt`` is an on-session payment the customer may still complete.

    A declined checkout stays payable (the customer may try another card)
    until it is cancelled at the gateway.
    """
    return (
        attempt is not None
        and attempt.mode == "on_session"
        and attempt.status in OPEN_CHECKOUT
        and attempt.decline_code != CANCELED
    )


_RESULT_OF_STATUS: dict[ItemStatus, ItemResult] = {
    ItemStatus.PAID: "succeeded",
    ItemStatus.FAILED: "failed",
    ItemStatus.DEFAULTED: "defaulted",
    ItemStatus.REQUIRES_PAYMENT_METHOD: "requires_payment_method",
    ItemStatus.REQUIRES_ACTION: "requires_action",
}


def attempt_key(item_id: str, number: int) -> str:
    """The deterministic idempotency key of an item's ``number``-th attempt."""
    return f"item:{item_id}:attempt:{number}"


class CollectionMixin(RefundMixin):
    """``collect_due``, ``retry_now`` and ``reconcile``."""

    def collect_due(
        self,
        now: datetime | None = None,
        limit: int | None = None,
        *,
        progress: Callable[[ItemOutcome], None] | None = None,
        concurrency: int | None = None,
        rate_limit: float | TokenBucket | None = None,
        keep_outcomes: bool = True,
    ) -> CollectionReport:
        """Charge every item that is due (retries included) off-session.

        Items are claimed in batches of ``config.batch_size`` with a lease, so
        several workers can run this at once without taking the same item.
        Paused and cancelled enrollments are not charged. Without a gateway
        there is nothing to charge and the report is empty. ``progress`` is
        called with each item's outcome as it is known (for progress bars).

        ``concurrency`` (default ``config.collect_concurrency``, 1) charges
        that many items at once from a thread pool; outcomes then arrive in
        the order they finish. ``rate_limit`` (default
        ``config.gateway_rate_limit``, none) caps the gateway requests of
        this run at that many per second, shared by all its threads (a
        :class:`~enrollpay.service.ratelimit.TokenBucket` may be passed to
        share one budget between runs). ``keep_outcomes=False`` reports
        only counts (``progress`` still sees every outcome), so a run over
        any number of items holds no per-item memory.
        """
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
        ):
            raise InvalidInputError(f"limit must be a positive int, got {limit!r}")
        at = ensure_aware(now, "now") if now is not None else self.now()
        gateway = self.gateway
        outcomes = OutcomeLog(keep=keep_outcomes)
        if gateway is None:
            return CollectionReport()
        workers, bucket = self._throughput_settings(concurrency, rate_limit)
        if bucket is not None:
            gateway = ThrottledGateway(gateway, bucket)
        if workers > 1:
            outcomes.extend(self._collect_in_threads(gateway, at, limit, workers, progress))
        while workers == 1 and (limit is None or len(outcomes) < limit):
            size = (
                self.config.batch_size
                if limit is None
                else min(self.config.batch_size, limit - len(outcomes))
            )
            batch = self._claim(at, size)
            if not batch:
                break
            for item in batch:
                outcome = self._collect_claimed(gateway, item)
                outcomes.append(outcome)
                if progress is not None:
                    progress(outcome)
        report = outcomes.report()
        if outcomes:
            logger.info("collect_due: %s", report.summary())
        return report

    def _throughput_settings(
        self, concurrency: int | None, rate_limit: float | TokenBucket | None
    ) -> tuple[int, TokenBucket | None]:
        """The thread count and the rate limiter of one ``collect_due`` run."""
        workers = self.config.collect_concurrency if concurrency is None else concurrency
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise InvalidInputError(f"concurrency must be a positive int, got {workers!r}")
        rate = self.config.gateway_rate_limit if rate_limit is None else rate_limit
        if rate is None or isinstance(rate, TokenBucket):
            return workers, rate
        return workers, TokenBucket(rate)

    def _collect_in_threads(
        self,
        gateway: Gateway,
        at: datetime,
        limit: int | None,
        workers: int,
        progress: Callable[[ItemOutcome], None] | None,
    ) -> Iterator[ItemOutcome]:
        """The items' outcomes as ``workers`` threads collect them (see :mod:`.parallel`)."""
        for outcome in collect_concurrently(
            claim=lambda size: self._claim(at, size),
            collect=lambda item: self._collect_claimed(gateway, item),
            workers=workers,
            batch_size=self.config.batch_size,
            limit=limit,
        ):
            if progress is not None:
                progress(outcome)
            yield outcome

    def _claim(self, at: datetime, size: int) -> list[ScheduleItem]:
        """Lease up to ``size`` collectible items (one transaction)."""
        with self.store.transaction() as tx:
            return tx.claim_due(
                today=self.today(at), now=at, lease_until=at + self.config.lease, limit=size
            )

    def _collect_claimed(self, gateway: Gateway, item: ScheduleItem) -> ItemOutcome:
        """Collect an item this run has leased, and log its outcome."""
        assert item.lease_until is not None  # noqa: S101 - claim_due sets it
        outcome = self._collect_item(gateway, item.id, item.lease_until, item.enrollment_id)
        logger.debug(
            "collected item %s: %s (attempt %s, decline %s)",
            outcome.item_id,
            outcome.result,
            outcome.attempt_id,
            outcome.decline_code,
        )
        return outcome

    def retry_now(self, item_id: str, *, actor: str = "customer") -> ItemOutcome:
        """Charge one failed, defaulted or card-less item immediately (once)."""
        gateway = self.require_gateway()
        now = self.now()
        lease = now + self.config.lease
        with self.store.transaction() as tx:
            item = self.lock_item(tx, item_id)
            if item is None:
                raise ScheduleItemNotFoundError(item_id)
            enrollment = tx.get_enrollment(item.enrollment_id)
            assert enrollment is not None  # noqa: S101
            if enrollment.status in (EnrollmentStatus.PAUSED, EnrollmentStatus.CANCELLED):
                raise InvalidStateError(f"enrollment {enrollment.id!r} is {enrollment.status}")
            if item.status not in _RETRYABLE or (
                item.lease_until is not None and item.lease_until > now
            ):
                raise InvalidStateError(
                    f"schedule item {item_id!r} is {item.status}; nothing to retry"
                )
            tx.update_item(attrs.evolve(item, lease_until=lease))
            self.audit(
                tx,
                actor=actor,
                action="payment.retry_requested",
                entity_type="schedule_item",
                entity_id=item_id,
            )
        return self._collect_item(gateway, item_id, lease)

    def _collect_item(
        self, gateway: Gateway, item_id: str, lease: datetime, enrollment_id: str | None = None
    ) -> ItemOutcome:
        prepared = self._prepare_attempt(item_id, lease, enrollment_id, checkout_closed=False)
        if isinstance(prepared, PaymentAttempt):
            # The customer left an on-session checkout open: cancel it at the
            # gateway first (outside any transaction), then prepare again.
            abandoned = self._close_abandoned_checkout(gateway, item_id, lease, prepared)
            if abandoned is not None:
                return abandoned
            prepared = self._prepare_attempt(item_id, lease, enrollment_id, checkout_closed=True)
        if isinstance(prepared, ItemOutcome):
            return prepared
        assert not isinstance(prepared, PaymentAttempt)  # noqa: S101 - checkout_closed=True
        attempt, customer_id = prepared
        return self._charge(gateway, attempt, customer_id)

    def _prepare_attempt(
        self, item_id: str, lease: datetime, enrollment_id: str | None, *, checkout_closed: bool
    ) -> ItemOutcome | PaymentAttempt | tuple[PaymentAttempt, str]:
        """Write the off-session attempt (or find the one a dead worker left).

        An open on-session checkout is returned as it is (the caller cancels
        it and calls again with ``checkout_closed``): one transaction decides
        the common case, where there is none.
        """
        now = self.now()
        with self.store.transaction() as tx:
            item = self.lock_item(tx, item_id, enrollment_id=enrollment_id)
            if item is None or item.lease_until != lease:
                return ItemOutcome(item_id, "skipped")  # another worker took it over
            attempts = tx.attempts_of(item_id)
            last = attempts[-1] if attempts else None
            if last is not None and is_open_checkout(last):
                if not checkout_closed:
                    return last
                # The customer opened a new checkout while we closed the last one.
                tx.update_item(attrs.evolve(item, lease_until=None))
                return ItemOutcome(item_id, "skipped", last.id)
            enrollment = tx.get_enrollment(item.enrollment_id)
            assert enrollment is not None  # noqa: S101
            if enrollment.status in (EnrollmentStatus.PAUSED, EnrollmentStatus.CANCELLED):
                tx.update_item(attrs.evolve(item, lease_until=None))
                return ItemOutcome(item_id, "skipped")
            customer = tx.get_customer(enrollment.user_id)
            if last is not None and last.status == AttemptStatus.UNKNOWN:
                tx.update_item(attrs.evolve(item, lease_until=None))
                return ItemOutcome(item_id, "unknown", last.id)  # reconcile decides
            if last is not None and last.status == AttemptStatus.PENDING:
                attempt = last  # a worker died after writing it: same key, no new charge
            else:
                if customer is None or not customer.payment_method_id:
                    self.set_item(
                        tx, item, status=ItemStatus.REQUIRES_PAYMENT_METHOD, lease_until=None
                    )
                    self.audit(
                        tx,
                        actor="system",
                        action="payment.requires_payment_method",
                        entity_type="schedule_item",
                        entity_id=item_id,
                        data={"reason": "no saved payment method"},
                    )
                    self.refresh_enrollment(tx, enrollment.id)
                    return ItemOutcome(item_id, "requires_payment_method")
                number = len(attempts) + 1
                attempt = PaymentAttempt(
                    id=self.new_id("att"),
                    item_id=item_id,
                    enrollment_id=enrollment.id,
                    number=number,
                    idempotency_key=attempt_key(item_id, number),
                    status=AttemptStatus.PENDING,
                    amount=item.outstanding,
                    mode="off_session",
                    created_at=now,
                    updated_at=now,
                    payment_method_id=customer.payment_method_id,
                )
                tx.add_attempt(attempt)
                self.set_item(tx, item, status=ItemStatus.PROCESSING)
                self.audit(
                    tx,
                    actor="system",
                    action="attempt.created",
                    entity_type="schedule_item",
                    entity_id=item_id,
                    data={"attempt_id": attempt.id, "number": number, "amount": attempt.amount},
                )
            assert customer is not None  # noqa: S101 - an off-session attempt implies one
            return attempt, customer.gateway_customer_id

    def _charge(self, gateway: Gateway, attempt: PaymentAttempt, customer_id: str) -> ItemOutcome:
        """Send a written attempt to the gateway and record its answer."""
        item_id = attempt.item_id
        # The attempt and its key are committed: whatever happens next, a
        # retry of this call reuses the key and cannot charge twice.
        self.checkpoint("after_attempt_written")
        try:
            result = gateway.charge_off_session(
                customer_id=customer_id,
                payment_method_id=attempt.payment_method_id or "",
                amount=attempt.amount,
                idempotency_key=attempt.idempotency_key,
                metadata={
                    "enrollment_id": attempt.enrollment_id,
                    "item_id": item_id,
                    "attempt_id": attempt.id,
                },
            )
        except GatewayUnavailableError as exc:
            self._mark_unknown(attempt.id, str(exc))
            return ItemOutcome(item_id, "unknown", attempt.id)
        except GatewayRequestError as exc:
            with self.store.transaction() as tx:
                applied = self._refuse_attempt(tx, attempt.id, exc)
            return ItemOutcome(item_id, applied, attempt.id)
        self.checkpoint("after_gateway_answered")
        if result.status == "processing":
            # Accepted but not settled: the webhook or reconcile() will tell.
            self._mark_unknown(attempt.id, "processing at the gateway", result.gateway_payment_id)
            return ItemOutcome(item_id, "processing", attempt.id)
        with self.store.transaction() as tx:
            # Take the locks (enrollment, item, attempt) from what we know of the
            # attempt; settlement then finds them held instead of reading first.
            self.lock_item(tx, item_id, enrollment_id=attempt.enrollment_id)
            tx.get_attempt(attempt.id, for_update=True)
            applied_result = apply_charge_result(self, tx, attempt.id, result)
            fresh = tx.get_item(item_id)
            assert fresh is not None  # noqa: S101
            if applied_result is None:
                # A webhook settled it first; report the state it left behind.
                applied_result = _RESULT_OF_STATUS.get(fresh.status, "processing")
                if fresh.lease_until is not None:
                    tx.update_item(attrs.evolve(fresh, lease_until=None))
            self.checkpoint("before_commit")
        self.checkpoint("after_commit")
        return ItemOutcome(item_id, applied_result, attempt.id, result.decline_code)

    def _close_abandoned_checkout(
        self, gateway: Gateway, item_id: str, lease: datetime, last: PaymentAttempt
    ) -> ItemOutcome | None:
        """Cancel the on-session payment ``last`` the customer left, before charging off-session.

        ``None`` means: carry on collecting. A payment the customer completed
        meanwhile is recorded instead, and a gateway that cannot be reached
        postpones the item to a later run.
        """
        if last.gateway_payment_id is not None:
            try:
                state = gateway.cancel_payment(
                    gateway_payment_id=last.gateway_payment_id,
                    idempotency_key=f"cancel:{last.id}",
                )
            except GatewayUnavailableError:
                return self._postpone(item_id, lease, last.id)
            except GatewayRequestError:
                state = None
            if state is None or state.status != "canceled":
                try:
                    state = gateway.payment_status(
                        gateway_payment_id=last.gateway_payment_id,
                        idempotency_key=last.idempotency_key,
                        amount=last.amount,
                    )
                except GatewayUnavailableError:
                    return self._postpone(item_id, lease, last.id)
            if state is not None and state.status == "succeeded":
                with self.store.transaction() as tx:
                    apply_charge_result(self, tx, last.id, state)
                return ItemOutcome(item_id, "succeeded", last.id)
            if state is not None and state.status not in ("canceled", "failed"):
                return self._postpone(item_id, lease, last.id)
        with self.store.transaction() as tx:
            current = tx.get_attempt(last.id)
            assert current is not None  # noqa: S101
            # A declined checkout is FAILED already, yet still payable until now:
            # mark it cancelled too, so that its late events cannot revive it.
            self._mark_checkout_cancelled(tx, current, "checkout abandoned; payment canceled")
            self.audit(
                tx,
                actor="system",
                action="payment.checkout_abandoned",
                entity_type="schedule_item",
                entity_id=item_id,
                data={"attempt_id": last.id, "gateway_payment_id": last.gateway_payment_id},
            )
        return None

    def _mark_checkout_cancelled(
        self, tx: StoreTransaction, current: PaymentAttempt, message: str
    ) -> bool:
        """Record that ``current``'s gateway payment is cancelled and can never be paid.

        False (and nothing written) if it was recorded so already.
        """
        if current.decline_code == CANCELED:
            return False
        tx.update_attempt(
            attrs.evolve(
                current,
                status=AttemptStatus.FAILED,
                decline_code=CANCELED,
                message=message,
                updated_at=self.now(),
            )
        )
        return True

    def _postpone(self, item_id: str, lease: datetime, attempt_id: str) -> ItemOutcome:
        """Keep the item leased for another lease period (not retried in this run)."""
        with self.store.transaction() as tx:
            item = self.lock_item(tx, item_id)
            if item is not None and item.lease_until == lease:
                tx.update_item(attrs.evolve(item, lease_until=self.now() + self.config.lease))
        return ItemOutcome(item_id, "skipped", attempt_id)

    def _mark_unknown(
        self, attempt_id: str, message: str, gateway_payment_id: str | None = None
    ) -> None:
        with self.store.transaction() as tx:
            attempt = self.lock_attempt(tx, attempt_id)
            if attempt.status != AttemptStatus.PENDING:
                return
            tx.update_attempt(
                attrs.evolve(
                    attempt,
                    status=AttemptStatus.UNKNOWN,
                    message=message,
                    updated_at=self.now(),
                    gateway_payment_id=gateway_payment_id or attempt.gateway_payment_id,
                )
            )
            item = self.lock_item(tx, attempt.item_id)
            assert item is not None  # noqa: S101
            tx.update_item(attrs.evolve(item, lease_until=None))
            self.audit(
                tx,
                actor="system",
                action="attempt.unknown",
                entity_type="schedule_item",
                entity_id=attempt.item_id,
                data={"attempt_id": attempt_id, "message": message},
            )

    def _refuse_attempt(
        self, tx: StoreTransaction, attempt_id: str, exc: GatewayRequestError
    ) -> ItemResult:
        """The gateway refused the request itself (bad method, bad config).

        Retrying the same request cannot help, so the item waits for a new
        payment method and the error is kept on the attempt for the admin.
        """
        attempt = self.lock_attempt(tx, attempt_id)
        tx.update_attempt(
            attrs.evolve(
                attempt, status=AttemptStatus.FAILED, message=str(exc), updated_at=self.now()
            )
        )
        item = self.lock_item(tx, attempt.item_id)
        assert item is not None  # noqa: S101
        self.set_item(tx, item, status=ItemStatus.REQUIRES_PAYMENT_METHOD, lease_until=None)
        self.audit(
            tx,
            actor="system",
            action="payment.request_refused",
            entity_type="schedule_item",
            entity_id=item.id,
            data={"attempt_id": attempt_id, "param": exc.param, "message": str(exc)},
        )
        self.refresh_enrollment(tx, attempt.enrollment_id)
        return "requires_payment_method"

    def reconcile(self) -> ReconcileReport:
        """Resolve attempts whose outcome is unknown, and finish pending refunds.

        Each unknown (or stale pending) attempt is looked up at the gateway by
        its payment id or idempotency key. A payment the gateway never saw
        goes back to ``pending`` and is sent again by ``collect_due`` with the
        *same* key; a new attempt is never made for it.

        Payments the customer can still complete are looked up too, in case
        their webhook was lost: those waiting for authentication, and declined
        on-session checkouts (the customer may try another card on them)
        until they are cancelled.
        """
        gateway = self.require_gateway()
        now = self.now()
        checked = resolved = resent = still_unknown = 0
        with self.store.transaction() as tx:
            attempts = [
                a
                for a in tx.list_attempts(statuses=_STILL_OPEN)
                if a.status != AttemptStatus.FAILED
                or (
                    a.mode == "on_session"
                    and a.gateway_payment_id is not None
                    and a.decline_code != CANCELED
                )
            ]
        for attempt in attempts:
            if attempt.status == AttemptStatus.PENDING:
                with self.store.transaction() as tx:
                    item = tx.get_item(attempt.item_id)
                if attempt.mode == "off_session" and (
                    item is None or item.lease_until is None or item.lease_until > now
                ):
                    continue  # a worker holds it (or will resend it): not ours to touch
            checked += 1
            try:
                result = gateway.payment_status(
                    gateway_payment_id=attempt.gateway_payment_id,
                    idempotency_key=attempt.idempotency_key,
                    amount=attempt.amount,
                )
            except GatewayUnavailableError:
                still_unknown += attempt.status == AttemptStatus.UNKNOWN
                continue
            with self.store.transaction() as tx:
                if result is None:
                    if attempt.mode == "off_session" and attempt.status == AttemptStatus.UNKNOWN:
                        resent += self._resend_later(tx, attempt, now)
                    continue
                if apply_charge_result(self, tx, attempt.id, result) is not None:
                    resolved += 1
                elif attempt.status == AttemptStatus.UNKNOWN and result.status == "processing":
                    still_unknown += 1
                elif result.status == "canceled" and attempt.decline_code != CANCELED:
                    # A declined checkout cancelled at the gateway: stop looking at it.
                    current = self.lock_attempt(tx, attempt.id)
                    tx.update_attempt(
                        attrs.evolve(current, decline_code=CANCELED, updated_at=self.now())
                    )
                    self.audit(
                        tx,
                        actor="gateway",
                        action="payment.checkout_canceled",
                        entity_type="schedule_item",
                        entity_id=attempt.item_id,
                        data={"attempt_id": attempt.id},
                    )
        done, failed = self._finish_pending_refunds(gateway)
        report = ReconcileReport(checked, resolved, resent, still_unknown, done, failed)
        logger.info("reconcile: %s", report.summary())
        return report

    def _resend_later(self, tx: StoreTransaction, attempt: PaymentAttempt, now: datetime) -> bool:
        """The gateway never saw the attempt: make it collectible again, same key."""
        attempt = self.lock_attempt(tx, attempt.id)
        if attempt.status != AttemptStatus.UNKNOWN:
            return False  # someone resolved it meanwhile
        tx.update_attempt(attrs.evolve(attempt, status=AttemptStatus.PENDING, updated_at=now))
        item = self.lock_item(tx, attempt.item_id)
        assert item is not None  # noqa: S101
        # An expired lease on a processing item is what claim_due picks up.
        tx.update_item(attrs.evolve(item, lease_until=now))
        self.audit(
            tx,
            actor="system",
            action="attempt.not_at_gateway",
            entity_type="schedule_item",
            entity_id=item.id,
            data={"attempt_id": attempt.id},
        )
        return True
