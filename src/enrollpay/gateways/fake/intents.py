"""The fake's payment intents: their states, how an outcome moves them, their Stripe shapes.

An :class:`Intent` is mutable state inside the fake (like a PaymentIntent
at Stripe). :func:`apply_outcome` moves it by a scripted
:class:`~enrollpay.gateways.fake.Outcome` and names the webhook event that
the move causes; :func:`intent_result` reads it as the port's
:class:`~enrollpay.ports.ChargeResult`; :func:`intent_object` and
:func:`charge_object` render it as Stripe's ``payment_intent`` and
``charge`` objects for webhook payloads.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import attrs

from enrollpay.domain.money import Money
from enrollpay.domain.retry import classify_decline
from enrollpay.errors import GatewayRequestError
from enrollpay.gateways.cards import brand_in_error
from enrollpay.gateways.fake.scripts import Outcome
from enrollpay.ports import ChargeResult, ChargeStatus, GatewayRefund, LedgerPayment

__all__ = [
    "Intent",
    "apply_outcome",
    "brand_of_test_card",
    "charge_object",
    "intent_object",
    "intent_result",
    "method_type_of",
]

#: Brands a test card's id may name, as Stripe's test cards do (``pm_card_visa``).
_TEST_BRANDS = ("visa", "mastercard", "amex", "discover", "diners", "jcb", "unionpay")


def brand_of_test_card(payment_method_id: str | None) -> str | None:
    """The brand of a test card named ``pm_card_<brand>`` or ``pm_card_<brand>_<anything>``.

    ``pm_card_visa`` and ``pm_card_visa_2`` are Visa cards (two of them),
    ``pm_card_mastercard_debit`` a Mastercard; other ids have no known brand.
    """
    rest = (payment_method_id or "").removeprefix("pm_card_")
    if rest == payment_method_id:
        return None
    for brand in _TEST_BRANDS:
        if rest == brand or rest.startswith(f"{brand}_"):
            return brand
    return None


#: Payment method types a test method's id may name (``pm_sepa_debit_1``); others are cards.
_DEBIT_TYPES = ("sepa_debit", "us_bank_account", "bacs_debit")


def method_type_of(payment_method_id: str | None) -> str | None:
    """The type of a fake payment method: a bank debit its id names, else ``card``.

    ``pm_sepa_debit``, ``pm_us_bank_account_2`` and ``pm_bacs_debit_x`` are
    debits (SEPA, ACH, Bacs); any other method is a card; no method, no type.
    """
    if payment_method_id is None:
        return None
    rest = payment_method_id.removeprefix("pm_")
    for kind in _DEBIT_TYPES:
        if rest == kind or rest.startswith(f"{kind}_"):
            return kind
    return "card"


def _method_object(payment_method_id: str | None) -> dict[str, Any] | None:
    """The declined card as Stripe names it in a payment error (a PaymentMethod)."""
    brand = brand_of_test_card(payment_method_id)
    if brand is None:
        return None
    return {"id": payment_method_id, "object": "payment_method", "type": "card",
            "card": {"brand": brand}}  # fmt: skip


@attrs.define
class Intent:
    """A payment intent inside the fake (mutable, like the gateway's own record)."""

    id: str
    amount: Money
    customer_id: str
    metadata: dict[str, str]
    client_secret: str
    idempotency_key: str | None
    status: str = "requires_payment_method"
    payment_method: str | None = None
    last_error: dict[str, Any] | None = None
    #: A processing debit: settles (as ``settles_as``) this many days after creation.
    settle_after_days: int | None = None
    settles_as: Outcome | None = None


def apply_outcome(intent: Intent, outcome: Outcome) -> str | None:
    """Move ``intent`` by ``outcome``; return the webhook event type it causes, if any.

    A succeeded or cancelled intent cannot be confirmed again
    (``GatewayRequestError``, as Stripe answers).
    """
    if intent.status == "canceled":
        raise GatewayRequestError(
            "This PaymentIntent was canceled and cannot be confirmed", param="payment_intent"
        )
    if intent.status == "succeeded":
        raise GatewayRequestError(
            "This PaymentIntent has already succeeded", param="payment_intent"
        )
    intent.settle_after_days, intent.settles_as = outcome.after_days, outcome.then
    if outcome.kind in ("succeed", "timeout_after"):
        intent.status = "succeeded"
        intent.last_error = None
        return "payment_intent.succeeded"
    if outcome.kind == "decline":
        code = outcome.decline_code or "generic_decline"
        intent.status = "requires_payment_method"
        intent.last_error = {
            "type": "card_error",
            "code": "card_declined" if code != "authentication_required" else code,
            "decline_code": code,
            "message": f"Your card was declined ({code}).",
        }
        method = _method_object(intent.payment_method)
        if method is not None:
            intent.last_error["payment_method"] = method
        return "payment_intent.payment_failed"
    if outcome.kind == "requires_action":
        intent.status = "requires_action"
        return "payment_intent.requires_action"
    if outcome.kind == "processing":
        intent.status = "processing"
        intent.last_error = None
        return "payment_intent.processing"
    raise AssertionError(
        outcome.kind
    )  # pragma: no cover - rate_limited/timeout_before never reach here


def intent_result(intent: Intent) -> ChargeResult:
    """The intent as the port's :class:`~enrollpay.ports.ChargeResult`."""
    code = None if intent.last_error is None else intent.last_error["decline_code"]
    status: ChargeStatus
    if intent.status in ("succeeded", "canceled", "requires_action"):
        status = intent.status  # type: ignore[assignment]
    elif intent.last_error is not None:
        status = "failed"
    else:
        status = "processing"
    return ChargeResult(
        status=status,
        gateway_payment_id=intent.id,
        amount=intent.amount,
        decline_code=code,
        decline_class=None if code is None else classify_decline(code),
        message=None if intent.last_error is None else intent.last_error["message"],
        payment_method_id=intent.payment_method,
        customer_id=intent.customer_id,
        client_secret=intent.client_secret,
        card_brand=brand_in_error(intent.last_error),
        payment_method_type=method_type_of(intent.payment_method),
        settles_later=intent.status == "processing",
    )


def intent_ledger(intent: Intent, created: datetime) -> LedgerPayment:
    """The intent, made at ``created``, as the fake's record lists it (a port ``LedgerPayment``)."""
    result = intent_result(intent)
    return LedgerPayment(
        gateway_payment_id=intent.id,
        status=result.status,
        amount=intent.amount,
        created=created,
        customer_id=intent.customer_id,
        payment_method_id=intent.payment_method,
        metadata=dict(intent.metadata),
    )


def intent_object(intent: Intent) -> dict[str, Any]:
    """The intent as Stripe's ``payment_intent`` object."""
    return {
        "id": intent.id,
        "object": "payment_intent",
        "amount": intent.amount.minor,
        "currency": intent.amount.currency.lower(),
        "customer": intent.customer_id,
        "payment_method": intent.payment_method,
        "payment_method_types": [method_type_of(intent.payment_method) or "card"],
        "status": intent.status,
        "metadata": dict(intent.metadata),
        "last_payment_error": intent.last_error,
    }


def charge_object(intent: Intent, refunds: Sequence[GatewayRefund]) -> dict[str, Any]:
    """The intent's charge as Stripe's ``charge`` object, with its full refund list."""
    return {
        "id": intent.id.replace("pi_", "ch_", 1),
        "object": "charge",
        "amount": intent.amount.minor,
        "amount_refunded": sum(r.amount.minor for r in refunds),
        "currency": intent.amount.currency.lower(),
        "customer": intent.customer_id,
        "payment_intent": intent.id,
        "metadata": dict(intent.metadata),
        "refunds": {
            "object": "list",
            "data": [
                {
                    "id": r.gateway_refund_id,
                    "object": "refund",
                    "amount": r.amount.minor,
                    "currency": r.amount.currency.lower(),
                    "payment_intent": intent.id,
                    "status": r.status,
                    "metadata": {} if r.reference is None else {"enrollpay_refund_id": r.reference},
                }
                for r in refunds
            ],
        },
    }
