"""Payment attempts, payments and refunds in a SQL transaction (see :mod:`.guards`)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from enrollpay.domain.lifecycle import AttemptStatus
from enrollpay.domain.money import Money
from enrollpay.domain.records import Payment, PaymentAttempt, Refund
from enrollpay.errors import (
    DuplicateError,
    PaymentNotFoundError,
    RefundExceedsPaidError,
    StorageError,
)
from enrollpay.storage.sql import mapping as m
from enrollpay.storage.sql import statements as q
from enrollpay.storage.sql.schema import attempts, payments, refunds
from enrollpay.storage.sql.unit import SqlUnit

__all__ = ["PaymentRepository"]


class PaymentRepository(SqlUnit):
    """Money movements: attempts to charge, the payments they made, refunds of them."""

    # -- attempts ----------------------------------------------------------------------

    def add_attempt(self, attempt: PaymentAttempt) -> None:
        """Insert; ``DuplicateError`` if the idempotency key exists."""

        def check() -> None:
            if self._g.exists(attempts, attempts.c.id == attempt.id):
                raise DuplicateError("attempt id", attempt.id)
            if self._g.exists(attempts, attempts.c.idempotency_key == attempt.idempotency_key):
                raise DuplicateError("idempotency key", attempt.idempotency_key)
            gid = attempt.gateway_payment_id
            if gid is not None and self._g.exists(attempts, attempts.c.gateway_payment_id == gid):
                raise DuplicateError("gateway payment id", gid)

        self._g.insert_new(attempts, m.attempt_to_row(attempt), check)
        self._held.hold(attempts, attempt.id, attempt)
        locked = self._locked.get(attempt.enrollment_id)
        if locked is not None and locked.attempt_ids is not None:
            locked.attempt_ids.append(attempt.id)

    def get_attempt(self, attempt_id: str) -> PaymentAttempt | None:
        """An attempt by id (not locked: see ``lock_enrollment``)."""
        return self._held_row(attempts, attempt_id, q.ATTEMPT, m.attempt_from_row, self._in_locked)

    def update_attempt(self, attempt: PaymentAttempt) -> None:
        """Replace an existing attempt."""
        before: PaymentAttempt | None = self._held.get(attempts, attempt.id)
        if before == attempt:
            return

        def check() -> None:
            self._g.require(attempts, "id", attempt.id, "attempt")
            gid = attempt.gateway_payment_id
            if gid is not None and self._g.exists(
                attempts, attempts.c.gateway_payment_id == gid, attempts.c.id != attempt.id
            ):
                raise DuplicateError("gateway payment id", gid)

        row = m.attempt_to_row(attempt)
        changes = self._held.changes(attempts, "id", row)
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
                self._g.update(
                    attempts,
                    "id",
                    changes,
                    "attempt",
                    q.UPDATE_UNLESS_GID_TAKEN,
                    gid_=attempt.gateway_payment_id,
                )
            except StorageError:
                check()  # names the attempt that has the id
                raise
        else:
            self._g.guarded(
                check,
                lambda: self._g.update(attempts, "id", changes, "attempt"),
                keys_unchanged=before is not None
                and (before.idempotency_key, before.gateway_payment_id)
                == (attempt.idempotency_key, attempt.gateway_payment_id),
            )
        self._held.hold(attempts, attempt.id, attempt, row)

    def attempts_of(self, item_id: str) -> list[PaymentAttempt]:
        """The attempts of an item by number."""
        stmt = q.ATTEMPTS_OF_PG if self._pg else q.ATTEMPTS_OF
        return [m.attempt_from_row(r) for r in self._rows(stmt, item_id)]

    def find_attempt_by_gateway_id(self, gateway_payment_id: str) -> PaymentAttempt | None:
        """The attempt the gateway knows as ``gateway_payment_id``."""
        row = self._row(q.ATTEMPT_BY_GATEWAY, gateway_payment_id)
        if row is None:
            return None
        attempt = m.attempt_from_row(row)
        if not self._pg:  # SQLite: held (see _held_row); the settlement reads it next
            self._held.hold(attempts, attempt.id, attempt, dict(row))
        return attempt

    def reattempts_on(
        self, user_id: str, payment_method_id: str, *, since: datetime
    ) -> list[datetime]:
        """When the reattempts on a user's payment method were made after ``since``, oldest first.

        PostgreSQL holds the user's payment method with an advisory lock
        until the transaction ends; SQLite's write lock (``BEGIN IMMEDIATE``)
        holds everything already.
        """
        if self._pg:
            self._g.lock(f"enrollpay:payment_method:{user_id}:{payment_method_id}")
        params = {"user": user_id, "key": payment_method_id, "since": since}
        return [row["created_at"] for row in self._d.run(q.REATTEMPTS_ON, params).all()]

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
            if self._g.exists(payments, payments.c.id == payment.id):
                raise DuplicateError("payment id", payment.id)
            gid = payment.gateway_payment_id
            if gid is not None and self._g.exists(payments, payments.c.gateway_payment_id == gid):
                raise DuplicateError("gateway payment id", gid)

        self._g.insert_new(payments, m.payment_to_row(payment), check)

    def get_payment(self, payment_id: str) -> Payment | None:
        """A payment by id."""
        row = self._row(q.PAYMENT, payment_id)
        return None if row is None else m.payment_from_row(row)

    def find_payment_by_gateway_id(self, gateway_payment_id: str) -> Payment | None:
        """The payment recorded for a gateway payment id."""
        row = self._row(q.PAYMENT_BY_GATEWAY, gateway_payment_id)
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
            if self._g.exists(refunds, refunds.c.id == refund.id):
                raise DuplicateError("refund id", refund.id)
            gid, key = refund.gateway_refund_id, refund.idempotency_key
            if gid is not None and self._g.exists(refunds, refunds.c.gateway_refund_id == gid):
                raise DuplicateError("gateway refund id", gid)
            if key is not None and self._g.exists(refunds, refunds.c.idempotency_key == key):
                raise DuplicateError("refund idempotency key", key)
            stmt = sa.select(payments.c.amount_minor, payments.c.currency).where(
                payments.c.id == refund.payment_id
            )
            if self._pg:
                stmt = stmt.with_for_update()
            payment = self._d.run(stmt).first()
            if payment is None:
                raise PaymentNotFoundError(refund.payment_id)
            already = self._d.run(
                sa.select(sa.func.coalesce(sa.func.sum(refunds.c.amount_minor), 0)).where(
                    refunds.c.payment_id == refund.payment_id, refunds.c.status != "failed"
                )
            ).scalar()
            refundable = Money(int(payment["amount_minor"]) - int(already), payment["currency"])
            if refund.amount.minor <= 0 or refund.amount > refundable:
                raise RefundExceedsPaidError(refund.amount, refundable)

        row = m.refund_to_row(refund)
        # The refundable amount is no constraint of the schema: checked before writing.
        self._g.guarded(
            check,
            lambda: self._d.run(q.INSERT[refunds.name], row, value_keys=True),
            check_first=True,
        )

    def update_refund(self, refund: Refund) -> None:
        """Replace an existing refund (status and gateway id change as it completes)."""

        def check() -> None:
            self._g.require(refunds, "id", refund.id, "refund")
            gid = refund.gateway_refund_id
            if gid is not None and self._g.exists(
                refunds, refunds.c.gateway_refund_id == gid, refunds.c.id != refund.id
            ):
                raise DuplicateError("gateway refund id", gid)

        row = m.refund_to_row(refund)
        self._g.guarded(check, lambda: self._g.update(refunds, "id", row, "refund"))

    def get_refund(self, refund_id: str) -> Refund | None:
        """A refund by id."""
        row = self._row(q.REFUND, refund_id)
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
        row = self._row(q.REFUND_BY_GATEWAY, gateway_refund_id)
        return None if row is None else m.refund_from_row(row)

    def refunds_of(self, enrollment_id: str) -> list[Refund]:
        """The refunds of an enrollment, oldest first."""
        stmt = (
            sa.select(refunds)
            .where(refunds.c.enrollment_id == enrollment_id)
            .order_by(refunds.c.created_at, self._text(refunds.c.id))
        )
        return [m.refund_from_row(r) for r in self._rows(stmt)]
