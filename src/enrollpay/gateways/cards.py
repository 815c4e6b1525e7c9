"""The card brand in Stripe-shaped objects (plain dicts), for the retry caps.

A declined PaymentIntent carries the card in ``last_payment_error.payment_method``
(a PaymentMethod: ``card.brand``); an expanded ``payment_method`` or
``latest_charge`` (``payment_method_details.card.brand``) carries it too.
Both the Stripe adapter and the fake gateway's webhooks are read here, and
so is the payment method's type (``card``, ``sepa_debit``, ...), which sets
how long a ``processing`` payment may take to settle.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["brand_in_error", "brand_in_intent", "brand_of_method", "method_type_in_intent"]


def _brand(card: Any) -> str | None:
    if not isinstance(card, Mapping):
        return None
    brand = card.get("brand")
    if not isinstance(brand, str) or not brand.strip():
        return None
    return brand.strip().lower()


def brand_of_method(method: Any) -> str | None:
    """``card.brand`` of an expanded PaymentMethod (``None`` for an id or another type)."""
    return _brand(method.get("card")) if isinstance(method, Mapping) else None


def brand_in_error(error: Any) -> str | None:
    """The brand of the card a payment error (``last_payment_error``) names."""
    return brand_of_method(error.get("payment_method")) if isinstance(error, Mapping) else None


def brand_in_intent(intent: Mapping[str, Any]) -> str | None:
    """The card brand a PaymentIntent shows: its error's card, or its expanded method or charge."""
    charge = intent.get("latest_charge")
    details = charge.get("payment_method_details") if isinstance(charge, Mapping) else None
    return (
        brand_in_error(intent.get("last_payment_error"))
        or brand_of_method(intent.get("payment_method"))
        or (_brand(details.get("card")) if isinstance(details, Mapping) else None)
    )


def method_type_in_intent(intent: Mapping[str, Any]) -> str | None:
    """The payment method type a PaymentIntent used, if it shows it.

    An expanded ``payment_method`` (its ``type``), else an expanded
    ``latest_charge`` (``payment_method_details.type``), else the intent's
    ``payment_method_types`` when it allows one type only; ``None`` otherwise.
    """
    method = intent.get("payment_method")
    if isinstance(method, Mapping) and isinstance(method.get("type"), str):
        return str(method["type"])
    charge = intent.get("latest_charge")
    details = charge.get("payment_method_details") if isinstance(charge, Mapping) else None
    if isinstance(details, Mapping) and isinstance(details.get("type"), str):
        return str(details["type"])
    allowed = intent.get("payment_method_types")
    if isinstance(allowed, list) and len(allowed) == 1 and isinstance(allowed[0], str):
        return allowed[0]
    return None
