"""The pure core of enrollpay: no I/O, no clock, no randomness, no globals.

Everything here is a function of its arguments. It imports only the standard
library, attrs, dateutil and babel.
"""

from enrollpay.domain.calendar import Interval, due_date
from enrollpay.domain.lifecycle import (
    AttemptStatus,
    EnrollmentStatus,
    ItemStatus,
    can_transition,
    check_transition,
    derive_enrollment_status,
    has_access,
)
from enrollpay.domain.money import Money, currency_exponent
from enrollpay.domain.plans import (
    Deposit,
    FullPayment,
    Installments,
    PaymentPlan,
    PlanRule,
    Subscription,
    describe_plan,
    detect_plan,
    eligible_plans,
    parse_plan,
)
from enrollpay.domain.refunds import RefundLine, RefundPolicy, RefundQuote, quote_refund
from enrollpay.domain.retry import (
    DeclineClass,
    RetryDecision,
    RetryPolicy,
    classify_decline,
    decide_after_decline,
    next_retry_at,
)
from enrollpay.domain.retry_caps import RetryCap, capped_retry_at
from enrollpay.domain.schedule import ScheduleLine, build_schedule
from enrollpay.domain.statuses import AccessPolicy

__all__ = [
    "AccessPolicy",
    "AttemptStatus",
    "DeclineClass",
    "Deposit",
    "EnrollmentStatus",
    "FullPayment",
    "Installments",
    "Interval",
    "ItemStatus",
    "Money",
    "PaymentPlan",
    "PlanRule",
    "RefundLine",
    "RefundPolicy",
    "RefundQuote",
    "RetryCap",
    "RetryDecision",
    "RetryPolicy",
    "ScheduleLine",
    "Subscription",
    "build_schedule",
    "can_transition",
    "capped_retry_at",
    "check_transition",
    "classify_decline",
    "currency_exponent",
    "decide_after_decline",
    "derive_enrollment_status",
    "describe_plan",
    "detect_plan",
    "due_date",
    "eligible_plans",
    "has_access",
    "next_retry_at",
    "parse_plan",
    "quote_refund",
]
