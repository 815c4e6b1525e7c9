"""Normalise Stripe-shaped event JSON into :class:`~enrollpay.ports.GatewayEvent`.

Both the Stripe adapter and the fake gateway speak Stripe's event shapes,
so the fake exercises the same parsing the real adapter uses. This module
is plain dict work; it does not import the Stripe SDK.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from enrollpay.domain.money import Money
from enrollpay.domain.retry import DeclineClass, classify_decline
from enrollpay.domain.statuses import DisputeStatus
from enrollpay.domain.subscriptions import SubscriptionState
from enrollpay.errors import EnrollpayError, WebhookPayloadError
from enrollpay.gateways.cards import brand_in_error, method_type_in_intent
from enrollpay.ports import EventKind, GatewayDispute, GatewayEvent, GatewayRefund

__all__ = [
    "DISPUTE_EVENT_TYPES",
    "HANDLED_EVENT_TYPES",
    "MoneyReader",
    "event_body",
    "invoice_payment_intent",
    "normalise_event",
    "read_dispute",
    "refund_status",
]

MoneyReader = Callable[[int, str], Money]

#: The event types the seed subscribes to, plus the setup flow for card updates.
HANDLED_EVENT_TYPES: Mapping[str, EventKind] = {
    "payment_intent.succeeded": "payment_succeeded",
    "payment_intent.processing": "payment_processing",
    "payment_intent.payment_failed": "payment_failed",
    "payment_intent.requires_action": "payment_requires_action",
    "invoice.paid": "invoice_paid",
    "invoice.payment_failed": "invoice_payment_failed",
    "invoice.finalized": "invoice_finalized",
    "customer.subscription.created": "subscription_created",
    "customer.subscription.updated": "subscription_updated",
    "customer.subscription.deleted": "subscription_deleted",
    "charge.refunded": "refund_updated",
    "setup_intent.succeeded": "payment_method_attached",
    "charge.dispute.created": "dispute_updated",
    "charge.dispute.updated": "dispute_updated",
    "charge.dispute.closed": "dispute_updated",
    "charge.dispute.funds_withdrawn": "dispute_updated",
    "charge.dispute.funds_reinstated": "dispute_updated",
}
#: The dispute events: each carries the whole Dispute object as it stands.
DISPUTE_EVENT_TYPES = frozenset(t for t, k in HANDLED_EVENT_TYPES.items() if k == "dispute_updated")

_D = DisputeStatus
#: Stripe's dispute statuses as stages (``needs_response``/``under_review``: a
#: chargeback, ``funds_withdrawn`` once its balance transaction shows the
#: withdrawal). Others (``prevented``, new ones) are not guessed at: None.
_DISPUTE_STAGES: Mapping[str, DisputeStatus] = {
    "warning_needs_response": _D.INQUIRY,
    "warning_under_review": _D.INQUIRY,
    "warning_closed": _D.INQUIRY_CLOSED,
    "needs_response": _D.OPEN,
    "under_review": _D.OPEN,
    "won": _D.WON,
    "lost": _D.LOST,
}


def _str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Mapping):  # an expanded object: take its id
        inner = value.get("id")
        return None if inner is None else str(inner)
    return str(value)


def _metadata(obj: Mapping[str, Any]) -> dict[str, str]:
    raw = obj.get("metadata") or {}
    if not isinstance(raw, Mapping):
        raise WebhookPayloadError("event metadata is not an object")
    return {str(k): str(v) for k, v in raw.items()}


def _decline(obj: Mapping[str, Any]) -> tuple[str | None, DeclineClass | None, str | None]:
    error = obj.get("last_payment_error") or obj.get("last_finalization_error")
    if not isinstance(error, Mapping):
        return None, None, None
    code = _str(error.get("decline_code")) or _str(error.get("code"))
    return code, classify_decline(code), _str(error.get("message"))


def event_body(payload: bytes) -> dict[str, Any]:
    """The JSON object of a (verified) webhook body; anything else is a payload error."""
    try:
        data = json.loads(payload)
    except ValueError:
        raise WebhookPayloadError("webhook body is not JSON") from None
    if not isinstance(data, dict):
        raise WebhookPayloadError("webhook body is not a JSON object")
    return data


def normalise_event(data: Mapping[str, Any], *, to_money: MoneyReader) -> GatewayEvent:
    """Read a Stripe-shaped event dict; unknown types come back as ``ignored``."""
    try:
        return _normalise(data, to_money)
    except WebhookPayloadError:
        raise
    except (EnrollpayError, KeyError, TypeError, ValueError, AttributeError) as exc:
        # A signed event we cannot read (an unknown currency, a missing field)
        # is the sender's problem: a 400, not a 500 the gateway retries for days.
        raise WebhookPayloadError(f"malformed event: {type(exc).__name__}") from None


def _normalise(data: Mapping[str, Any], to_money: MoneyReader) -> GatewayEvent:
    if data.get("object") != "event":
        raise WebhookPayloadError("payload is not an event object")
    event_id = str(data["id"])
    event_type = str(data["type"])
    created = datetime.fromtimestamp(int(data["created"]), UTC)
    livemode = bool(data.get("livemode", False))
    kind = HANDLED_EVENT_TYPES.get(event_type, "ignored")
    obj = data["data"]["object"]
    if not isinstance(obj, Mapping):
        raise WebhookPayloadError("event data.object is not an object")
    base: dict[str, Any] = {
        "id": event_id,
        "type": event_type,
        "kind": kind,
        "created": created,
        "livemode": livemode,
    }
    if kind == "ignored":
        return GatewayEvent(**base)
    metadata = _metadata(obj)
    customer = _str(obj.get("customer"))
    if kind.startswith("payment_"):
        if kind == "payment_method_attached":
            return GatewayEvent(
                **base,
                customer_id=customer,
                payment_method_id=_str(obj.get("payment_method")),
                metadata=metadata,
            )
        code, decline_class, message = _decline(obj)
        return GatewayEvent(
            **base,
            gateway_payment_id=str(obj["id"]),
            amount=to_money(int(obj["amount"]), str(obj["currency"])),
            customer_id=customer,
            payment_method_id=_str(obj.get("payment_method")),
            decline_code=code if kind == "payment_failed" else None,
            decline_class=decline_class if kind == "payment_failed" else None,
            message=message if kind == "payment_failed" else None,
            metadata=metadata,
            card_brand=(
                brand_in_error(obj.get("last_payment_error")) if kind == "payment_failed" else None
            ),
            payment_method_type=method_type_in_intent(obj),
        )
    if kind.startswith("invoice_"):
        amount_key = "amount_paid" if kind == "invoice_paid" else "amount_due"
        code, decline_class, message = _decline(obj)
        return GatewayEvent(
            **base,
            gateway_payment_id=invoice_payment_intent(obj),
            invoice_id=str(obj["id"]),
            invoice_attempt=int(obj.get("attempt_count") or 0) or None,
            invoice_period_start=_line_period_start(obj),
            amount=to_money(int(obj[amount_key]), str(obj["currency"])),
            customer_id=customer,
            subscription_id=_invoice_subscription(obj),
            hosted_invoice_url=_str(obj.get("hosted_invoice_url")),
            decline_code=code,
            decline_class=decline_class,
            message=message,
            metadata=metadata,
        )
    if kind == "dispute_updated":
        dispute = read_dispute(obj, to_money, event_type=event_type)
        return GatewayEvent(
            **base,
            gateway_payment_id=dispute.gateway_payment_id,
            dispute=dispute,
            metadata=metadata,
        )
    if kind.startswith("subscription_"):
        return GatewayEvent(
            **base,
            subscription_id=str(obj["id"]),
            subscription_status=_str(obj.get("status")),
            customer_id=customer,
            metadata=metadata,
            subscription_state=_subscription_state(obj, event_type, created),
        )
    # charge.refunded
    payment_intent = _str(obj.get("payment_intent"))
    refunds = []
    listing = obj.get("refunds")
    for refund in (listing or {}).get("data", []) if isinstance(listing, Mapping) else []:
        refunds.append(
            GatewayRefund(
                gateway_refund_id=str(refund["id"]),
                gateway_payment_id=_str(refund.get("payment_intent")) or payment_intent or "",
                amount=to_money(int(refund["amount"]), str(refund["currency"])),
                status=refund_status(refund.get("status")),
                reference=_metadata(refund).get("enrollpay_refund_id"),
            )
        )
    return GatewayEvent(
        **base,
        gateway_payment_id=payment_intent,
        customer_id=customer,
        refunds=tuple(refunds),
        metadata=metadata,
    )


def refund_status(value: Any) -> Any:
    """Map a Stripe refund status to succeeded, pending or failed."""
    if value in ("succeeded", "pending", "failed"):
        return value
    if value in ("requires_action",):
        return "pending"
    return "failed" if value == "canceled" else "pending"


def invoice_payment_intent(obj: Mapping[str, Any]) -> str | None:
    """An invoice's PaymentIntent: ``payment_intent``, else its default (or last) listed payment."""
    direct = _str(obj.get("payment_intent"))
    if direct:
        return direct
    # Newer API versions list invoice payments instead of a payment_intent field.
    # After retries the default entry is the latest try; else the last one listed.
    payments = obj.get("payments")
    found = None
    if isinstance(payments, Mapping):
        for entry in payments.get("data", []):
            payment = entry.get("payment") if isinstance(entry, Mapping) else None
            if isinstance(payment, Mapping) and payment.get("payment_intent"):
                found = _str(payment["payment_intent"])
                if entry.get("is_default"):
                    return found
    return found


