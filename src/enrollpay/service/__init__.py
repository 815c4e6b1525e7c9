"""The imperative shell: use cases over the ports, behind :class:`PaymentSystem`."""

from enrollpay.service.base import SystemConfig
from enrollpay.service.results import (
    CancellationResult,
    CollectionReport,
    EnrollmentResult,
    ItemOutcome,
    PaymentDetails,
    ReconcileReport,
    Stats,
    WebhookOutcome,
)
from enrollpay.service.system import PaymentSystem

__all__ = [
    "CancellationResult",
    "CollectionReport",
    "EnrollmentResult",
    "ItemOutcome",
    "PaymentDetails",
    "PaymentSystem",
    "ReconcileReport",
    "Stats",
    "SystemConfig",
    "WebhookOutcome",
]
