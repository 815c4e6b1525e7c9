"""enrollpay: sell course and program enrollments on payment plans.

This module only re-exports the public API.
"""

from enrollpay.domain.calendar import Interval
from enrollpay.domain.lifecycle import AttemptStatus, EnrollmentStatus, ItemStatus
from enrollpay.domain.money import Money
from enrollpay.domain.payers import Payer, PayerShare
from enrollpay.domain.plans import (
    Deposit,
    FullPayment,
    Installments,
    PaymentPlan,
    PlanRule,
    Subscription,
    detect_plan,
    eligible_plans,
)
from enrollpay.domain.receipts import Receipt, ReceiptSettings
from enrollpay.domain.refunds import RefundPolicy, RefundQuote, quote_refund
from enrollpay.domain.retry import DeclineClass, RetryPolicy, next_retry_at
from enrollpay.domain.retry_caps import RetryCap
from enrollpay.domain.schedule import ScheduleLine, build_schedule
from enrollpay.domain.statuses import AccessPolicy
from enrollpay.errors import EnrollpayError
from enrollpay.service import (
    CancellationResult,
    CollectionReport,
    EnrollmentResult,
    PaymentDetails,
    PaymentSystem,
    ReconcileReport,
    Stats,
    SystemConfig,
    WebhookOutcome,
)

__all__ = [
    "AccessPolicy",
    "AttemptStatus",
    "CancellationResult",
    "CollectionReport",
    "DeclineClass",
    "Deposit",
    "EnrollmentResult",
    "EnrollmentStatus",
    "EnrollpayError",
    "FullPayment",
    "Installments",
    "Interval",
    "ItemStatus",
    "Money",
    "Payer",
    "PayerShare",
    "PaymentDetails",
    "PaymentPlan",
    "PaymentSystem",
    "PlanRule",
    "Receipt",
    "ReceiptSettings",
    "ReconcileReport",
    "RefundPolicy",
    "RefundQuote",
    "RetryCap",
    "RetryPolicy",
    "ScheduleLine",
    "Stats",
    "Subscription",
    "SystemConfig",
    "WebhookOutcome",
    "build_schedule",
    "detect_plan",
    "eligible_plans",
    "next_retry_at",
    "quote_refund",
]