def _invoice_subscription(obj: Mapping[str, Any]) -> str | None:
    direct = _str(obj.get("subscription"))
    if direct:
        return direct
    parent = obj.get("parent")
    if isinstance(parent, Mapping):
        details = parent.get("subscription_details")
        if isinstance(details, Mapping):
            return _str(details.get("subscription"))
    return None


def _instant(value: Any) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(int(value), UTC)


def _subscription_state(
    obj: Mapping[str, Any], event_type: str, as_of: datetime
) -> SubscriptionState | None:
    """A Subscription object as a report dated by its event (None: it states no status).

    The current period is the subscription's own (API versions before
    2025-03-31) or, in newer ones, its first item's. A deleted
    subscription is ``canceled`` when the object leaves its status out.
    """
    status = obj.get("status") or (
        "canceled" if event_type == "customer.subscription.deleted" else None
    )
    if status is None:
        return None
    period: Mapping[str, Any] = obj
    if obj.get("current_period_start") is None:
        listing = obj.get("items")
        first = (listing.get("data") or [None])[0] if isinstance(listing, Mapping) else None
        period = first if isinstance(first, Mapping) else {}
    return SubscriptionState(
        status=str(status),
        as_of=as_of,
        current_period_start=_instant(period.get("current_period_start")),
        current_period_end=_instant(period.get("current_period_end")),
        cancel_at_period_end=bool(obj.get("cancel_at_period_end")),
        trial_end=_instant(obj.get("trial_end")),
    )


