"""PaymentIntents: on-session payments, off-session charges, look-ups and cancels.

The verbs of :class:`~enrollpay.gateways.stripe.StripeGateway` that move
or query a payment, as functions over the SDK door
(:class:`~enrollpay.gateways.stripe.calls.StripeCalls`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import stripe
from stripe.params import PaymentIntentCreateParams

from enrollpay.domain.money import Money
from enrollpay.gateways.stripe.answers import (
    declined,
    intent_result,
    plain,
    session_status,
)
from enrollpay.gateways.stripe.calls import StripeCalls
from enrollpay.gateways.stripe.errors import translate
from enrollpay.gateways.stripe.params import (
    ATTEMPT_KEY_METADATA,
    attempt_key_of,
    metadata,
    search_literal,
)
from enrollpay.ports import ChargeResult, PaymentSession

__all__ = ["CancellationReason", "cancel_payment", "charge_off_session", "payment_status",
           "start_payment"]  # fmt: skip

CancellationReason = Literal["abandoned", "duplicate", "fraudulent", "requested_by_customer"]


def start_payment(
    calls: StripeCalls,
    *,
    customer_id: str,
    amount: Money,
    idempotency_key: str,
    metadata_: Mapping[str, str],
    description: str,
) -> PaymentSession:
    """Create a PaymentIntent that saves the method for off-session use."""
    params: PaymentIntentCreateParams = {
        "customer": customer_id,
        "amount": calls.amount(amount),
        "currency": amount.currency.lower(),
        "setup_future_usage": "off_session",
        "metadata": metadata(metadata_, idempotency_key),
        **calls.payment_methods(off_session=False),  # type: ignore[typeddict-item]
    }
    if description:
        params["description"] = description
    intent = calls.call(
        "start a payment",
        calls.client.v1.payment_intents.create,
        params=params,
        options=calls.options(idempotency_key),
    )

    def read() -> PaymentSession:
        data = plain(intent)
        return PaymentSession(str(data["id"]), str(data["client_secret"]),
                              session_status(str(data["status"])))  # fmt: skip

    return calls.read("start a payment", read)


def charge_off_session(
    calls: StripeCalls,
    *,
    customer_id: str,
    payment_method_id: str,
    amount: Money,
    idempotency_key: str,
    metadata_: Mapping[str, str],
    description: str,
) -> ChargeResult:
    """Confirm a PaymentIntent on a saved method with the customer away.

    A card decline is a ``failed`` result with Stripe's decline code;
    ``authentication_required`` is ``requires_action`` with the intent's
    client secret, for the customer to confirm on-session.
    """
    params: PaymentIntentCreateParams = {
        "customer": customer_id,
        "payment_method": payment_method_id,
        "amount": calls.amount(amount),
        "currency": amount.currency.lower(),
        "off_session": True,
        "confirm": True,
        "metadata": metadata(metadata_, idempotency_key),
        **calls.payment_methods(off_session=True),  # type: ignore[typeddict-item]
    }
    if description:
        params["description"] = description
    action = "charge a saved payment method"
    try:
        intent = calls.client.v1.payment_intents.create(
            params=params, options=calls.options(idempotency_key)
        )
    except stripe.CardError as exc:
        error = exc
        return calls.read(action, lambda: declined(error, amount))
    except stripe.StripeError as exc:
        raise translate(exc, action) from exc
    return calls.read(action, lambda: intent_result(plain(intent)))


def payment_status(
    calls: StripeCalls, *, gateway_payment_id: str | None, idempotency_key: str
) -> ChargeResult | None:
    """The PaymentIntent's state, by id or else by the key that created it.

    Without an id the intent is found with Stripe's search API on the
    ``enrollpay_attempt_key`` metadata. Search is eventually consistent
    (new intents appear within about a minute), so ``None`` can mean
    "created moments ago"; that is safe because the service then sends
    the attempt again with the *same* key, which Stripe answers with the
    original result for 24 hours.
    """
    action = "look up a payment"
    if gateway_payment_id:
        # The method expanded: its type sets how long a processing debit may take.
        intent = calls.call(
            action,
            calls.client.v1.payment_intents.retrieve,
            gateway_payment_id,
            params={"expand": ["payment_method"]},
            options=calls.options(),
        )
        return calls.read(action, lambda: intent_result(plain(intent)))
    query = f"metadata['{ATTEMPT_KEY_METADATA}']:'{search_literal(idempotency_key)}'"
    found = calls.call(
        action,
        calls.client.v1.payment_intents.search,
        params={"query": query, "limit": 10},
        options=calls.options(),
    )

    def read() -> ChargeResult | None:
        intents = [plain(i) for i in plain(found)["data"]]
        mine = [i for i in intents if attempt_key_of(i) == idempotency_key]
        if not mine:
            return None
        return intent_result(max(mine, key=lambda i: int(i.get("created") or 0)))

    return calls.read(action, read)


def cancel_payment(
    calls: StripeCalls,
    *,
    gateway_payment_id: str,
    idempotency_key: str,
    cancellation_reason: CancellationReason,
) -> ChargeResult:
    """Cancel a PaymentIntent that has not succeeded; return its state afterwards.

    Stripe refuses to cancel an intent that succeeded (or was cancelled)
    in the meantime (``payment_intent_unexpected_state``); the intent is
    then looked up, so the answer is ``succeeded`` or ``canceled`` as
    the protocol says. Other states Stripe cannot cancel (``processing``)
    come back as they are.
    """
    action = "cancel a payment"
    try:
        intent = calls.client.v1.payment_intents.cancel(
            gateway_payment_id,
            params={"cancellation_reason": cancellation_reason},
            options=calls.options(idempotency_key),
        )
    except stripe.InvalidRequestError as exc:
        if exc.code != "payment_intent_unexpected_state":
            raise translate(exc, action) from exc
        intent = calls.call(
            action,
            calls.client.v1.payment_intents.retrieve,
            gateway_payment_id,
            options=calls.options(),
        )
    except stripe.StripeError as exc:
        raise translate(exc, action) from exc
    return calls.read(action, lambda: intent_result(plain(intent)))
