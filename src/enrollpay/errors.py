"""The exception hierarchy of enrollpay.

Every error the library raises derives from :class:`EnrollpayError`. Each
subclass also inherits the builtin exception a caller would naturally catch
(``ValueError`` for bad input, ``LookupError`` for unknown ids, ``TypeError``
for wrong types), so ``except ValueError`` keeps working in host code that
knows nothing about enrollpay. Errors carry their data as attributes; their
messages name the offending value but never a secret.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AmountPrecisionError",
    "AuditChainError",
    "ConcurrencyError",
    "CurrencyMismatchError",
    "DuplicateEnrollmentError",
    "DuplicateError",
    "EnrollmentNotFoundError",
    "EnrollpayError",
    "GatewayError",
    "GatewayNotConfiguredError",
    "GatewayRequestError",
    "GatewayUnavailableError",
    "IllegalTransition",
    "IllegalTransitionError",
    "InvalidAmountError",
    "InvalidInputError",
    "InvalidStateError",
    "InvalidTransitionError",
    "ItemNotPayableError",
    "MoneyTypeError",
    "NaiveDatetimeError",
    "NotFoundError",
    "NotificationConfigError",
    "NotificationDeliveryError",
    "NotificationError",
    "NotificationTemplateError",
    "OverpaymentError",
    "PaymentDisputedError",
    "PaymentNotFoundError",
    "PermissionDeniedError",
    "PlanError",
    "PlanNotOffered",
    "PlanNotOfferedError",
    "ProductInactiveError",
    "ProductNotFoundError",
    "RefundExceedsPaidError",
    "ScheduleItemNotFoundError",
    "SchemaNotReadyError",
    "StorageError",
    "UnknownCurrencyError",
    "WebhookPayloadError",
    "WebhookSignatureError",
]


class EnrollpayError(Exception):
    """Root of every exception raised by enrollpay."""


# --- bad input -------------------------------------------------------------


class InvalidInputError(EnrollpayError, ValueError):
    """An argument has a value the library refuses (the message names it)."""


class MoneyTypeError(EnrollpayError, TypeError):
    """A float (or another non-exact type) was used where money is expected."""


class InvalidAmountError(InvalidInputError):
    """An amount is not a number, not finite, or not allowed here."""


class AmountPrecisionError(InvalidAmountError):
    """An amount has more decimal places than its currency allows."""

    def __init__(self, amount: object, currency: str, exponent: int) -> None:
        super().__init__(
            f"{amount!s} {currency} has more than {exponent} decimal place(s), "
            f"the precision of {currency}; refusing to round silently"
        )
        self.amount = amount
        self.currency = currency
        self.exponent = exponent


class UnknownCurrencyError(InvalidInputError):
    """The currency code is not one babel (CLDR) knows."""

    def __init__(self, currency: object) -> None:
        super().__init__(f"unknown currency code {currency!r}")
        self.currency = currency


class CurrencyMismatchError(InvalidInputError):
    """Two amounts in different currencies were combined or compared."""

    def __init__(self, left: str, right: str) -> None:
        super().__init__(f"cannot combine {left} with {right}")
        self.left = left
        self.right = right


class NaiveDatetimeError(InvalidInputError):
    """A datetime without a time zone was passed where an instant is needed."""


class PlanError(InvalidInputError):
    """A payment plan cannot produce a valid schedule for this price."""


class PlanNotOffered(PlanError):  # noqa: N818 - public name fixed by the design
    """The caller asked for a plan the product neither offers nor a rule yields."""


PlanNotOfferedError = PlanNotOffered


class RefundExceedsPaidError(InvalidInputError):
    """A refund would return more than was paid and not yet refunded."""

    def __init__(self, requested: object, refundable: object) -> None:
        super().__init__(f"refund of {requested} exceeds the refundable {refundable}")
        self.requested = requested
        self.refundable = refundable


class OverpaymentError(InvalidInputError):
    """A manual payment is larger than what is outstanding on the item."""

    def __init__(self, amount: object, outstanding: object) -> None:
        super().__init__(f"payment of {amount} exceeds the outstanding {outstanding}")
        self.amount = amount
        self.outstanding = outstanding


class WebhookSignatureError(InvalidInputError):
    """A webhook's signature, timestamp or envelope failed verification."""


class WebhookPayloadError(InvalidInputError):
    """A webhook body is not a well-formed event."""


# --- state -----------------------------------------------------------------


class InvalidStateError(EnrollpayError, ValueError):
    """The operation is not allowed in the entity's current state."""


class InvalidTransitionError(InvalidStateError):
    """A status change that the lifecycle tables forbid."""

    def __init__(self, entity: str, current: str, target: str) -> None:
        super().__init__(f"{entity} cannot go from {current!r} to {target!r}")
        self.entity = entity
        self.current = current
        self.target = target


class IllegalTransitionError(InvalidTransitionError):
    """A named transition of the state machine tried from a state it does not start from.

    ``record`` names the kind of record (and ``record_id`` which one, when
    known), ``state`` the state it is in, ``transition`` the move refused.
    """

    def __init__(
        self,
        record: str,
        *,
        state: str,
        transition: str,
        target: str = "",
        record_id: str | None = None,
    ) -> None:
        super().__init__(record, state, target or transition)
        named = f"{record} {record_id!r}" if record_id else record
        self.args = (f"{named} is {state} and cannot {transition}",)
        self.record = record
        self.record_id = record_id
        self.state = state
        self.transition = transition


