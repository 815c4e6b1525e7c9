"""StripeGateway.parse_webhook: strict verification and normalisation of the seed's events."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from enrollpay import Money
from enrollpay.domain.retry import DeclineClass
from enrollpay.errors import GatewayUnavailableError, WebhookPayloadError, WebhookSignatureError
from enrollpay.gateways.events import normalise_event
from enrollpay.gateways.signing import MAX_BODY_BYTES
from enrollpay.gateways.stripe import StripeGateway
from enrollpay.ports import GatewayEvent
from enrollpay.testing import FrozenClock
from tests.support.stripe_server import WEBHOOK_SECRET, StripeServer, sign


def envelope(
    event_type: str, obj: dict[str, Any], *, created: int, livemode: bool = False
) -> bytes:
    """An event body as Stripe sends it."""
    body = {"id": "evt_1", "object": "event", "api_version": "2026-10-28.endive",
            "created": created, "livemode": livemode, "type": event_type,
            "data": {"object": obj}}  # fmt: skip
    return json.dumps(body).encode()


def deliver(gateway: StripeGateway, clock: FrozenClock, payload: bytes, *,
            secret: str = WEBHOOK_SECRET, offset: int = 0) -> GatewayEvent:  # fmt: skip
    """Sign with the SDK's helper at ``now + offset`` and parse at ``now``."""
    now = clock.now()
    header = sign(payload, secret, int(now.timestamp()) + offset)
    return gateway.parse_webhook(payload, {"Stripe-Signature": header}, now=now)


def intent(amount: int = 1000, currency: str = "usd", **extra: Any) -> dict[str, Any]:
    """A PaymentIntent object."""
    return {"id": "pi_1", "object": "payment_intent", "amount": amount, "currency": currency,
            "customer": "cus_1", "payment_method": "pm_card_visa", "status": "succeeded",
            "metadata": {"attempt_id": "att_1"}, "last_payment_error": None, **extra}  # fmt: skip


@pytest.fixture
def stamp(clock: FrozenClock) -> int:
    """The clock's time as a Unix timestamp."""
    return int(clock.now().timestamp())


# --- verification ---------------------------------------------------------------------------


def test_an_event_signed_with_the_sdk_helper_verifies(
    gateway: StripeGateway, clock: FrozenClock, stamp: int
) -> None:
    """The SDK's own signature header is accepted and the event normalised."""
    event = deliver(gateway, clock, envelope("payment_intent.succeeded", intent(), created=stamp))
    assert (event.id, event.kind, event.livemode) == ("evt_1", "payment_succeeded", False)
    assert event.created == clock.now()


@pytest.mark.parametrize(
    ("offset", "message"),
    [(-301, "too old"), (301, "in the future")],
)
def test_timestamps_outside_the_tolerance_are_refused(
    gateway: StripeGateway, clock: FrozenClock, stamp: int, offset: int, message: str
) -> None:
    """301 s old or 301 s ahead: refused (tolerance 300 s both ways)."""
    payload = envelope("payment_intent.succeeded", intent(), created=stamp)
    with pytest.raises(WebhookSignatureError, match=message):
        deliver(gateway, clock, payload, offset=offset)


@pytest.mark.parametrize("offset", [-300, 300])
def test_timestamps_at_the_tolerance_are_accepted(
    gateway: StripeGateway, clock: FrozenClock, stamp: int, offset: int
) -> None:
    """Exactly 300 s either way still verifies."""
    event = deliver(gateway, clock, envelope("payment_intent.succeeded", intent(), created=stamp),
                    offset=offset)  # fmt: skip
    assert event.kind == "payment_succeeded"


def test_another_secret_is_refused(gateway: StripeGateway, clock: FrozenClock, stamp: int) -> None:
    """A signature made with a secret we do not hold does not verify."""
    payload = envelope("payment_intent.succeeded", intent(), created=stamp)
    with pytest.raises(WebhookSignatureError, match="no signature matches"):
        deliver(gateway, clock, payload, secret="whsec_someone_else")


