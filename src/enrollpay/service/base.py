"""Settings, hooks and input checks of the service layer.

The shared context of one system (ports, settings, helpers) is
:class:`~enrollpay.service.context.Context`.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Literal

import attrs

from enrollpay.domain.debits import DEBIT_ACCESS_POLICIES, DebitAccess, SettlementWindows
from enrollpay.domain.discount_spread import SPREAD_POLICIES, SpreadPolicy
from enrollpay.domain.disputes import DisputePolicy
from enrollpay.domain.dunning import FINAL_FAILURE_POLICIES, FinalFailure
from enrollpay.domain.money import Money
from enrollpay.domain.receipts import ReceiptSettings
from enrollpay.domain.refunds import RefundPolicy
from enrollpay.domain.retry import RetryPolicy
from enrollpay.domain.seats import check_offer_ttl
from enrollpay.domain.statuses import AccessPolicy
from enrollpay.errors import CurrencyMismatchError, InvalidInputError, MoneyTypeError
from enrollpay.service.taxes import TaxSettings

__all__ = [
    "FAULT_POINTS",
    "Authorizer",
    "FaultHook",
    "IdFactory",
    "InstallmentCollection",
    "SystemConfig",
    "uuid_ids",
]

IdFactory = Callable[[str], str]
#: ``authorize(actor, action, target) -> bool``; False refuses the operation.
Authorizer = Callable[[str, str, str], bool]
#: Called at each named fault-injection point; tests raise from it to simulate a crash.
FaultHook = Callable[[str], None]
#: How collection collects a scheduled item (see ``SystemConfig.installment_collection``).
InstallmentCollection = Literal["charge", "invoice"]

#: The named points where a crash is simulated in tests (see docs/reliability.md).
FAULT_POINTS = (
    "after_attempt_written",
    "after_gateway_answered",
    "before_commit",
    "after_commit",
    "webhook_before_commit",
    "webhook_after_commit",
    "after_refund_written",
    "after_refund_answered",
    "drift_before_cursor",
)

MAX_TEXT = 500
MAX_ID = 200
_CONTROL_IN_ID = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def uuid_ids(prefix: str, *, time_ns: Callable[[], int] = time.time_ns) -> str:
    """Ids such as ``enr_0190c4e2a1b3...`` (the default id factory).

    32 hex digits, a UUID's size, laid out like a UUIDv7: the first 12 are
    the system time in milliseconds, the other 20 are 80 random bits from
    ``os.urandom``. Ids made later sort after earlier ones, so a database
    adds each new key next to the last one in its indexes instead of at a
    random place: the pages it touches stay in its cache, which matters
    for tables that only grow (the outbox, payments, attempts).
    The time in an id is never read back and decides nothing; business
    time is always the injected clock's. 80 random bits per millisecond
    keep two processes from ever making the same id.
    """
    return f"{prefix}_{time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"


@attrs.frozen
class SystemConfig:
    """Settings of a :class:`~enrollpay.PaymentSystem`; every one has a sensible default."""

    retry_policy: RetryPolicy = attrs.Factory(RetryPolicy)
    refund_policy: RefundPolicy = attrs.Factory(RefundPolicy)
    #: Business time zone: due dates are compared with the clock's date here.
    timezone: str = "UTC"
    #: Whether students keep access while a failed payment is being retried.
    past_due_access: bool = True
    #: Days after its due date before an unpaid item is overdue (see AccessPolicy).
    grace_days: int = 3
    #: Days an item may be overdue before its enrollment's access is suspended.
    suspend_after_days: int = 14
    #: Days before its due date that the sweep reminds the payer of a scheduled
    #: item of an active enrollment (``installment.upcoming``, once per due
    #: date); 0 sends no reminders.
    remind_days_before: int = attrs.field(default=3)

    @remind_days_before.validator
    def _check_remind_days(self, _attribute: attrs.Attribute[int], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidInputError(
                f"remind_days_before must be a whole number of days >= 0, got {value!r}"
            )

    #: When an item's last retry fails: ``"suspend"`` (the enrollment stays
    #: suspended, nothing is charged automatically until the payer acts) or
    #: ``"cancel"`` (the enrollment is cancelled).
    after_final_failure: FinalFailure = attrs.field(default="suspend")

    @after_final_failure.validator
    def _check_final_failure(self, _attribute: attrs.Attribute[str], value: str) -> None:
        if value not in FINAL_FAILURE_POLICIES:
            raise InvalidInputError(
                f"after_final_failure must be one of {list(FINAL_FAILURE_POLICIES)}, got {value!r}"
            )

    #: Business days a payment may stay ``processing`` per payment method type
    #: (SEPA 14, ACH 4, Bacs 7, cards 0): ``reconcile`` lists a debit still
    #: processing after its window for a person.
    settlement_windows: SettlementWindows = attrs.Factory(SettlementWindows)
    #: While a bank debit is processing: ``"keep"`` (the student keeps the
    #: access they have) or ``"suspend"`` (access waits until it clears).
    debit_access: DebitAccess = attrs.field(default="keep")

    @debit_access.validator
    def _check_debit_access(self, _attribute: attrs.Attribute[str], value: str) -> None:
        if value not in DEBIT_ACCESS_POLICIES:
            raise InvalidInputError(
                f"debit_access must be one of {list(DEBIT_ACCESS_POLICIES)}, got {value!r}"
            )

    #: How long a collection worker holds an item before another may take it.
    lease: timedelta = timedelta(minutes=10)
    #: How long an on-session payment waits for the customer before collection
    #: cancels it at the gateway and charges the saved card instead. Below
    #: Stripe's 24-hour idempotency window, so reopening the checkout within
    #: it always finds the same payment.
    checkout_window: timedelta = timedelta(hours=23)
    #: How long a seat offered to the next student on a waitlist stays open.
    seat_offer_ttl: timedelta = attrs.field(default=timedelta(hours=48))

    @seat_offer_ttl.validator
    def _check_offer_ttl(self, _attribute: attrs.Attribute[timedelta], value: object) -> None:
        check_offer_ttl(value)

    #: Items claimed per batch by ``collect_due``.
    batch_size: int = 100
    #: Items ``collect_due`` charges at once, each in its own thread.
    collect_concurrency: int = 1
    #: Gateway requests per second ``collect_due`` may make (None: no limit).
    gateway_rate_limit: float | None = None
    #: Periods of an open-ended subscription kept scheduled ahead.
    subscription_horizon: int = 12
    #: How a discount spreads over a plan's payments: ``"pro_rata"`` or
    #: ``"reprice"`` (see :mod:`enrollpay.domain.discount_spread`).
    discount_spread: SpreadPolicy = attrs.field(default="pro_rata")

    @discount_spread.validator
    def _check_spread(self, _attribute: attrs.Attribute[str], value: str) -> None:
        if value not in SPREAD_POLICIES:
            raise InvalidInputError(
                f"discount_spread must be one of {list(SPREAD_POLICIES)}, got {value!r}"
            )

    #: Drift re-sync (``reconcile``): each walk of the gateway's record starts
    #: this long before where the last one ended, so objects the gateway lists
    #: a little late are still read (reading one twice changes nothing).
    drift_overlap: timedelta = attrs.field(default=timedelta(hours=1))
    #: Drift re-sync: how far back the first walk reaches, before any cursor exists.
    drift_lookback: timedelta = attrs.field(default=timedelta(days=30))

    @drift_overlap.validator
    @drift_lookback.validator
    def _check_drift_window(self, attribute: attrs.Attribute[timedelta], value: object) -> None:
        if not isinstance(value, timedelta) or value < timedelta(0):
            raise InvalidInputError(f"{attribute.name} must be a timedelta >= 0, got {value!r}")

    #: How ``collect_due`` collects a scheduled item: ``"charge"`` (a payment on the
    #: saved method) or ``"invoice"`` (a gateway invoice per item, charged to the
    #: saved method, with a page the student can open; needs an
    #: :class:`~enrollpay.ports.ItemInvoiceGateway`).
    installment_collection: InstallmentCollection = attrs.field(default="charge")

    @installment_collection.validator
    def _check_collection(self, _attribute: attrs.Attribute[str], value: str) -> None:
        if value not in ("charge", "invoice"):
            raise InvalidInputError(
                f"installment_collection must be 'charge' or 'invoice', got {value!r}"
            )

    #: When a dispute (chargeback) withholds access; winning it gives access back.
    dispute_policy: DisputePolicy = attrs.Factory(DisputePolicy)
    #: Who issues the receipts of payments and refunds, and how their numbers read.
    receipts: ReceiptSettings = attrs.Factory(ReceiptSettings)
    #: How enrollments are taxed (None: they are not; see :mod:`enrollpay.service.taxes`).
    taxes: TaxSettings | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(TaxSettings))
    )

    def __attrs_post_init__(self) -> None:
        self.access_policy  # noqa: B018 - refuses bad grace or suspension days now

    @property
    def access_policy(self) -> AccessPolicy:
        """When unpaid items are overdue and when that suspends access."""
        return AccessPolicy(
            grace_days=self.grace_days,
            suspend_after_days=self.suspend_after_days,
            past_due_access=self.past_due_access,
        )


def check_text(value: object, name: str, *, limit: int = MAX_ID, required: bool = True) -> str:
    """A non-empty string of at most ``limit`` characters.

    NUL and other control characters are refused (databases reject NUL, and
    they forge log lines); free text (``limit`` above :data:`MAX_ID`) may
    hold tabs and line breaks, identifiers may not.
    """
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise InvalidInputError(f"{name} must be a string, got {type(value).__name__}")
    if required and not value.strip():
        raise InvalidInputError(f"{name} must not be empty")
    if len(value) > limit:
        raise InvalidInputError(f"{name} is longer than {limit} characters")
    if (_CONTROL_IN_ID if limit <= MAX_ID else _CONTROL_IN_TEXT).search(value):
        raise InvalidInputError(f"{name} contains control characters")
    return value


def check_date(value: object, name: str) -> date:
    """A calendar date; a ``datetime`` (an instant, not a day) is refused too."""
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InvalidInputError(f"{name} must be a date, got {type(value).__name__}")
    return value


def check_money(value: object, name: str, *, currency: str | None = None) -> Money:
    """A positive :class:`Money` (floats and other types refused), in ``currency``."""
    if not isinstance(value, Money):
        if isinstance(value, (float, int, str)):
            raise MoneyTypeError(
                f"{name} must be Money (use Money.of(amount, currency)), got {value!r}"
            )
        raise MoneyTypeError(f"{name} must be Money, got {type(value).__name__}")
    if currency is not None and value.currency != currency:
        raise CurrencyMismatchError(currency, value.currency)
    if value.minor <= 0:
        raise InvalidInputError(f"{name} must be positive, got {value}")
    return value
