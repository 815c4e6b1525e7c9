"""Customers and their saved cards: creating a customer, opening a card update."""

from __future__ import annotations

from collections.abc import Mapping

from stripe.params import CustomerCreateParams, SetupIntentCreateParams

from enrollpay.gateways.stripe.answers import plain
from enrollpay.gateways.stripe.calls import StripeCalls
from enrollpay.gateways.stripe.params import USER_ID_METADATA, meta_value
from enrollpay.gateways.stripe.params import metadata as checked_metadata

__all__ = ["ensure_customer", "start_payment_method_update"]


def ensure_customer(calls: StripeCalls, user_id: str, *, idempotency_key: str) -> str:
    """Create the Stripe customer for ``user_id`` (once per key); return its id."""
    params: CustomerCreateParams = {"metadata": {USER_ID_METADATA: meta_value(user_id)}}
    customer = calls.call(
        "create a customer",
        calls.client.v1.customers.create,
        params=params,
        options=calls.options(idempotency_key),
    )
    return calls.read("create a customer", lambda: str(plain(customer)["id"]))


def start_payment_method_update(
    calls: StripeCalls,
    *,
    customer_id: str,
    idempotency_key: str,
    metadata: Mapping[str, str] | None = None,
) -> str:
    """Create a SetupIntent that saves a card for off-session charges; return its client secret.

    ``usage="off_session"`` asks the bank for the mandate later charges
    without the customer rely on; ``metadata`` (a trial's enrollment id)
    comes back in ``setup_intent.succeeded``.
    """
    params: SetupIntentCreateParams = {
        "customer": customer_id,
        "usage": "off_session",
        **calls.payment_methods(off_session=False),  # type: ignore[typeddict-item]
    }
    if metadata:
        params["metadata"] = checked_metadata(metadata, None)
    setup = calls.call(
        "start a card update",
        calls.client.v1.setup_intents.create,
        params=params,
        options=calls.options(idempotency_key),
    )
    return calls.read("start a card update", lambda: str(plain(setup)["client_secret"]))