def test_rotated_secrets_are_all_accepted(
    server: StripeServer, clock: FrozenClock, stamp: int
) -> None:
    """While rotating, events signed with either secret verify."""
    gateway = server.gateway(webhook_secrets=["whsec_old", "whsec_new"])
    payload = envelope("payment_intent.succeeded", intent(), created=stamp)
    for secret in ("whsec_old", "whsec_new"):
        assert deliver(gateway, clock, payload, secret=secret).kind == "payment_succeeded"


def test_a_tampered_body_is_refused(gateway: StripeGateway, clock: FrozenClock, stamp: int) -> None:
    """Changing one byte after signing breaks the signature."""
    payload = envelope("payment_intent.succeeded", intent(amount=1000), created=stamp)
    header = sign(payload, WEBHOOK_SECRET, stamp)
    tampered = payload.replace(b'"amount": 1000', b'"amount": 9000')
    assert tampered != payload
    with pytest.raises(WebhookSignatureError):
        gateway.parse_webhook(tampered, {"Stripe-Signature": header}, now=clock.now())


def test_an_oversized_body_is_refused(
    gateway: StripeGateway, clock: FrozenClock, stamp: int
) -> None:
    """A correctly signed body over 1 MiB is refused before any HMAC."""
    payload = envelope("payment_intent.succeeded",
                       intent(description="x" * MAX_BODY_BYTES), created=stamp)  # fmt: skip
    with pytest.raises(WebhookSignatureError, match="larger than"):
        deliver(gateway, clock, payload)


@pytest.mark.parametrize(
    "header",
    ["garbage", "t=abc,v1=00", "v1=deadbeef", "t=1798966800", "", "t=1,t=2,v1=00"],
)
def test_malformed_headers_are_refused(
    gateway: StripeGateway, clock: FrozenClock, stamp: int, header: str
) -> None:
    """Headers that do not parse, lack a timestamp or a v1 signature are refused."""
    payload = envelope("payment_intent.succeeded", intent(), created=stamp)
    with pytest.raises(WebhookSignatureError):
        gateway.parse_webhook(payload, {"Stripe-Signature": header}, now=clock.now())


def test_a_missing_header_is_refused(
    gateway: StripeGateway, clock: FrozenClock, stamp: int
) -> None:
    """No Stripe-Signature header at all: refused."""
    payload = envelope("payment_intent.succeeded", intent(), created=stamp)
    with pytest.raises(WebhookSignatureError, match="missing"):
        gateway.parse_webhook(payload, {}, now=clock.now())


def test_header_names_are_case_insensitive(
    gateway: StripeGateway, clock: FrozenClock, stamp: int
) -> None:
    """Frameworks lower-case header names; that still verifies."""
    payload = envelope("payment_intent.succeeded", intent(), created=stamp)
    header = sign(payload, WEBHOOK_SECRET, stamp)
    event = gateway.parse_webhook(payload, {"stripe-signature": header}, now=clock.now())
    assert event.kind == "payment_succeeded"


def test_a_live_event_is_refused_in_test_mode(
    gateway: StripeGateway, clock: FrozenClock, stamp: int
) -> None:
    """A correctly signed event from the other mode is refused."""
    payload = envelope("payment_intent.succeeded", intent(), created=stamp, livemode=True)
    with pytest.raises(WebhookSignatureError, match="livemode"):
        deliver(gateway, clock, payload)


def test_a_test_event_is_refused_in_live_mode(
    server: StripeServer, clock: FrozenClock, stamp: int
) -> None:
    """A live-key gateway refuses test events."""
    gateway = server.gateway(api_key="sk_live_local")
    payload = envelope("payment_intent.succeeded", intent(), created=stamp, livemode=False)
    assert gateway.livemode is True
    with pytest.raises(WebhookSignatureError, match="livemode"):
        deliver(gateway, clock, payload)


