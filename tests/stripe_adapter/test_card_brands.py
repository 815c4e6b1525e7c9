"""The card brand in Stripe-shaped objects: where a PaymentIntent names its card."""

from __future__ import annotations

from typing import Any

import pytest

from enrollpay.gateways.cards import (
    brand_in_error,
    brand_in_intent,
    brand_of_method,
    method_type_in_intent,
)
from enrollpay.gateways.stripe.answers import intent_result


def method(brand: Any) -> dict[str, Any]:
    """A card PaymentMethod of ``brand``."""
    return {"id": "pm_1", "object": "payment_method", "type": "card", "card": {"brand": brand}}


def an_intent(**fields: Any) -> dict[str, Any]:
    """A declined PaymentIntent of 10.00 USD with ``fields``."""
    intent = {
        "id": "pi_1",
        "object": "payment_intent",
        "amount": 1000,
        "currency": "usd",
        "status": "requires_payment_method",
        "payment_method": "pm_1",
        "last_payment_error": {"code": "card_declined", "decline_code": "insufficient_funds"},
    }
    return {**intent, **fields}


@pytest.mark.parametrize(
    ("value", "brand"),
    [
        (method("visa"), "visa"),
        (method(" MasterCard "), "mastercard"),
        (method(""), None),
        (method(None), None),
        (method(4), None),
        ({"id": "pm_1", "object": "payment_method", "type": "sepa_debit"}, None),
        ("pm_1", None),
        (None, None),
    ],
)
def test_a_payment_methods_brand(value: Any, brand: str | None) -> None:
    """An expanded card gives its brand, stripped and lower case; ids and other types give none."""
    assert brand_of_method(value) == brand


def test_an_errors_card() -> None:
    """A payment error names its card in payment_method; no error, no brand."""
    assert brand_in_error({"code": "card_declined", "payment_method": method("visa")}) == "visa"
    assert brand_in_error({"code": "card_declined"}) is None
    assert brand_in_error(None) is None


def test_an_intent_names_its_card_in_the_error_the_method_or_the_charge() -> None:
    """The error's card first, then an expanded payment_method, then an expanded latest_charge."""
    error = {"code": "card_declined", "payment_method": method("visa")}
    charge = {"id": "ch_1", "payment_method_details": {"type": "card", "card": {"brand": "amex"}}}
    assert brand_in_intent(an_intent(last_payment_error=error, latest_charge=charge)) == "visa"
    assert brand_in_intent(an_intent(payment_method=method("mastercard"))) == "mastercard"
    assert brand_in_intent(an_intent(latest_charge=charge)) == "amex"
    assert brand_in_intent(an_intent(latest_charge="ch_1")) is None
    assert brand_in_intent(an_intent(latest_charge={"id": "ch_1"})) is None
    assert brand_in_intent(an_intent()) is None


def test_a_declined_intent_reports_the_brand() -> None:
    """intent_result puts the brand on a decline; a success reports none (Stripe sends ids)."""
    error = {"code": "card_declined", "decline_code": "insufficient_funds",
             "payment_method": method("visa")}  # fmt: skip
    declined = intent_result(an_intent(last_payment_error=error))
    assert (declined.status, declined.card_brand) == ("failed", "visa")
    paid = intent_result(an_intent(status="succeeded", last_payment_error=None))
    assert (paid.status, paid.card_brand) == ("succeeded", None)


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        ({"payment_method": {"id": "pm_1", "type": "sepa_debit"}}, "sepa_debit"),
        ({"latest_charge": {"payment_method_details": {"type": "ach"}}}, "ach"),
        ({"payment_method_types": ["bacs_debit"]}, "bacs_debit"),
        ({"payment_method_types": ["card", "sepa_debit"]}, None),
        ({"payment_method_types": [7]}, None),
        ({"payment_method": {"id": "pm_1", "type": None}, "latest_charge": "ch_1"}, None),
        ({}, None),
    ],
)
def test_the_method_type_an_intent_shows(fields: dict[str, Any], kind: str | None) -> None:
    """The expanded method's type, else the charge's, else the one allowed type; else none."""
    assert method_type_in_intent(an_intent(**fields)) == kind
    assert intent_result(an_intent(**fields)).payment_method_type == kind
