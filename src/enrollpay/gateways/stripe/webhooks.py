"""Stripe webhooks: strict verification, the mode check, complete refund lists, disputed intents."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from enrollpay.errors import WebhookPayloadError, WebhookSignatureError
from enrollpay.gateways.events import DISPUTE_EVENT_TYPES, event_body, normalise_event
from enrollpay.gateways.signing import header_value, verify_signature
from enrollpay.gateways.stripe.answers import event_money, id_of, iterate, plain
from enrollpay.gateways.stripe.calls import StripeCalls
from enrollpay.ports import GatewayEvent

__all__ = ["SIGNATURE_HEADER", "parse_webhook"]

SIGNATURE_HEADER: Final = "Stripe-Signature"


def parse_webhook(
    calls: StripeCalls,
    payload: bytes,
    headers: Mapping[str, str],
    *,
    now: datetime,
    secrets: Sequence[str],
    tolerance: float,
    livemode: bool,
) -> GatewayEvent:
    """Verify (strictly), check the mode, and normalise a Stripe event.

    Refused with :class:`~enrollpay.errors.WebhookSignatureError`: a body
    over 1 MiB, a missing or malformed ``Stripe-Signature``, a timestamp
    more than ``tolerance`` seconds old or ahead, no matching secret, an
    event from the other mode. ``charge.refunded`` events whose charge
    does not carry its full refund list (API versions since 2022-11-15
    leave it out) get the list from Stripe, so every refund is reported.
    A dispute that names its charge but not its PaymentIntent (a charge
    made without one, or an older API version) gets the charge's intent
    from Stripe, since payments are recorded by their intent.
    """
    verify_signature(payload, header_value(headers, SIGNATURE_HEADER), secrets,
                     now=now, tolerance=tolerance)  # fmt: skip
    data = event_body(payload)
    event_livemode = data.get("livemode")
    if not isinstance(event_livemode, bool):
        raise WebhookPayloadError("event has no livemode flag")
    if event_livemode != livemode:
        raise WebhookSignatureError("event livemode does not match the gateway's mode")
    if data.get("type") == "charge.refunded":
        data = _with_all_refunds(calls, data)
    elif data.get("type") in DISPUTE_EVENT_TYPES:
        data = _with_payment_intent(calls, data)
    return normalise_event(data, to_money=event_money)


def _with_payment_intent(calls: StripeCalls, data: dict[str, Any]) -> dict[str, Any]:
    envelope = data.get("data")
    dispute = envelope.get("object") if isinstance(envelope, Mapping) else None
    if not isinstance(dispute, Mapping):
        raise WebhookPayloadError("dispute event has no dispute object")
    charge_id = id_of(dispute.get("charge"))
    if dispute.get("payment_intent") or not charge_id:
        return data

    def fetch() -> dict[str, Any]:
        return plain(calls.client.v1.charges.retrieve(charge_id, options=calls.options()))

    charge = calls.call("retrieve a disputed charge", fetch)
    full = {**dispute, "payment_intent": id_of(charge.get("payment_intent"))}
    return {**data, "data": {**envelope, "object": full}}  # type: ignore[dict-item]


def _with_all_refunds(calls: StripeCalls, data: dict[str, Any]) -> dict[str, Any]:
    envelope = data.get("data")
    charge = envelope.get("object") if isinstance(envelope, Mapping) else None
    if not isinstance(charge, Mapping) or not isinstance(charge.get("id"), str):
        raise WebhookPayloadError("charge.refunded event has no charge object")
    listing = charge.get("refunds")
    if (
        isinstance(listing, Mapping)
        and isinstance(listing.get("data"), list)
        and not listing.get("has_more")
    ):
        return data
    charge_id = charge["id"]

    def fetch() -> list[dict[str, Any]]:
        page = calls.client.v1.refunds.list(params={"charge": charge_id, "limit": 100},
                                            options=calls.options())  # fmt: skip
        return [plain(refund) for refund in iterate(page)]

    refunds = calls.call("list a charge's refunds", fetch)
    full = {**charge, "refunds": {"object": "list", "data": refunds, "has_more": False}}
    return {**data, "data": {**envelope, "object": full}}  # type: ignore[dict-item]
