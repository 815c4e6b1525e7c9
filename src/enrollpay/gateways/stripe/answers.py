"""Reading Stripe's answers (as plain dicts) into the port's values.

A PaymentIntent becomes a :class:`~enrollpay.ports.ChargeResult` (declines
are values), a card error too, a subscription a
:class:`~enrollpay.ports.SubscriptionInfo`. Amounts come back through
:mod:`enrollpay.gateways.stripe.amounts`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal

import attrs
import stripe

from enrollpay.domain.money import Money
from enrollpay.domain.retry import classify_decline
from enrollpay.errors import InvalidInputError, WebhookPayloadError
from enrollpay.gateways.cards import brand_in_intent, brand_of_method, method_type_in_intent
from enrollpay.gateways.stripe.amounts import from_stripe_amount
from enrollpay.ports import ChargeResult, SubscriptionInfo

__all__ = [
    "SessionStatus",
    "declined",
    "event_money",
    "id_of",
    "intent_result",
    "iterate",
    "plain",
    "response_money",
    "session_status",
    "subscription_info",
]

SessionStatus = Literal["requires_payment_method", "requires_action", "processing", "succeeded"]

_AUTHENTICATION_REQUIRED: Final = "authentication_required"


def plain(obj: Any) -> dict[str, Any]:
    """A Stripe object as plain dicts and lists."""
    if isinstance(obj, stripe.StripeObject):
        return obj.to_dict()
    if isinstance(obj, dict):
        return obj
    raise TypeError(f"expected a Stripe object, got {type(obj).__name__}")


def id_of(value: Any) -> str | None:
    """The id of an expanded object or of a bare id (``None`` stays ``None``)."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        inner = value.get("id")
        return None if inner is None else str(inner)
    return str(value)


def iterate(page: Any) -> Iterable[Any]:
    """Every object of a Stripe list, following its pages."""
    return page.auto_paging_iter()  # type: ignore[no-any-return]


def response_money(amount: Any, currency: Any) -> Money:
    """An amount in a Stripe answer as :class:`~enrollpay.Money`."""
    return from_stripe_amount(int(amount), str(currency))


def event_money(amount: int, currency: str) -> Money:
    """An amount in a webhook event; one we cannot read is a payload error."""
    try:
        return from_stripe_amount(amount, currency)
    except InvalidInputError as exc:
        raise WebhookPayloadError(
            f"event amount {amount} {currency!r} is unusable: {exc}"
        ) from None


def intent_result(intent: Mapping[str, Any]) -> ChargeResult:
    """Read a PaymentIntent (as a dict) into a :class:`ChargeResult`."""
    status = intent["status"]
    error = intent.get("last_payment_error")
    error = error if isinstance(error, Mapping) else None
    code = None if error is None else (error.get("decline_code") or error.get("code"))
    message = None if error is None else error.get("message")
    base = ChargeResult(
        "processing",
        gateway_payment_id=str(intent["id"]),
        amount=response_money(intent["amount"], intent["currency"]),
        payment_method_id=id_of(intent.get("payment_method")),
        customer_id=id_of(intent.get("customer")),
        payment_method_type=method_type_in_intent(intent),
        settles_later=status == "processing",
    )
    if status == "succeeded":
        return attrs.evolve(base, status="succeeded")
    failed = attrs.evolve(
        base,
        decline_code=code,
        decline_class=None if code is None else classify_decline(code),
        message=message,
        card_brand=brand_in_intent(intent),
    )
    if status == "requires_action" or (
        status == "requires_payment_method" and code == _AUTHENTICATION_REQUIRED
    ):
        # Off-session charges that need 3-D Secure fail with
        # authentication_required; the customer confirms the same intent
        # on-session with its client secret.
        return attrs.evolve(
            failed, status="requires_action", client_secret=intent.get("client_secret")
        )
    if status == "canceled":
        return attrs.evolve(failed, status="canceled")
    if status == "requires_payment_method" and error is not None:
        return attrs.evolve(failed, status="failed")
    # processing, requires_capture, or an on-session intent the customer has
    # not completed yet: the outcome comes later.
    return base


def session_status(status: str) -> SessionStatus:
    """A PaymentIntent status as a :class:`~enrollpay.ports.PaymentSession` status."""
    if status in ("requires_action", "processing", "succeeded"):
        return status  # type: ignore[return-value]
    return "requires_payment_method"


def declined(exc: stripe.CardError, amount: Money) -> ChargeResult:
    """A card error as a value: the intent Stripe attached, or what the error says."""
    error = exc.error
    code = (error.decline_code or error.code) if error is not None else exc.code
    message = error.message if error is not None else exc.user_message
    intent = error.payment_intent if error is not None else None
    method = error.payment_method if error is not None else None
    # The error names the card it declined (a PaymentMethod): its brand keys the retry caps.
    brand = brand_of_method(plain(method)) if method is not None else None
    if intent is not None:
        data = plain(intent)
        if not isinstance(data.get("last_payment_error"), Mapping):
            data["last_payment_error"] = {"code": code, "message": message}
        if data.get("status") not in ("requires_payment_method", "requires_action", "canceled"):
            data["status"] = "requires_payment_method"  # declined: never a success
        result = intent_result(data)
        return result if result.card_brand or not brand else attrs.evolve(result, card_brand=brand)
    status: Literal["failed", "requires_action"] = (
        "requires_action" if code == _AUTHENTICATION_REQUIRED else "failed"
    )
    return ChargeResult(status, None, amount, decline_code=code,
                        decline_class=None if code is None else classify_decline(code),
                        message=message, card_brand=brand)  # fmt: skip


def subscription_info(data: Mapping[str, Any]) -> SubscriptionInfo:
    """A Subscription (as a dict, its first invoice expanded) as :class:`SubscriptionInfo`."""
    secret = None
    invoice = data.get("latest_invoice")
    if isinstance(invoice, Mapping):
        confirmation = invoice.get("confirmation_secret")
        if isinstance(confirmation, Mapping):
            secret = confirmation.get("client_secret")
    setup = data.get("pending_setup_intent")
    if secret is None and isinstance(setup, Mapping):
        secret = setup.get("client_secret")
    return SubscriptionInfo(subscription_id=str(data["id"]), status=str(data["status"]),
                            customer_id=str(id_of(data.get("customer"))),
                            client_secret=secret)  # fmt: skip
