"""The ports the service layer talks through: Clock, Gateway, Store (write), StoreReader (read).

The notifications talk through one more, :class:`Notifier`.

Optional gateway capabilities are separate runtime-checkable protocols
(:class:`SubscriptionGateway`, :class:`InvoiceGateway`, :class:`ItemInvoiceGateway`,
:class:`LivemodeAware`,
:class:`LedgerGateway`), checked with ``isinstance``.

Adapters implement these protocols: ``SystemClock``/``FrozenClock``,
``FakeGateway``/``StripeGateway``, ``InMemoryStore``/``SqlStore``. The core
never imports an adapter. One module per port; this package re-exports them.
"""

from enrollpay.ports.clock import Clock
from enrollpay.ports.discounts import DiscountRecords, Redemption
from enrollpay.ports.disputes import DisputeRecords
from enrollpay.ports.gateway import (
    ChargeResult,
    ChargeStatus,
    EventKind,
    Gateway,
    GatewayDispute,
    GatewayEvent,
    GatewayRefund,
    InvoiceGateway,
    InvoiceInfo,
    LivemodeAware,
    PaymentSession,
    SubscriptionGateway,
    SubscriptionInfo,
)
from enrollpay.ports.invoicing import InvoiceCharge, InvoiceStatus, ItemInvoiceGateway
from enrollpay.ports.ledger import (
    LEDGER_KINDS,
    LEDGER_PAGE_SIZE,
    LedgerDispute,
    LedgerGateway,
    LedgerKind,
    LedgerPayment,
    LedgerRefund,
)
from enrollpay.ports.notification_log import SentNotificationLog, SentNotificationLookup
from enrollpay.ports.notifier import Notification, Notifier, Recipient
from enrollpay.ports.payers import PayerLookups, PayerRecords
from enrollpay.ports.reads import ItemQuery, ReportQueries, StoreReader
from enrollpay.ports.receipts import ReceiptLookups, ReceiptWrites
from enrollpay.ports.schedules import ScheduleRevisions
from enrollpay.ports.seats import SeatLookups, SeatRecords
from enrollpay.ports.store import (
    AuditDraft,
    EventOutbox,
    LockedEnrollment,
    Store,
    StoreTransaction,
)
from enrollpay.ports.sync import SyncCursor, SyncCursorWrites, SyncLookups

__all__ = [
    "LEDGER_KINDS",
    "LEDGER_PAGE_SIZE",
    "AuditDraft",
    "ChargeResult",
    "ChargeStatus",
    "Clock",
    "DiscountRecords",
    "DisputeRecords",
    "EventKind",
    "EventOutbox",
    "Gateway",
    "GatewayDispute",
    "GatewayEvent",
    "GatewayRefund",
    "InvoiceCharge",
    "InvoiceGateway",
    "InvoiceInfo",
    "InvoiceStatus",
    "ItemInvoiceGateway",
    "ItemQuery",
    "LedgerDispute",
    "LedgerGateway",
    "LedgerKind",
    "LedgerPayment",
    "LedgerRefund",
    "LivemodeAware",
    "LockedEnrollment",
    "Notification",
    "Notifier",
    "PayerLookups",
    "PayerRecords",
    "PaymentSession",
    "ReceiptLookups",
    "ReceiptWrites",
    "Recipient",
    "Redemption",
    "ReportQueries",
    "ScheduleRevisions",
    "SeatLookups",
    "SeatRecords",
    "SentNotificationLog",
    "SentNotificationLookup",
    "Store",
    "StoreReader",
    "StoreTransaction",
    "SubscriptionGateway",
    "SubscriptionInfo",
    "SyncCursor",
    "SyncCursorWrites",
    "SyncLookups",
]