def test_signed_garbage_is_a_payload_error(
    gateway: StripeGateway, clock: FrozenClock, stamp: int
) -> None:
    """A correctly signed body that is not an event is refused as a payload error."""
    for payload in (b"not json", b"[1, 2]", json.dumps({"object": "event"}).encode()):
        with pytest.raises(WebhookPayloadError):
            deliver(gateway, clock, payload)


# --- the seed's event types -------------------------------------------------------------------


def test_payment_intent_succeeded(gateway: StripeGateway, clock: FrozenClock, stamp: int) -> None:
    """Payment id, amount, customer, method and metadata are read."""
    event = deliver(gateway, clock, envelope("payment_intent.succeeded", intent(), created=stamp))
    assert event.kind == "payment_succeeded"
    assert event.gateway_payment_id == "pi_1"
    assert event.amount == Money.of("10.00", "USD")
    assert (event.customer_id, event.payment_method_id) == ("cus_1", "pm_card_visa")
    assert event.metadata == {"attempt_id": "att_1"}


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [(33340, "kwd", Money.of("33.340", "KWD")), (3334, "jpy", Money.of("3334", "JPY")),
     (5_000_000, "isk", Money.of("50000", "ISK")), (123, "mga", Money.of("123", "MGA"))],
)  # fmt: skip
def test_event_amounts_are_converted_back(
    gateway: StripeGateway, clock: FrozenClock, stamp: int, amount: int, currency: str,
    expected: Money,
) -> None:  # fmt: skip
    """Stripe units in events become ISO minor units."""
    payload = envelope("payment_intent.succeeded", intent(amount, currency), created=stamp)
    assert deliver(gateway, clock, payload).amount == expected


def test_an_unrepresentable_event_amount_is_a_payload_error(
    gateway: StripeGateway, clock: FrozenClock, stamp: int
) -> None:
    """An ISK amount finer than a króna is refused, never rounded."""
    payload = envelope("payment_intent.succeeded", intent(5_000_050, "isk"), created=stamp)
    with pytest.raises(WebhookPayloadError, match="unusable"):
        deliver(gateway, clock, payload)


def test_payment_intent_payment_failed(
    gateway: StripeGateway, clock: FrozenClock, stamp: int
) -> None:
    """The decline code (decline_code before code) and its class are read."""
    error = {"type": "card_error", "code": "card_declined", "decline_code": "lost_card",
             "message": "Your card was declined."}  # fmt: skip
    obj = intent(status="requires_payment_method", last_payment_error=error)
    event = deliver(gateway, clock, envelope("payment_intent.payment_failed", obj, created=stamp))
    assert event.kind == "payment_failed"
    assert (event.decline_code, event.decline_class) == ("lost_card", DeclineClass.HARD)
    assert event.message == "Your card was declined."


def invoice(**extra: Any) -> dict[str, Any]:
    """An invoice in the current API shape (parent and payments lists)."""
    return {"id": "in_1", "object": "invoice", "amount_due": 2500, "amount_paid": 2500,
            "currency": "usd", "customer": "cus_1", "status": "paid", "metadata": {},
            "parent": {"type": "subscription_details",
                       "subscription_details": {"subscription": "sub_1"}},
            "payments": {"object": "list", "data": [
                {"object": "invoice_payment",
                 "payment": {"type": "payment_intent", "payment_intent": "pi_9"}}]},
            **extra}  # fmt: skip


def test_invoice_paid(gateway: StripeGateway, clock: FrozenClock, stamp: int) -> None:
    """Invoice, subscription and payment intent ids and the amount paid are read."""
    event = deliver(gateway, clock, envelope("invoice.paid", invoice(), created=stamp))
    assert event.kind == "invoice_paid"
    assert (event.invoice_id, event.subscription_id) == ("in_1", "sub_1")
    assert event.gateway_payment_id == "pi_9"
    assert event.amount == Money.of("25.00", "USD")