#: The name the state-machine issue uses; the class follows the library's naming.
IllegalTransition = IllegalTransitionError


class ItemNotPayableError(InvalidStateError):
    """The schedule item is paid, cancelled, waived or has a payment in flight."""

    def __init__(self, item_id: str, status: str) -> None:
        super().__init__(f"schedule item {item_id!r} is {status} and cannot take a payment")
        self.item_id = item_id
        self.status = status


class PaymentDisputedError(InvalidStateError):
    """A payment under a chargeback cannot be refunded as well.

    The cardholder gets the money back through the dispute; the gateway
    refuses to refund a disputed charge. ``status`` is the dispute's.
    """

    def __init__(self, payment_id: str, dispute_id: str, status: str) -> None:
        super().__init__(f"payment {payment_id!r} is disputed ({dispute_id!r} is {status})")
        self.payment_id = payment_id
        self.dispute_id = dispute_id
        self.status = status


class ProductInactiveError(InvalidStateError):
    """The product exists but is deactivated."""

    def __init__(self, product_id: str) -> None:
        super().__init__(f"product {product_id!r} is inactive")
        self.product_id = product_id


# --- lookups ---------------------------------------------------------------


class NotFoundError(EnrollpayError, LookupError):
    """An id names nothing the store holds."""

    kind = "entity"

    def __init__(self, ident: object) -> None:
        super().__init__(f"{self.kind} {ident!r} not found")
        self.ident = ident


class ProductNotFoundError(NotFoundError):
    """No product with this id."""

    kind = "product"


class EnrollmentNotFoundError(NotFoundError):
    """No enrollment with this id."""

    kind = "enrollment"


class ScheduleItemNotFoundError(NotFoundError):
    """No schedule item with this id."""

    kind = "schedule item"


class PaymentNotFoundError(NotFoundError):
    """No payment with this id."""

    kind = "payment"


# --- storage invariants ----------------------------------------------------


class StorageError(EnrollpayError):
    """The store failed in a way that is not the caller's input."""


class DuplicateError(StorageError, ValueError):
    """A uniqueness invariant of the store would be broken."""

    def __init__(self, what: str, key: object) -> None:
        super().__init__(f"duplicate {what}: {key!r}")
        self.what = what
        self.key = key


class DuplicateEnrollmentError(DuplicateError):
    """The user already has a non-cancelled enrollment in this product."""

    def __init__(self, user_id: str, product_id: str, existing_id: str | None) -> None:
        StorageError.__init__(
            self,
            f"user {user_id!r} already has enrollment {existing_id!r} in product {product_id!r}",
        )
        self.what = "enrollment"
        self.key = (user_id, product_id)
        self.user_id = user_id
        self.product_id = product_id
        self.existing_id = existing_id


class ConcurrencyError(StorageError):
    """A transaction kept losing to concurrent writers and was given up."""


class AuditChainError(StorageError):
    """The audit chain could not be extended (a concurrent writer won)."""


class SchemaNotReadyError(StorageError, RuntimeError):
    """The database's enrollpay tables are missing or older than this version of enrollpay.

    Raised when a SQL store is opened, before anything runs against the
    wrong schema. ``current`` is the revision the database holds (None: no
    enrollpay tables), ``expected`` the latest migration shipped with the
    package, and ``command`` what brings the schema up to date.
    """

    def __init__(self, *, url: str, current: str | None, expected: str) -> None:
        self.url = url
        self.current = current
        self.expected = expected
        self.command = f"enrollpay db upgrade --url {url}"
        state = "has no enrollpay tables" if current is None else f"is at revision {current}"
        super().__init__(
            f"the database {url} {state}; this version of enrollpay needs revision "
            f"{expected}. Run: {self.command}"
        )


# --- authorisation ---------------------------------------------------------


class PermissionDeniedError(EnrollpayError, PermissionError):
    """The authorisation policy refused an admin operation."""

    def __init__(self, actor: str, action: str, target: str) -> None:
        super().__init__(f"{actor!r} may not {action} {target!r}")
        self.actor = actor
        self.action = action
        self.target = target


# --- gateway ---------------------------------------------------------------


class GatewayError(EnrollpayError):
    """Base of errors raised by payment gateways."""


class GatewayUnavailableError(GatewayError, ConnectionError):
    """The gateway did not answer; the outcome of the call is unknown."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class GatewayRequestError(GatewayError, ValueError):
    """The gateway refused the request as invalid (a programming or config error)."""

    def __init__(self, message: str, *, param: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.param = param
        self.extra = extra


class GatewayNotConfiguredError(GatewayError, InvalidStateError):
    """The operation needs a gateway but the system runs without one."""


# --- notifications ---------------------------------------------------------


class NotificationError(EnrollpayError):
    """Base of errors raised while preparing or delivering a notification."""


class NotificationConfigError(NotificationError, ValueError):
    """The notifications are wired wrongly (the message says what to pass)."""


class NotificationTemplateError(NotificationConfigError):
    """A notification template is malformed or uses a value its kind does not have."""


class NotificationDeliveryError(NotificationError, ConnectionError):
    """A notifier could not deliver a notification.

    ``permanent``: the mail system refused it for good (an unknown mailbox,
    a refused message) and sending it again would fail again; otherwise
    it may go through later (a server down, a timeout, a full mailbox).
    """

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
