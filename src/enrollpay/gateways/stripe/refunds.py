"""Refunds of PaymentIntents, tagged with the library's refund id."""

from __future__ import annotations

from typing import Final

from stripe.params import RefundCreateParams

from enrollpay.domain.money import Money

# The one reading of Stripe refund statuses lives with the event normaliser.
from enrollpay.gateways.events import refund_status
from enrollpay.gateways.stripe.answers import id_of, plain, response_money
from enrollpay.gateways.stripe.calls import StripeCalls
from enrollpay.gateways.stripe.params import (
    MAX_METADATA_VALUE,
    REFUND_REFERENCE_METADATA,
    meta_value,
)
from enrollpay.ports import GatewayRefund

__all__ = ["STRIPE_REFUND_REASONS", "refund"]

#: The refund reasons Stripe itself knows; any other reason goes to metadata.
STRIPE_REFUND_REASONS: Final = frozenset({"duplicate", "fraudulent", "requested_by_customer"})


def refund(
    calls: StripeCalls,
    *,
    gateway_payment_id: str,
    amount: Money,
    idempotency_key: str,
    reference: str,
    reason: str | None,
) -> GatewayRefund:
    """Refund ``amount`` of a PaymentIntent, tagged with our refund id.

    Stripe's ``reason`` is sent only when ``reason`` is one Stripe knows
    (``duplicate``, ``fraudulent``, ``requested_by_customer``); any
    other text goes to the refund's metadata.
    """
    meta = {REFUND_REFERENCE_METADATA: meta_value(reference)}
    params: RefundCreateParams = {
        "payment_intent": gateway_payment_id,
        "amount": calls.amount(amount),
        "metadata": meta,
    }
    if reason in STRIPE_REFUND_REASONS:
        params["reason"] = reason
    elif reason:
        meta["enrollpay_reason"] = meta_value(reason[:MAX_METADATA_VALUE])
    made = calls.call(
        "refund a payment",
        calls.client.v1.refunds.create,
        params=params,
        options=calls.options(idempotency_key),
    )

    def read() -> GatewayRefund:
        data = plain(made)
        return GatewayRefund(
            gateway_refund_id=str(data["id"]),
            gateway_payment_id=id_of(data.get("payment_intent")) or gateway_payment_id,
            amount=response_money(data["amount"], data["currency"]),
            status=refund_status(data.get("status")),
            reference=(data.get("metadata") or {}).get(REFUND_REFERENCE_METADATA),
        )

    return calls.read("refund a payment", read)