def test_invoice_payment_failed(gateway: StripeGateway, clock: FrozenClock, stamp: int) -> None:
    """The amount due is read for a failed invoice payment."""
    obj = invoice(amount_paid=0, amount_due=3000, status="open")
    event = deliver(gateway, clock, envelope("invoice.payment_failed", obj, created=stamp))
    assert event.kind == "invoice_payment_failed"
    assert event.amount == Money.of("30.00", "USD")
    assert event.subscription_id == "sub_1"


@pytest.mark.parametrize(
    ("event_type", "kind", "status"),
    [("customer.subscription.created", "subscription_created", "incomplete"),
     ("customer.subscription.updated", "subscription_updated", "past_due"),
     ("customer.subscription.deleted", "subscription_deleted", "canceled")],
)  # fmt: skip
def test_subscription_events(
    gateway: StripeGateway, clock: FrozenClock, stamp: int, event_type: str, kind: str,
    status: str,
) -> None:  # fmt: skip
    """Subscription id, status and customer are read."""
    obj = {"id": "sub_1", "object": "subscription", "status": status, "customer": "cus_1",
           "metadata": {"enrollment_id": "e-1"}}  # fmt: skip
    event = deliver(gateway, clock, envelope(event_type, obj, created=stamp))
    assert (event.kind, event.subscription_id, event.subscription_status) == (kind, "sub_1", status)
    assert event.customer_id == "cus_1"
    assert event.metadata == {"enrollment_id": "e-1"}


def charge_object(**extra: Any) -> dict[str, Any]:
    """A refunded charge (no refund list, as in API versions since 2022-11-15)."""
    return {"id": "ch_1", "object": "charge", "amount": 1000, "amount_refunded": 700,
            "currency": "usd", "customer": "cus_1", "payment_intent": "pi_1", "metadata": {},
            "refunded": False, **extra}  # fmt: skip


def refund_object(refund_id: str, amount: int, reference: str | None) -> dict[str, Any]:
    """A refund object."""
    return {"id": refund_id, "object": "refund", "amount": amount, "currency": "usd",
            "charge": "ch_1", "payment_intent": "pi_1", "status": "succeeded",
            "metadata": {} if reference is None
            else {"enrollpay_refund_id": reference}}  # fmt: skip


def test_charge_refunded_with_its_refund_list_needs_no_request(
    server: StripeServer, gateway: StripeGateway, clock: FrozenClock, stamp: int
) -> None:
    """An embedded, complete refund list is used as is."""
    listing = {"object": "list", "has_more": False,
               "data": [refund_object("re_1", 700, "ref_1")]}  # fmt: skip
    payload = envelope("charge.refunded", charge_object(refunds=listing), created=stamp)
    event = deliver(gateway, clock, payload)
    assert [(r.gateway_refund_id, r.reference) for r in event.refunds] == [("re_1", "ref_1")]
    assert server.requests == []


def test_charge_refunded_without_a_list_fetches_every_refund(
    server: StripeServer, gateway: StripeGateway, clock: FrozenClock, stamp: int
) -> None:
    """The charge's refunds are listed from Stripe, ours and the dashboard's alike."""
    server.stripe.refunds.update({
        "re_2": refund_object("re_2", 200, None),
        "re_1": refund_object("re_1", 500, "ref_1"),
    })  # fmt: skip
    event = deliver(gateway, clock, envelope("charge.refunded", charge_object(), created=stamp))
    (request,) = server.requests
    assert (request.method, request.path) == ("GET", "/v1/refunds")
    assert request.query["charge"] == ["ch_1"]
    assert event.kind == "refund_updated"
    assert event.gateway_payment_id == "pi_1"
    assert {(r.gateway_refund_id, r.amount.minor, r.reference) for r in event.refunds} == {
        ("re_1", 500, "ref_1"),
        ("re_2", 200, None),
    }


