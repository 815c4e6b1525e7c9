"""The ports the service layer talks through: Clock, Gateway and Store.

Adapters implement these protocols: ``SystemClock``/``FrozenClock``,
``FakeGateway``/``StripeGateway``, ``InMemoryStore``/``SqlStore``. The core
never imports an adapter. One module per port; this package re-exports them.
"""

from enrollpay.ports.clock import Clock
from enrollpay.ports.gateway import (
    ChargeResult,
    ChargeStatus,
    EventKind,
    Gateway,
    GatewayEvent,
    GatewayRefund,
    InvoiceInfo,
    PaymentSession,
    SubscriptionInfo,
)
from enrollpay.ports.store import (
    AuditDraft,
    EventOutbox,
    ItemQuery,
    ReportQueries,
    Store,
    StoreTransaction,
)

__all__ = [
    "AuditDraft",
    "ChargeResult",
    "ChargeStatus",
    "Clock",
    "EventKind",
    "EventOutbox",
    "Gateway",
    "GatewayEvent",
    "GatewayRefund",
    "InvoiceInfo",
    "ItemQuery",
    "PaymentSession",
    "ReportQueries",
    "Store",
    "StoreTransaction",
    "SubscriptionInfo",
]
