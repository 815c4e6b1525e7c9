"""Enrolling methods of :class:`~enrollpay.PaymentSystem`.

Each is a function of the system (``self``) that delegates to
:mod:`enrollpay.service.enroll`; :mod:`enrollpay.service.system` attaches
them to the class by name. They live here, apart from the class, because
commerce features (discounts, payers, price lists, seats, taxes) each add
an option to enrolling.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING

from enrollpay.domain.plans import PaymentPlan
from enrollpay.service import enroll as enroll_case
from enrollpay.service.results import EnrollmentResult

if TYPE_CHECKING:
    from enrollpay.service.system import PaymentSystem

__all__ = ["enroll"]


def enroll(
    self: PaymentSystem,
    *,
    user_id: str,
    product_id: str,
    plan: PaymentPlan | None = None,
    start: date | None = None,
    metadata: Mapping[str, str] | None = None,
    coupon: str | None = None,
    scholarship: str | None = None,
    currency: str | None = None,
) -> EnrollmentResult:
    """Enroll ``user_id`` in a product and open the first payment if one is due.

    ``coupon`` (a code) and ``scholarship`` (an id) reduce the price
    (``CouponNotApplicableError`` and kin when they do not apply).
    ``currency`` is the student's: the product's explicit price in it
    (None: the default price; ``CurrencyNotOffered`` when it has none,
    ``PlanCurrencyError`` for a plan fixed in another currency).

    The enrollment, its schedule, the first attempt (with its idempotency
    key) and the audit entry are written in one transaction *before* the
    gateway is called. Raises ``ProductNotFoundError``,
    ``ProductInactiveError``, ``DuplicateEnrollmentError`` (with
    ``existing_id``), ``PlanNotOffered`` or ``PlanError``; nothing is
    written then.
    """
    return enroll_case.enroll(
        self._ctx,
        user_id=user_id,
        product_id=product_id,
        plan=plan,
        start=start,
        metadata=metadata,
        coupon=coupon,
        scholarship=scholarship,
        currency=currency,
    )
