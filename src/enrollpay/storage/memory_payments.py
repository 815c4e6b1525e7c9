"""Payment attempts, payments and refunds of an in-memory transaction.

The same invariants as the SQL store (:mod:`enrollpay.storage.sql.payments`),
with the same errors: unique idempotency keys and gateway ids, refunds never
exceeding what their payment took.
"""

from __future__ import annotations

from datetime import datetime

from enrollpay.domain.lifecycle import AttemptStatus
from enrollpay.domain.money import Money
from enrollpay.domain.records import Payment, PaymentAttempt, Refund
from enrollpay.errors import DuplicateError, PaymentNotFoundError, RefundExceedsPaidError
from enrollpay.storage.memory_tables import MemoryTables, require

__all__ = ["MemoryPayments"]


class MemoryPayments:
    """Money movements: attempts to charge, the payments they made, refunds of them."""

    _t: MemoryTables

    # attempts ------------------------------------------------------------------
    def add_attempt(self, attempt: PaymentAttempt) -> None:
        """Insert; ``DuplicateError`` if the idempotency key exists."""
        if attempt.id in self._t.attempts:
            raise DuplicateError("attempt id", attempt.id)
        if any(a.idempotency_key == attempt.idempotency_key for a in self._t.attempts.values()):
            raise DuplicateError("idempotency key", attempt.idempotency_key)
        gid = attempt.gateway_payment_id
        if gid is not None and self.find_attempt_by_gateway_id(gid) is not None:
            raise DuplicateError("gateway payment id", gid)
        self._t.attempts[attempt.id] = attempt

    def get_attempt(self, attempt_id: str) -> PaymentAttempt | None:
        """An attempt by id."""
        return self._t.attempts.get(attempt_id)

    def update_attempt(self, attempt: PaymentAttempt) -> None:
        """Replace an existing attempt."""
        require(self._t.attempts, attempt.id, "attempt")
        gid = attempt.gateway_payment_id
        if gid is not None and any(
            a.gateway_payment_id == gid and a.id != attempt.id for a in self._t.attempts.values()
        ):
            raise DuplicateError("gateway payment id", gid)
        self._t.attempts[attempt.id] = attempt

    def attempts_of(self, item_id: str) -> list[PaymentAttempt]:
        """The attempts of an item by number."""
        found = [a for a in self._t.attempts.values() if a.item_id == item_id]
        return sorted(found, key=lambda a: a.number)

    def find_attempt_by_gateway_id(self, gateway_payment_id: str) -> PaymentAttempt | None:
        """The attempt the gateway knows as ``gateway_payment_id``."""
        for attempt in self._t.attempts.values():
            if attempt.gateway_payment_id == gateway_payment_id:
                return attempt
        return None

    def reattempts_on(
        self, user_id: str, payment_method_id: str, *, since: datetime
    ) -> list[datetime]:
        """When the reattempts on a user's payment method were made after ``since``, oldest first.

        Transactions run one at a time here, so holding the method needs nothing more.
        """
        mine = {e.id for e in self._t.enrollments.values() if e.user_id == user_id}
        return sorted(
            a.created_at
            for a in self._t.attempts.values()
            if a.reattempt
            and a.payment_method_id == payment_method_id
            and a.created_at > since
            and a.enrollment_id in mine
        )

    def list_attempts(
        self, *, statuses: frozenset[AttemptStatus], limit: int | None = None
    ) -> list[PaymentAttempt]:
        """Attempts in the given statuses, oldest first."""
        found = sorted(
            (a for a in self._t.attempts.values() if a.status in statuses),
            key=lambda a: (a.created_at, a.id),
        )
        return found if limit is None else found[:limit]

    # payments and refunds --------------------------------------------------------
    def add_payment(self, payment: Payment) -> None:
        """Insert; ``DuplicateError`` if the gateway payment id was recorded already."""
        if payment.id in self._t.payments:
            raise DuplicateError("payment id", payment.id)
        gid = payment.gateway_payment_id
        if gid is not None and self.find_payment_by_gateway_id(gid) is not None:
            raise DuplicateError("gateway payment id", gid)
        self._t.payments[payment.id] = payment

    def get_payment(self, payment_id: str) -> Payment | None:
        """A payment by id."""
        return self._t.payments.get(payment_id)

    def find_payment_by_gateway_id(self, gateway_payment_id: str) -> Payment | None:
        """The payment recorded for a gateway payment id."""
        for payment in self._t.payments.values():
            if payment.gateway_payment_id == gateway_payment_id:
                return payment
        return None

    def payments_of(self, enrollment_id: str) -> list[Payment]:
        """The payments of an enrollment, oldest first."""
        found = [p for p in self._t.payments.values() if p.enrollment_id == enrollment_id]
        return sorted(found, key=lambda p: (p.received_at, p.id))

    def add_refund(self, refund: Refund) -> None:
        """Insert a refund, enforcing the refund invariants."""
        if refund.id in self._t.refunds:
            raise DuplicateError("refund id", refund.id)
        for other in self._t.refunds.values():
            if refund.gateway_refund_id is not None and (
                other.gateway_refund_id == refund.gateway_refund_id
            ):
                raise DuplicateError("gateway refund id", refund.gateway_refund_id)
            if refund.idempotency_key is not None and (
                other.idempotency_key == refund.idempotency_key
            ):
                raise DuplicateError("refund idempotency key", refund.idempotency_key)
        payment = self._t.payments.get(refund.payment_id)
        if payment is None:
            raise PaymentNotFoundError(refund.payment_id)
        already = sum(
            r.amount.minor
            for r in self._t.refunds.values()
            if r.payment_id == refund.payment_id and r.status != "failed"
        )
        refundable = Money(payment.amount.minor - already, payment.amount.currency)
        if refund.amount.minor <= 0 or refund.amount > refundable:
            raise RefundExceedsPaidError(refund.amount, refundable)
        self._t.refunds[refund.id] = refund

    def update_refund(self, refund: Refund) -> None:
        """Replace an existing refund (status and gateway id change as it completes)."""
        require(self._t.refunds, refund.id, "refund")
        gid = refund.gateway_refund_id
        if gid is not None and any(
            r.gateway_refund_id == gid and r.id != refund.id for r in self._t.refunds.values()
        ):
            raise DuplicateError("gateway refund id", gid)
        self._t.refunds[refund.id] = refund

    def get_refund(self, refund_id: str) -> Refund | None:
        """A refund by id."""
        return self._t.refunds.get(refund_id)

    def list_refunds(self, *, status: str) -> list[Refund]:
        """Refunds in ``status``, oldest first."""
        found = [r for r in self._t.refunds.values() if r.status == status]
        return sorted(found, key=lambda r: (r.created_at, r.id))

    def find_refund_by_gateway_id(self, gateway_refund_id: str) -> Refund | None:
        """The refund recorded for a gateway refund id."""
        for refund in self._t.refunds.values():
            if refund.gateway_refund_id == gateway_refund_id:
                return refund
        return None

    def refunds_of(self, enrollment_id: str) -> list[Refund]:
        """The refunds of an enrollment, oldest first."""
        found = [r for r in self._t.refunds.values() if r.enrollment_id == enrollment_id]
        return sorted(found, key=lambda r: (r.created_at, r.id))
