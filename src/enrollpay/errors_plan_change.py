"""The errors of a mid-stream plan change (see :mod:`enrollpay.domain.plan_change`).

Kept apart from :mod:`enrollpay.errors` (which is near the module size
limit); both classes derive from
:class:`~enrollpay.errors.InvalidStateError`, so ``except ValueError`` and
``except EnrollpayError`` catch them as usual.
"""

from __future__ import annotations

from enrollpay.errors import InvalidStateError

__all__ = ["PlanChangeBlocked", "PlanChangeError", "PlanChangeRefused"]


class PlanChangeError(InvalidStateError):
    """A plan change cannot be made; nothing was written."""


class PlanChangeRefused(PlanChangeError):  # noqa: N818 - named like PlanNotOffered
    """The change is not allowed for this enrollment; ``reason`` says why.

    Reasons: ``status`` (the enrollment is paused, cancelled, completed or
    defaulted), ``subscription`` (to or from a subscription plan),
    ``same_plan`` (the enrollment is on that plan already), ``coupon`` (its
    coupon does not allow the new plan's kind), ``nothing_owed`` (no open
    item is left to re-plan), ``payers`` (its schedule is split between
    payers) or ``taxed`` (its items carry tax): those two are not re-planned
    yet.
    """

    def __init__(self, enrollment_id: str, reason: str, detail: str = "") -> None:
        text = f"enrollment {enrollment_id!r} cannot change plan: {reason}"
        super().__init__(f"{text} ({detail})" if detail else text)
        self.enrollment_id = enrollment_id
        self.reason = reason


class PlanChangeBlocked(PlanChangeError):  # noqa: N818 - named like PlanNotOffered
    """A payment of an item the change would replace is still under way.

    ``attempt_id`` names the attempt (sent with no outcome yet, waiting for
    the customer, or a bank debit still processing; None when a charge of
    ``item_id`` is being made right now). Retry the change once it has
    settled: its outcome decides what is left to re-plan.
    """

    def __init__(self, enrollment_id: str, item_id: str, attempt_id: str | None) -> None:
        what = f"attempt {attempt_id!r}" if attempt_id else "a charge"
        super().__init__(
            f"enrollment {enrollment_id!r} cannot change plan while {what} "
            f"of item {item_id!r} is under way; retry after it settles"
        )
        self.enrollment_id = enrollment_id
        self.item_id = item_id
        self.attempt_id = attempt_id
