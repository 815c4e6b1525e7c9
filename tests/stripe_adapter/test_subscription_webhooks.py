"""StripeGateway.parse_webhook on subscription events and their invoices, in both API shapes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from enrollpay import Money
from enrollpay.domain.subscriptions import SubscriptionState
from enrollpay.gateways.stripe import StripeGateway
from enrollpay.testing import FrozenClock

from .test_webhooks import deliver, envelope

START, END, TRIAL = 1_800_000_000, 1_802_592_000, 1_800_604_800


def _at(stamp: int) -> datetime:
    return datetime.fromtimestamp(stamp, UTC)


def subscription(**changes: Any) -> dict[str, Any]:
    """A Subscription object of a current API version: its period on its item."""
    item = {"id": "si_1", "object": "subscription_item", "price": {"id": "price_1"},
            "current_period_start": START, "current_period_end": END}  # fmt: skip
    return {"id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "trialing",
            "cancel_at_period_end": True, "trial_end": TRIAL, "metadata": {"enrollment_id": "e"},
            "items": {"object": "list", "data": [item]}, **changes}  # fmt: skip


def test_a_subscription_report_reads_the_item_period(
    gateway: StripeGateway, clock: FrozenClock
) -> None:
    """Status, item period, cancel_at_period_end and trial end, as of the event's time."""
    stamp = int(clock.now().timestamp())
    event = deliver(gateway, clock, envelope("customer.subscription.updated", subscription(),
                                             created=stamp))  # fmt: skip
    assert (event.kind, event.subscription_id, event.customer_id) == (
        "subscription_updated",
        "sub_1",
        "cus_1",
    )
    assert event.subscription_state == SubscriptionState(
        status="trialing",
        as_of=clock.now().replace(microsecond=0),
        current_period_start=_at(START),
        current_period_end=_at(END),
        cancel_at_period_end=True,
        trial_end=_at(TRIAL),
    )


def test_an_older_api_version_keeps_the_period_on_the_subscription(
    gateway: StripeGateway, clock: FrozenClock
) -> None:
    """Before 2025-03-31 the period was the subscription's own; without one, none is read."""
    stamp = int(clock.now().timestamp())
    older = subscription(current_period_start=START - 5, current_period_end=END - 5,
                         items={"object": "list", "data": []}, trial_end=None,
                         cancel_at_period_end=False, status="past_due")  # fmt: skip
    state = deliver(gateway, clock, envelope("customer.subscription.updated", older,
                                             created=stamp)).subscription_state  # fmt: skip
    assert state is not None
    assert (state.status, state.current_period_start, state.current_period_end) == (
        "past_due",
        _at(START - 5),
        _at(END - 5),
    )
    assert (state.trial_end, state.cancel_at_period_end) == (None, False)
    bare = subscription(items=None, status="canceled")
    ended = deliver(gateway, clock, envelope("customer.subscription.deleted", bare,
                                             created=stamp)).subscription_state  # fmt: skip
    assert ended is not None
    assert (ended.status, ended.current_period_start, ended.ended) == ("canceled", None, True)


def invoice(**changes: Any) -> dict[str, Any]:
    """A subscription's invoice of a current API version, tried twice."""
    tries = [{"object": "invoice_payment", "is_default": False,
              "payment": {"type": "payment_intent", "payment_intent": "pi_1"}},
             {"object": "invoice_payment", "is_default": True,
              "payment": {"type": "payment_intent", "payment_intent": "pi_2"}},
             {"object": "invoice_payment", "is_default": False,
              "payment": {"type": "charge", "charge": "ch_9"}}]  # fmt: skip
    return {"id": "in_1", "object": "invoice", "customer": "cus_1", "currency": "usd",
            "amount_due": 2000, "amount_paid": 2000, "attempt_count": 2, "status": "paid",
            "metadata": {}, "parent": {"type": "subscription_details",
                                       "subscription_details": {"subscription": "sub_1"}},
            "lines": {"object": "list", "data": [{"period": {"start": START, "end": END}}]},
            "payments": {"object": "list", "data": tries}, **changes}  # fmt: skip


def test_a_paid_invoice_names_its_subscription_try_period_and_default_payment(
    gateway: StripeGateway, clock: FrozenClock
) -> None:
    """The default payment is the latest try's PaymentIntent, whatever its place in the list."""
    stamp = int(clock.now().timestamp())
    event = deliver(gateway, clock, envelope("invoice.paid", invoice(), created=stamp))
    assert (event.kind, event.invoice_id, event.subscription_id) == (
        "invoice_paid",
        "in_1",
        "sub_1",
    )
    assert (event.invoice_attempt, event.invoice_period_start) == (2, _at(START))
    assert (event.gateway_payment_id, event.amount) == ("pi_2", Money.of("20", "USD"))


def test_without_a_default_payment_the_last_listed_intent_is_taken(
    gateway: StripeGateway, clock: FrozenClock
) -> None:
    """No entry marked default: the last PaymentIntent listed; no lines: no period; no try count."""
    stamp = int(clock.now().timestamp())
    plain = invoice(lines={"object": "list", "data": []}, attempt_count=0, payments={
        "object": "list", "data": [
            {"payment": {"type": "payment_intent", "payment_intent": "pi_1"}},
            {"payment": {"type": "payment_intent", "payment_intent": "pi_3"}}]})  # fmt: skip
    event = deliver(gateway, clock, envelope("invoice.payment_failed", plain, created=stamp))
    assert (event.kind, event.gateway_payment_id) == ("invoice_payment_failed", "pi_3")
    assert (event.invoice_attempt, event.invoice_period_start) == (None, None)
