"""One gateway contract, run against FakeGateway and StripeGateway (over a local Stripe).

The fake is only useful while it behaves like the real adapter: every
scenario here runs on both and asserts the same outcomes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import pytest

from enrollpay import Money
from enrollpay.domain.retry import DeclineClass
from enrollpay.errors import (
    GatewayRequestError,
    GatewayUnavailableError,
    WebhookSignatureError,
)
from enrollpay.ports import (
    ChargeResult,
    Gateway,
    GatewayRefund,
    InvoiceGateway,
    LivemodeAware,
    PaymentSession,
    SubscriptionGateway,
)
from enrollpay.testing import FakeGateway, FrozenClock
from tests.support.stripe_server import StripeServer, isolate_sdk_config, running_server

USD10 = Money.of("10.00", "USD")
KEY = "item:itm_1:attempt:1"
Hook = tuple[bytes, Mapping[str, str]]


class Side(Protocol):
    """A gateway under contract and the knobs to drive the world behind it."""

    gateway: Gateway

    def customer_with_card(self, user: str) -> str:
        """A customer with the card pm_card_visa saved."""
        ...

    def script_decline(self, code: str) -> None:
        """The next off-session charge is declined with ``code``."""
        ...

    def script_requires_action(self) -> None:
        """The next off-session charge needs the customer to authenticate."""
        ...

    def script_unknown_after_charge(self) -> None:
        """The next charge moves money but its answer never arrives."""
        ...

    def complete(self, session: PaymentSession, decline: str | None = None) -> None:
        """The customer finishes (or fails) an on-session payment."""
        ...

    def money_moved(self) -> int:
        """How many payments actually succeeded."""
        ...

    def events(self) -> list[Hook]:
        """The webhooks emitted so far (removed from the queue)."""
        ...


class FakeSide:
    """The in-memory fake."""

    def __init__(self, clock: FrozenClock) -> None:
        # Its signatures are stamped by this clock, like the Stripe side's.
        self.fake = FakeGateway(clock=clock, wall_clock=clock)
        self.gateway: Gateway = self.fake

    def customer_with_card(self, user: str) -> str:
        """Create the customer and attach a card."""
        customer = self.gateway.ensure_customer(user, idempotency_key=f"customer:{user}")
        self.fake.attach_payment_method(customer, "pm_card_visa")
        return customer

    def script_decline(self, code: str) -> None:
        """Script a decline."""
        self.fake.script(FakeGateway.decline(code))

    def script_requires_action(self) -> None:
        """Script an authentication."""
        self.fake.script("requires_action")

    def script_unknown_after_charge(self) -> None:
        """Script a timeout after the money moved."""
        self.fake.script("timeout_after")

    def complete(self, session: PaymentSession, decline: str | None = None) -> None:
        """Confirm in the "browser"."""
        outcome = "succeed" if decline is None else FakeGateway.decline(decline)
        self.fake.complete_payment(session.client_secret, outcome)

    def money_moved(self) -> int:
        """Charges the fake made."""
        return len(self.fake.charges)

    def events(self) -> list[Hook]:
        """Queued webhooks."""
        return [(hook.payload, hook.headers) for hook in self.fake.take_events()]


class StripeSide:
    """StripeGateway on the real SDK, talking to the local Stripe stand-in."""

    def __init__(self, server: StripeServer) -> None:
        self.server = server
        self.stripe = server.gateway()
        self.gateway: Gateway = self.stripe

    def customer_with_card(self, user: str) -> str:
        """Create the customer and attach a card at "Stripe"."""
        customer = self.gateway.ensure_customer(user, idempotency_key=f"customer:{user}")
        self.server.stripe.attach(customer, "pm_card_visa")
        return customer

    def script_decline(self, code: str) -> None:
        """Script a decline."""
        self.server.stripe.script_charge(code)

    def script_requires_action(self) -> None:
        """Off-session, Stripe asks for authentication with authentication_required."""
        self.server.stripe.script_charge("authentication_required")

    def script_unknown_after_charge(self) -> None:
        """Stripe charges but every answer, retries included, is a 500."""
        self.server.reply(500, method="POST", path="/v1/payment_intents", when="after",
                          times=self.stripe.max_network_retries + 1)  # fmt: skip

    def complete(self, session: PaymentSession, decline: str | None = None) -> None:
        """Confirm in the "browser"."""
        self.server.stripe.complete_payment(session.gateway_payment_id,
                                            outcome=decline or "succeed")  # fmt: skip

    def money_moved(self) -> int:
        """Charges that succeeded at "Stripe"."""
        return len(self.server.stripe.succeeded_charges())

    def events(self) -> list[Hook]:
        """Emitted events."""
        return [(event.payload, event.headers) for event in self.server.stripe.take_events()]


@pytest.fixture
def clock() -> FrozenClock:
    """A frozen clock both worlds sign their webhooks with."""
    return FrozenClock(datetime(2027, 1, 4, 9, 0, tzinfo=UTC))


@pytest.fixture(params=["fake", "stripe"])
def side(
    request: pytest.FixtureRequest,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[Side]:
    """Each scenario runs once per gateway."""
    if request.param == "fake":
        yield FakeSide(clock)
        return
    isolate_sdk_config(monkeypatch, tmp_path)
    with running_server(clock=clock.now) as server:
        yield StripeSide(server)


def charge(side: Side, customer: str, key: str = KEY, amount: Money = USD10) -> ChargeResult:
    """An off-session charge of the saved card."""
    return side.gateway.charge_off_session(customer_id=customer, payment_method_id="pm_card_visa",
                                           amount=amount, idempotency_key=key,
                                           metadata={"attempt_id": "att_1"})  # fmt: skip


# --- customers and on-session payments -----------------------------------------------------------


def test_same_customer_key_same_customer(side: Side) -> None:
    """ensure_customer with one key gives one customer id."""
    first = side.gateway.ensure_customer("u-1", idempotency_key="customer:u-1")
    again = side.gateway.ensure_customer("u-1", idempotency_key="customer:u-1")
    other = side.gateway.ensure_customer("u-2", idempotency_key="customer:u-2")
    assert first == again
    assert other != first


def test_on_session_payment(side: Side) -> None:
    """A session per key; once completed it is paid and the card is reusable off-session."""
    customer = side.gateway.ensure_customer("u-1", idempotency_key="customer:u-1")
    session = side.gateway.start_payment(customer_id=customer, amount=USD10, idempotency_key=KEY,
                                         metadata={"attempt_id": "att_1"})  # fmt: skip
    again = side.gateway.start_payment(customer_id=customer, amount=USD10, idempotency_key=KEY,
                                       metadata={"attempt_id": "att_1"})  # fmt: skip
    assert session == again
    assert session.client_secret
    assert session.status == "requires_payment_method"
    side.complete(session)
    by_id = side.gateway.payment_status(gateway_payment_id=session.gateway_payment_id,
                                        idempotency_key=KEY, amount=USD10)  # fmt: skip
    by_key = side.gateway.payment_status(gateway_payment_id=None, idempotency_key=KEY,
                                         amount=USD10)  # fmt: skip
    assert by_id is not None
    assert by_key is not None
    assert (by_id.status, by_id.amount, by_id.payment_method_id) == ("succeeded", USD10,
                                                                     "pm_card_visa")  # fmt: skip
    assert by_key.gateway_payment_id == session.gateway_payment_id
    assert side.money_moved() == 1
    later = charge(side, customer, key="item:itm_2:attempt:1")
    assert later.status == "succeeded"


def test_unfinished_and_declined_checkouts(side: Side) -> None:
    """Before the customer acts: processing; after a declined card: failed with its code."""
    customer = side.gateway.ensure_customer("u-1", idempotency_key="customer:u-1")
    session = side.gateway.start_payment(customer_id=customer, amount=USD10, idempotency_key=KEY,
                                         metadata={})  # fmt: skip
    waiting = side.gateway.payment_status(gateway_payment_id=session.gateway_payment_id,
                                          idempotency_key=KEY, amount=USD10)  # fmt: skip
    side.complete(session, decline="insufficient_funds")
    declined = side.gateway.payment_status(gateway_payment_id=session.gateway_payment_id,
                                           idempotency_key=KEY, amount=USD10)  # fmt: skip
    assert waiting is not None
    assert waiting.status == "processing"
    assert declined is not None
    assert (declined.status, declined.decline_code) == ("failed", "insufficient_funds")
    assert side.money_moved() == 0


def test_cancelling_an_abandoned_checkout(side: Side) -> None:
    """An open payment cancels (twice is fine); a completed one stays succeeded."""
    customer = side.gateway.ensure_customer("u-1", idempotency_key="customer:u-1")
    left = side.gateway.start_payment(customer_id=customer, amount=USD10, idempotency_key=KEY,
                                      metadata={})  # fmt: skip
    paid = side.gateway.start_payment(
        customer_id=customer, amount=USD10, idempotency_key="item:itm_2:attempt:1", metadata={}
    )
    side.complete(paid)
    cancelled = side.gateway.cancel_payment(gateway_payment_id=left.gateway_payment_id,
                                            idempotency_key="cancel:att_1")  # fmt: skip
    again = side.gateway.cancel_payment(gateway_payment_id=left.gateway_payment_id,
                                        idempotency_key="cancel:att_1b")  # fmt: skip
    kept = side.gateway.cancel_payment(gateway_payment_id=paid.gateway_payment_id,
                                       idempotency_key="cancel:att_2")  # fmt: skip
    status = side.gateway.payment_status(gateway_payment_id=left.gateway_payment_id,
                                         idempotency_key=KEY, amount=USD10)  # fmt: skip
    assert (cancelled.status, cancelled.gateway_payment_id) == ("canceled", left.gateway_payment_id)
    assert again.status == "canceled"
    assert (kept.status, kept.gateway_payment_id) == ("succeeded", paid.gateway_payment_id)
    assert status is not None
    assert status.status == "canceled"
    assert side.money_moved() == 1


def test_unknown_customer_is_a_request_error(side: Side) -> None:
    """Starting a payment for a customer the gateway does not know names ``customer``."""
    with pytest.raises(GatewayRequestError) as caught:
        side.gateway.start_payment(customer_id="cus_nobody", amount=USD10, idempotency_key=KEY,
                                   metadata={})  # fmt: skip
    assert caught.value.param == "customer"


# --- off-session charges -------------------------------------------------------------------------


def test_same_key_same_result_and_one_charge(side: Side) -> None:
    """Charging twice with one key returns the first result and moves money once."""
    customer = side.customer_with_card("u-1")
    first = charge(side, customer)
    again = charge(side, customer)
    assert first.status == "succeeded"
    assert again == first
    assert side.money_moved() == 1


def test_the_fake_refuses_to_complete_a_setup_it_never_started(clock: FrozenClock) -> None:
    """An unknown setup secret is a request error (as Stripe's 404), not a KeyError."""
    fake = FakeGateway(clock=clock)
    with pytest.raises(GatewayRequestError) as refused:
        fake.complete_setup("seti_unknown_secret")
    assert refused.value.param == "setup_intent"
    assert fake.take_events() == []


def test_the_fake_refuses_a_key_a_concurrent_charge_is_using(clock: FrozenClock) -> None:
    """Two threads charging with one key at once move money once (Stripe answers the second 409)."""
    fake = FakeGateway(clock=clock, latency=0.05)
    customer = fake.ensure_customer("u-1", idempotency_key="customer:u-1")
    fake.attach_payment_method(customer, "pm_card_visa")
    start = threading.Barrier(2)
    results: list[object] = []

    def race() -> None:
        start.wait()
        try:
            results.append(
                fake.charge_off_session(
                    customer_id=customer,
                    payment_method_id="pm_card_visa",
                    amount=USD10,
                    idempotency_key=KEY,
                    metadata={},
                )
            )
        except GatewayUnavailableError as error:
            results.append(error)

    threads = [threading.Thread(target=race) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(fake.charges) == 1
    assert sorted(type(r).__name__ for r in results) == ["ChargeResult", "GatewayUnavailableError"]
    # Once the first has finished, the key replays its result.
    again = fake.charge_off_session(
        customer_id=customer,
        payment_method_id="pm_card_visa",
        amount=USD10,
        idempotency_key=KEY,
        metadata={},
    )
    assert again == next(r for r in results if isinstance(r, ChargeResult))
    assert len(fake.charges) == 1


@pytest.mark.parametrize(
    ("code", "decline_class"),
    [("insufficient_funds", DeclineClass.SOFT), ("stolen_card", DeclineClass.HARD)],
)
def test_declines_are_values(side: Side, code: str, decline_class: DeclineClass) -> None:
    """A decline is a failed result with its code and class; the same key repeats it."""
    customer = side.customer_with_card("u-1")
    side.script_decline(code)
    declined = charge(side, customer)
    repeated = charge(side, customer)
    retried = charge(side, customer, key="item:itm_1:attempt:2")
    assert (declined.status, declined.decline_code, declined.decline_class) == (
        "failed", code, decline_class)  # fmt: skip
    assert declined.gateway_payment_id is not None
    # The declined card's brand, as Stripe names it (the retry caps are keyed by it).
    assert declined.card_brand == "visa"
    assert repeated == declined
    assert retried.status == "succeeded"
    assert side.money_moved() == 1


def test_authentication_is_requires_action_with_a_secret(side: Side) -> None:
    """A charge that needs the customer is requires_action with a client secret."""
    customer = side.customer_with_card("u-1")
    side.script_requires_action()
    result = charge(side, customer)
    assert result.status == "requires_action"
    assert result.client_secret
    assert result.gateway_payment_id is not None
    assert side.money_moved() == 0


def test_unknown_outcome_then_same_key_charges_once(side: Side) -> None:
    """The answer was lost after the money moved; asking again with the key finds that payment."""
    customer = side.customer_with_card("u-1")
    side.script_unknown_after_charge()
    with pytest.raises(GatewayUnavailableError):
        charge(side, customer)
    found = side.gateway.payment_status(gateway_payment_id=None, idempotency_key=KEY,
                                        amount=USD10)  # fmt: skip
    resent = charge(side, customer)
    assert found is not None
    assert found.status == "succeeded"
    assert resent.gateway_payment_id == found.gateway_payment_id
    assert side.money_moved() == 1


def test_an_unsaved_card_is_a_request_error(side: Side) -> None:
    """Charging a method the customer has not saved names ``payment_method``."""
    customer = side.gateway.ensure_customer("u-1", idempotency_key="customer:u-1")
    with pytest.raises(GatewayRequestError) as caught:
        charge(side, customer)
    assert caught.value.param == "payment_method"
    assert side.money_moved() == 0


def test_status_of_a_key_never_sent_is_none(side: Side) -> None:
    """payment_status by an unknown key: None (it never reached the gateway)."""
    assert (
        side.gateway.payment_status(gateway_payment_id=None, idempotency_key="nope", amount=USD10)
        is None
    )


# --- refunds -------------------------------------------------------------------------------------


def test_refunds_are_partial_capped_and_idempotent(side: Side) -> None:
    """4 + 5 of 10 dollars refund, 2 more is refused, the last 1 goes, a key replays its refund."""
    customer = side.customer_with_card("u-1")
    paid = charge(side, customer)
    assert paid.gateway_payment_id is not None
    pid = paid.gateway_payment_id

    def refund(amount: str, ref: str) -> GatewayRefund:
        return side.gateway.refund(gateway_payment_id=pid, amount=Money.of(amount, "USD"),
                                   idempotency_key=f"refund:{ref}", reference=ref)  # fmt: skip

    four = refund("4.00", "r-1")
    replay = refund("4.00", "r-1")
    five = refund("5.00", "r-2")
    with pytest.raises(GatewayRequestError) as too_much:
        refund("2.00", "r-3")
    last = refund("1.00", "r-4")
    with pytest.raises(GatewayRequestError):
        refund("0.01", "r-5")  # nothing left (Stripe names no param here)
    assert replay == four
    assert (four.amount, four.reference, four.status) == (Money.of("4.00", "USD"), "r-1",
                                                          "succeeded")  # fmt: skip
    assert (five.gateway_payment_id, five.reference) == (pid, "r-2")
    assert len({four.gateway_refund_id, five.gateway_refund_id, last.gateway_refund_id}) == 3
    assert too_much.value.param == "amount"


def test_refunding_an_unpaid_payment_is_a_request_error(side: Side) -> None:
    """Only a succeeded payment can be refunded."""
    customer = side.customer_with_card("u-1")
    side.script_decline("insufficient_funds")
    declined = charge(side, customer)
    assert declined.gateway_payment_id is not None
    with pytest.raises(GatewayRequestError) as caught:
        side.gateway.refund(gateway_payment_id=declined.gateway_payment_id, amount=USD10,
                            idempotency_key="refund:r-1", reference="r-1")  # fmt: skip
    assert caught.value.param == "payment_intent"


# --- webhooks ------------------------------------------------------------------------------------


def test_each_side_parses_the_webhooks_it_emits(side: Side, clock: FrozenClock) -> None:
    """Success, decline and refund events normalise to the same facts on both sides."""
    customer = side.customer_with_card("u-1")
    paid = charge(side, customer)
    side.script_decline("lost_card")
    declined = charge(side, customer, key="item:itm_2:attempt:1")
    assert paid.gateway_payment_id is not None
    side.gateway.refund(gateway_payment_id=paid.gateway_payment_id,
                        amount=Money.of("2.50", "USD"), idempotency_key="refund:r-1",
                        reference="r-1")  # fmt: skip
    events = [side.gateway.parse_webhook(payload, headers, now=clock.now())
              for payload, headers in side.events()]  # fmt: skip
    assert [e.kind for e in events] == ["payment_succeeded", "payment_failed", "refund_updated"]
    succeeded, failed, refunded = events
    assert (succeeded.gateway_payment_id, succeeded.amount) == (paid.gateway_payment_id, USD10)
    assert succeeded.customer_id == customer
    assert succeeded.metadata["attempt_id"] == "att_1"
    assert failed.gateway_payment_id == declined.gateway_payment_id
    assert (failed.decline_code, failed.decline_class) == ("lost_card", DeclineClass.HARD)
    assert (failed.card_brand, succeeded.card_brand) == ("visa", None)
    assert refunded.gateway_payment_id == paid.gateway_payment_id
    assert [(r.amount, r.reference, r.status) for r in refunded.refunds] == [
        (Money.of("2.50", "USD"), "r-1", "succeeded")
    ]
    assert len({e.id for e in events}) == 3


def test_each_side_refuses_tampered_and_stale_webhooks(side: Side, clock: FrozenClock) -> None:
    """A changed body or a replay after the tolerance is refused by both."""
    customer = side.customer_with_card("u-1")
    charge(side, customer)
    ((payload, headers),) = side.events()
    with pytest.raises(WebhookSignatureError):
        side.gateway.parse_webhook(payload.replace(b"1000", b"9000"), headers, now=clock.now())
    clock.advance(seconds=301)
    with pytest.raises(WebhookSignatureError):
        side.gateway.parse_webhook(payload, headers, now=clock.now())


# --- optional capabilities: subscriptions, invoices, mode ----------------------------------------


def subscriptions(side: Side) -> SubscriptionGateway:
    """The side's gateway as a SubscriptionGateway (both sides are one)."""
    gateway = side.gateway
    assert isinstance(gateway, SubscriptionGateway)
    return gateway


def test_both_gateways_declare_the_same_capabilities(side: Side) -> None:
    """Both are subscription and invoice gateways and know their mode (test mode here)."""
    gateway = side.gateway
    assert isinstance(gateway, SubscriptionGateway)
    assert isinstance(gateway, InvoiceGateway)
    assert isinstance(gateway, LivemodeAware)
    assert gateway.livemode is False


def test_a_subscription_once_per_key_then_cancelled(side: Side, clock: FrozenClock) -> None:
    """Created incomplete with a client secret, replayed by key, cancelled, both events sent."""
    customer = side.gateway.ensure_customer("u-1", idempotency_key="customer:u-1")
    created = subscriptions(side).create_subscription(
        customer_id=customer,
        price_id="price_monthly",
        idempotency_key="sub:e-1",
        metadata={"enrollment_id": "e-1"},
    )
    again = subscriptions(side).create_subscription(
        customer_id=customer,
        price_id="price_monthly",
        idempotency_key="sub:e-1",
        metadata={"enrollment_id": "e-1"},
    )
    cancelled = subscriptions(side).cancel_subscription(
        created.subscription_id, idempotency_key="sub:e-1:cancel"
    )
    assert again == created
    assert (created.status, created.customer_id) == ("incomplete", customer)
    assert created.client_secret
    assert (cancelled.subscription_id, cancelled.status) == (created.subscription_id, "canceled")
    events = [
        side.gateway.parse_webhook(payload, headers, now=clock.now())
        for payload, headers in side.events()
    ]
    assert [(e.kind, e.subscription_id, e.subscription_status) for e in events] == [
        ("subscription_created", created.subscription_id, "incomplete"),
        ("subscription_deleted", created.subscription_id, "canceled"),
    ]


def test_subscriptions_need_a_known_customer_and_subscription(side: Side) -> None:
    """An unknown customer or subscription is a refused request, not an unknown outcome."""
    with pytest.raises(GatewayRequestError):
        subscriptions(side).create_subscription(
            customer_id="cus_nobody", price_id="price_monthly", idempotency_key="sub:e-1"
        )
    with pytest.raises(GatewayRequestError):
        subscriptions(side).cancel_subscription("sub_nothing", idempotency_key="sub:x:cancel")
    assert side.events() == []


def test_an_invoice_once_per_key(side: Side) -> None:
    """A draft invoice for the amount, replayed by key; an unknown customer is refused."""
    gateway = side.gateway
    assert isinstance(gateway, InvoiceGateway)
    customer = side.gateway.ensure_customer("u-1", idempotency_key="customer:u-1")
    invoice = gateway.create_invoice(
        customer_id=customer,
        amount=USD10,
        idempotency_key="inv:1",
        collection_method="send_invoice",
    )
    again = gateway.create_invoice(
        customer_id=customer,
        amount=USD10,
        idempotency_key="inv:1",
        collection_method="send_invoice",
    )
    other = gateway.create_invoice(customer_id=customer, amount=USD10, idempotency_key="inv:2")
    assert again == invoice
    assert (invoice.status, invoice.customer_id, invoice.amount) == ("draft", customer, USD10)
    assert (invoice.collection_method, other.collection_method) == (
        "send_invoice",
        "charge_automatically",
    )
    assert other.invoice_id != invoice.invoice_id
    with pytest.raises(GatewayRequestError):
        gateway.create_invoice(customer_id="cus_nobody", amount=USD10, idempotency_key="inv:3")


def test_the_fakes_rate_limit_refuses_a_call_beyond_it(clock: FrozenClock) -> None:
    """A call beyond the limit is refused (a 429) once it has waited its latency; not counted."""
    slept: list[float] = []
    fake = FakeGateway(clock=clock, latency=0.25, sleep=slept.append, rate_limit=2)
    assert fake.ensure_customer("u-1", idempotency_key="c1") != ""
    assert fake.ensure_customer("u-2", idempotency_key="c2") != ""
    with pytest.raises(GatewayUnavailableError, match="429") as refused:
        fake.ensure_customer("u-3", idempotency_key="c3")
    assert refused.value.retry_after == 1.0
    # Every call waited its latency, the refused one too; none was counted twice.
    assert slept == [0.25, 0.25, 0.25]
    assert len(fake.calls) == 3