def test_charge_refunded_with_a_partial_list_pages_through_all(
    server: StripeServer, gateway: StripeGateway, clock: FrozenClock, stamp: int
) -> None:
    """has_more (or more than a page of refunds): every page is fetched."""
    for n in range(150):
        server.stripe.refunds[f"re_{n:03d}"] = refund_object(f"re_{n:03d}", 1, f"ref_{n}")
    partial = {"object": "list", "has_more": True, "data": [refund_object("re_149", 1, "ref_149")]}
    event = deliver(gateway, clock, envelope("charge.refunded", charge_object(refunds=partial),
                                             created=stamp))  # fmt: skip
    assert len({r.gateway_refund_id for r in event.refunds}) == 150
    assert len(server.requests) == 2


def test_a_refund_listing_outage_leaves_the_webhook_unprocessed(
    server: StripeServer, gateway: StripeGateway, clock: FrozenClock, stamp: int
) -> None:
    """If Stripe cannot be asked, the webhook fails (Stripe delivers it again later)."""
    server.reply(500, method="GET", path="/v1/refunds", times=3)
    with pytest.raises(GatewayUnavailableError):
        deliver(gateway, clock, envelope("charge.refunded", charge_object(), created=stamp))


def test_unknown_event_types_are_ignored(
    server: StripeServer, gateway: StripeGateway, clock: FrozenClock, stamp: int
) -> None:
    """Types the library does not act on come back as ``ignored``."""
    payload = envelope("customer.created", {"id": "cus_1", "object": "customer"}, created=stamp)
    event = deliver(gateway, clock, payload)
    assert (event.kind, event.type) == ("ignored", "customer.created")
    assert server.requests == []


def test_events_emitted_by_the_server_parse(
    server: StripeServer, gateway: StripeGateway, clock: FrozenClock
) -> None:
    """A real flow's events (charge, then a partial refund) verify and normalise."""
    customer = gateway.ensure_customer("u-1", idempotency_key="customer:u-1")
    server.stripe.attach(customer, "pm_card_visa")
    paid = gateway.charge_off_session(customer_id=customer, payment_method_id="pm_card_visa",
                                      amount=Money.of("10.00", "USD"), idempotency_key="k",
                                      metadata={"attempt_id": "att_1"})  # fmt: skip
    assert paid.gateway_payment_id is not None
    gateway.refund(gateway_payment_id=paid.gateway_payment_id, amount=Money.of("2.50", "USD"),
                   idempotency_key="refund:r-1", reference="r-1")  # fmt: skip
    clock.advance(timedelta(seconds=5))
    events = [gateway.parse_webhook(e.payload, e.headers, now=clock.now())
              for e in server.stripe.take_events()]  # fmt: skip
    assert [e.kind for e in events] == ["payment_succeeded", "refund_updated"]
    assert events[0].gateway_payment_id == events[1].gateway_payment_id == paid.gateway_payment_id
    assert [(r.amount, r.reference) for r in events[1].refunds] == [
        (Money.of("2.50", "USD"), "r-1")
    ]


def test_an_event_in_an_unknown_currency_is_a_payload_error() -> None:
    """A signed event whose amount cannot be read is refused as malformed, not a crash."""
    event = {
        "id": "evt_1",
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": 1_800_000_000,
        "data": {"object": {"id": "pi_1", "amount": 100, "currency": "zzz"}},
    }
    with pytest.raises(WebhookPayloadError):
        normalise_event(event, to_money=Money)


def test_a_processing_event_names_the_payment_and_its_method_type() -> None:
    """payment_intent.processing: the payment, its amount and customer, the debit's type."""
    event = {
        "id": "evt_1",
        "object": "event",
        "type": "payment_intent.processing",
        "created": 1_800_000_000,
        "data": {"object": intent(2500, "eur", status="processing", customer="cus_1",
                                  payment_method="pm_1", payment_method_types=["sepa_debit"])},
    }  # fmt: skip
    read = normalise_event(event, to_money=Money)
    assert (read.kind, read.gateway_payment_id, read.amount, read.customer_id) == (
        "payment_processing",
        "pi_1",
        Money.of("25.00", "EUR"),
        "cus_1",
    )
    assert (read.payment_method_type, read.decline_code) == ("sepa_debit", None)
