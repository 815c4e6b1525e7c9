"""Trials that collect a card: opening the setup again, and ending the wait for the card.

``enroll`` opens a trial with a gateway as ``awaiting_payment_method``
(``pending_payment``, no access) and opens a setup flow for its card
(:func:`enrollpay.service.enroll.open_setup`). :func:`start_setup` opens
that flow again (the same one: its key comes from the enrollment) when the
first try did not reach the gateway or the page was closed. Once the
student's customer has a saved card, every trial of theirs that waits for
one stops waiting (:func:`payment_method_saved`): during the trial it
becomes ``active`` with access, and its first period is charged
off-session with that card at the trial's end, by ``collect_due``.
"""

from __future__ import annotations

from collections.abc import Iterable

from enrollpay.domain import transitions
from enrollpay.domain.lifecycle import EnrollmentStatus
from enrollpay.domain.records import Enrollment
from enrollpay.errors import EnrollmentNotFoundError, InvalidStateError
from enrollpay.ports import StoreTransaction
from enrollpay.service.base import check_text
from enrollpay.service.context import Context
from enrollpay.service.enroll import open_setup

__all__ = ["payment_method_saved", "start_setup"]


def start_setup(ctx: Context, enrollment_id: str) -> str:
    """The client secret of the setup flow a trial waits for (opened again, never twice).

    Raises ``EnrollmentNotFoundError``, and ``InvalidStateError`` when the
    enrollment waits for no card (its card is saved, it is no trial, or it
    is cancelled): a card change goes through ``start_payment_method_update``.
    """
    gateway = ctx.require_gateway()
    check_text(enrollment_id, "enrollment_id")
    with ctx.store.reader() as view:
        enrollment = view.get_enrollment(enrollment_id)
        if enrollment is None:
            raise EnrollmentNotFoundError(enrollment_id)
        waiting = enrollment.awaiting_payment_method
        if enrollment.status == EnrollmentStatus.CANCELLED or not waiting:
            raise InvalidStateError(
                f"enrollment {enrollment_id!r} waits for no payment method "
                f"(it is {enrollment.status}); use start_payment_method_update to change a card"
            )
        customer = view.get_customer(enrollment.user_id)
    return open_setup(
        ctx, gateway, enrollment_id=enrollment_id, user_id=enrollment.user_id, customer=customer
    )


def payment_method_saved(
    ctx: Context,
    tx: StoreTransaction,
    user_id: str,
    *,
    actor: str,
    enrollments: Iterable[Enrollment] | None = None,
) -> list[Enrollment]:
    """The user's customer has a saved card now: their trials stop waiting for one.

    Each enrollment of ``user_id`` (``enrollments``: as the caller listed
    them) that is ``awaiting_payment_method`` and not cancelled is locked
    and moved by ``save_payment_method``: ``active`` during its trial
    (``enrollment.activated``, ``access.granted``), still ``pending_payment``
    if the trial ended unpaid (its first charge decides). Returns the
    enrollments changed. Idempotent: a second call finds nothing waiting.
    """
    listed = tx.enrollments_of(user_id) if enrollments is None else enrollments
    at = ctx.now()
    changed: list[Enrollment] = []
    for candidate in listed:
        if not candidate.awaiting_payment_method:
            continue
        locked = ctx.lock(tx, candidate.id)
        enrollment = locked.enrollment
        if enrollment.status == EnrollmentStatus.CANCELLED:
            continue
        change = transitions.save_payment_method(
            enrollment,
            locked.items,
            today=ctx.today(at),
            at=at,
            past_due_access=ctx.config.past_due_access,
            access=ctx.config.access_policy,
        )
        if change.record is enrollment:
            continue  # it stopped waiting since it was listed
        updated = ctx.save_enrollment(tx, change)
        ctx.audit(
            tx,
            actor=actor,
            action="enrollment.payment_method_saved",
            entity_type="enrollment",
            entity_id=enrollment.id,
            data={"from": enrollment.status, "to": updated.status},
        )
        changed.append(updated)
    return changed