def _line_period_start(obj: Mapping[str, Any]) -> datetime | None:
    """The start of the period the invoice's first line bills (a subscription's period)."""
    lines = obj.get("lines")
    first = (lines.get("data") or [None])[0] if isinstance(lines, Mapping) else None
    period = first.get("period") if isinstance(first, Mapping) else None
    return _instant(period.get("start")) if isinstance(period, Mapping) else None


def read_dispute(
    obj: Mapping[str, Any], to_money: MoneyReader, *, event_type: str = ""
) -> GatewayDispute:
    """A Dispute object: its stage from its status and whether its funds were withdrawn.

    The funds count as withdrawn on a ``funds_withdrawn`` event, or when the
    dispute lists a balance transaction that took money (a negative
    amount): every dispute event carries the whole object, so any of them,
    in any order, tells the stage, and so does a dispute listed with no
    event at all (drift re-sync, ``event_type`` left empty).
    """
    gateway_status = str(obj["status"])
    listed = obj.get("balance_transactions") or []
    withdrawn = event_type == "charge.dispute.funds_withdrawn" or any(
        isinstance(txn, Mapping) and int(txn.get("amount") or 0) < 0 for txn in listed
    )
    stage = _DISPUTE_STAGES.get(gateway_status)
    if withdrawn and stage in (_D.INQUIRY, _D.OPEN):
        stage = _D.FUNDS_WITHDRAWN
    details = obj.get("evidence_details")
    due = details.get("due_by") if isinstance(details, Mapping) else None
    return GatewayDispute(
        dispute_id=str(obj["id"]),
        gateway_payment_id=_str(obj.get("payment_intent")),
        amount=to_money(int(obj["amount"]), str(obj["currency"])),
        status=stage,
        gateway_status=gateway_status,
        reason=_str(obj.get("reason")),
        evidence_due_by=datetime.fromtimestamp(int(due), UTC) if due else None,
    )
