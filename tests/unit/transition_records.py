"""Records in a chosen state, for the state-machine tests.

The transition functions are the only code allowed to give a record a new
status; these builders stand in for records read back from a store, so they
construct records directly in any state a test needs.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import attrs

from enrollpay.domain.money import Money
from enrollpay.domain.plans import Installments, PaymentPlan
from enrollpay.domain.records import Dispute, Enrollment, PaymentAttempt, Refund, ScheduleItem
from enrollpay.domain.statuses import (
    AttemptStatus,
    DisputeStatus,
    EnrollmentStatus,
    ItemStatus,
    RefundStatus,
)

AT = datetime(2027, 3, 15, 12, tzinfo=UTC)
LATER = AT + timedelta(hours=1)
TODAY = date(2027, 3, 15)
TOMORROW = TODAY + timedelta(days=1)
YESTERDAY = TODAY - timedelta(days=1)
ENROLLMENT_ID = "enr_1"


def usd(minor: int) -> Money:
    """``minor`` cents in US dollars."""
    return Money(minor, "USD")


def an_enrollment(
    status: EnrollmentStatus = EnrollmentStatus.ACTIVE,
    *,
    plan: PaymentPlan | None = None,
    **changes: Any,
) -> Enrollment:
    """A 300.00 USD enrollment in ``status`` (three monthly installments by default).

    Past ``pending_payment`` it has had access (since ``AT``), as a real one would.
    """
    record = Enrollment(
        id=ENROLLMENT_ID,
        user_id="user_1",
        product_id="prod_1",
        status=status,
        plan=Installments(3) if plan is None else plan,
        price=usd(30000),
        start_date=TODAY,
        created_at=AT,
        updated_at=AT,
        access_granted_at=None if status == EnrollmentStatus.PENDING_PAYMENT else AT,
    )
    return attrs.evolve(record, **changes)


def an_item(
    status: ItemStatus = ItemStatus.SCHEDULED,
    *,
    item_id: str = "itm_1",
    seq: int = 1,
    due: date = TODAY,
    **changes: Any,
) -> ScheduleItem:
    """A 100.00 USD installment of ``enr_1`` in ``status``, nothing paid yet."""
    record = ScheduleItem(
        id=item_id,
        enrollment_id=ENROLLMENT_ID,
        seq=seq,
        kind="installment",
        due=due,
        amount=usd(10000),
        status=status,
        amount_paid=usd(0),
        updated_at=AT,
    )
    return attrs.evolve(record, **changes)


def an_attempt(status: AttemptStatus = AttemptStatus.PENDING, **changes: Any) -> PaymentAttempt:
    """Attempt 1 at charging ``itm_1`` in ``status``."""
    record = PaymentAttempt(
        id="att_1",
        item_id="itm_1",
        enrollment_id=ENROLLMENT_ID,
        number=1,
        idempotency_key="idem_1",
        status=status,
        amount=usd(10000),
        mode="off_session",
        created_at=AT,
        updated_at=AT,
    )
    return attrs.evolve(record, **changes)


def a_refund(status: RefundStatus = RefundStatus.PENDING, **changes: Any) -> Refund:
    """A 25.00 USD gateway refund of ``pay_1`` in ``status``."""
    record = Refund(
        id="ref_1",
        payment_id="pay_1",
        enrollment_id=ENROLLMENT_ID,
        amount=usd(2500),
        method="gateway",
        created_at=AT,
        status=status,
    )
    return attrs.evolve(record, **changes)


def a_dispute(status: DisputeStatus = DisputeStatus.FUNDS_WITHDRAWN, **changes: Any) -> Dispute:
    """A chargeback of the whole 100.00 USD ``pay_1`` in ``status``, reported at ``AT``."""
    record = Dispute(
        id="dsp_1",
        payment_id="pay_1",
        enrollment_id=ENROLLMENT_ID,
        gateway_dispute_id="du_1",
        amount=usd(10000),
        status=status,
        gateway_status="needs_response",
        opened_at=AT,
        updated_at=AT,
        reported_at=AT,
        reason="fraudulent",
        evidence_due_by=AT + timedelta(days=7),
    )
    return attrs.evolve(record, **changes)
