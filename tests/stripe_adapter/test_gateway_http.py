"""StripeGateway driving the real SDK over HTTP to the local Stripe stand-in."""

from __future__ import annotations

import socket
from datetime import date

import attrs
import pytest
import stripe

from enrollpay import Installments, Money, build_schedule
from enrollpay.domain.retry import DeclineClass
from enrollpay.errors import GatewayRequestError, GatewayUnavailableError
from enrollpay.gateways.stripe import StripeGateway
from enrollpay.gateways.stripe.client import build_client
from enrollpay.ports import ChargeResult
from tests.support.stripe_server import (
    API_KEY,
    WEBHOOK_SECRET,
    FastRetryHTTPClient,
    RecordedRequest,
    StripeServer,
)

USD10 = Money.of("10.00", "USD")
INTENTS = "/v1/payment_intents"


def customer_with_card(server: StripeServer, gateway: StripeGateway, user: str = "u-1") -> str:
    """A Stripe customer with pm_card_visa saved on it."""
    customer = gateway.ensure_customer(user, idempotency_key=f"customer:{user}")
    server.stripe.attach(customer, "pm_card_visa")
    return customer


def charge(
    gateway: StripeGateway, customer: str, amount: Money = USD10, key: str = "item:i-1:attempt:1"
) -> ChargeResult:
    """Charge the saved card off-session."""
    return gateway.charge_off_session(customer_id=customer, payment_method_id="pm_card_visa",
                                      amount=amount, idempotency_key=key,
                                      metadata={"item_id": "i-1"})  # fmt: skip


def last(server: StripeServer, method: str, path: str) -> RecordedRequest:
    """The last request to ``method path``."""
    matching = server.requests_to(method, path)
    assert matching, f"no {method} {path}"
    return matching[-1]


# --- customers and on-session payments -----------------------------------------------------------


def test_ensure_customer_passes_the_key_and_is_idempotent(
    server: StripeServer, gateway: StripeGateway
) -> None:
    """The customer is created with the user id in metadata; the same key returns it again."""
    first = gateway.ensure_customer("u-1", idempotency_key="customer:u-1")
    again = gateway.ensure_customer("u-1", idempotency_key="customer:u-1")
    request = last(server, "POST", "/v1/customers")
    assert first == again
    assert list(server.stripe.customers) == [first]
    assert request.idempotency_key == "customer:u-1"
    assert request.param("metadata[enrollpay_user_id]") == "u-1"


def test_start_payment_creates_an_intent_that_saves_the_card(
    server: StripeServer, gateway: StripeGateway
) -> None:
    """amount, lower-case currency, setup_future_usage, automatic methods, metadata, key."""
    customer = gateway.ensure_customer("u-1", idempotency_key="customer:u-1")
    session = gateway.start_payment(customer_id=customer, amount=Money.of("299.99", "EUR"),
                                    idempotency_key="item:i-1:attempt:1",
                                    metadata={"enrollment_id": "e-1"},
                                    description="enrollment e-1")  # fmt: skip
    request = last(server, "POST", INTENTS)
    intent = server.stripe.intents[session.gateway_payment_id]
    assert session.client_secret == intent["client_secret"]
    assert session.status == "requires_payment_method"
    assert request.idempotency_key == "item:i-1:attempt:1"
    assert request.form == {
        "customer": [customer],
        "amount": ["29999"],
        "currency": ["eur"],
        "setup_future_usage": ["off_session"],
        "metadata[enrollment_id]": ["e-1"],
        "metadata[enrollpay_attempt_key]": ["item:i-1:attempt:1"],
        "automatic_payment_methods[enabled]": ["true"],
        "description": ["enrollment e-1"],
    }


def test_start_payment_with_explicit_method_types(server: StripeServer) -> None:
    """payment_method_types replaces automatic payment methods."""
    gateway = server.gateway(payment_method_types=["card", "sepa_debit"])
    customer = gateway.ensure_customer("u-1", idempotency_key="customer:u-1")
    gateway.start_payment(customer_id=customer, amount=USD10, idempotency_key="k", metadata={})
    form = last(server, "POST", INTENTS).form
    assert form["payment_method_types[0]"] == ["card"]
    assert form["payment_method_types[1]"] == ["sepa_debit"]
    assert not any(name.startswith("automatic_payment_methods") for name in form)


def test_start_payment_twice_with_one_key_is_one_intent(
    server: StripeServer, gateway: StripeGateway
) -> None:
    """Clicking pay twice reuses the intent and its client secret."""
    customer = gateway.ensure_customer("u-1", idempotency_key="customer:u-1")
    one = gateway.start_payment(
        customer_id=customer, amount=USD10, idempotency_key="k", metadata={}
    )
    two = gateway.start_payment(
        customer_id=customer, amount=USD10, idempotency_key="k", metadata={}
    )
    assert one == two
    assert one.client_secret == two.client_secret
    assert len(server.stripe.intents) == 1


# --- off-session charges -------------------------------------------------------------------------


def test_off_session_charge_sends_the_saved_method_and_the_key(
    server: StripeServer, gateway: StripeGateway
) -> None:
    """customer, payment_method, off_session, confirm and the Idempotency-Key header."""
    customer = customer_with_card(server, gateway)
    result = charge(gateway, customer)
    request = last(server, "POST", INTENTS)
    assert result.status == "succeeded"
    assert result.amount == USD10
    assert result.gateway_payment_id in server.stripe.intents
    assert result.payment_method_id == "pm_card_visa"
    assert request.idempotency_key == "item:i-1:attempt:1"
    assert request.param("customer") == customer
    assert request.param("payment_method") == "pm_card_visa"
    assert request.param("off_session") == "true"
    assert request.param("confirm") == "true"
    assert request.param("amount") == "1000"
    assert request.param("currency") == "usd"
    assert request.param("automatic_payment_methods[allow_redirects]") == "never"
    assert request.param("metadata[item_id]") == "i-1"


def test_soft_decline_is_a_failed_value(server: StripeServer, gateway: StripeGateway) -> None:
    """A 402 card_error with decline_code insufficient_funds is a soft decline, not an exception."""
    customer = customer_with_card(server, gateway)
    server.stripe.script_charge("insufficient_funds")
    result = charge(gateway, customer)
    assert result.status == "failed"
    assert result.decline_code == "insufficient_funds"
    assert result.decline_class is DeclineClass.SOFT
    assert result.gateway_payment_id in server.stripe.intents
    assert result.message == "Your card was declined."
    assert server.stripe.succeeded_charges() == []


def test_hard_decline_is_classified_hard(server: StripeServer, gateway: StripeGateway) -> None:
    """stolen_card is never retried: the class is HARD."""
    customer = customer_with_card(server, gateway)
    server.stripe.script_charge("stolen_card")
    result = charge(gateway, customer)
    assert (result.status, result.decline_code) == ("failed", "stolen_card")
    assert result.decline_class is DeclineClass.HARD


def test_card_error_without_an_intent_is_still_a_value(
    server: StripeServer, gateway: StripeGateway
) -> None:
    """A card_error that carries no payment_intent falls back to the error's own codes."""
    customer = customer_with_card(server, gateway)
    server.reply(402, {"error": {"type": "card_error", "code": "card_declined",
                                 "decline_code": "do_not_honor", "message": "Declined."}},
                 method="POST", path=INTENTS)  # fmt: skip
    result = charge(gateway, customer)
    assert result.status == "failed"
    assert result.gateway_payment_id is None
    assert result.amount == USD10
    assert (result.decline_code, result.decline_class) == ("do_not_honor", DeclineClass.SOFT)
    assert result.card_brand is None  # the error names no card


def test_a_card_error_names_the_declined_cards_brand(
    server: StripeServer, gateway: StripeGateway
) -> None:
    """The error's payment_method (a PaymentMethod) gives the brand, with or without an intent."""
    customer = customer_with_card(server, gateway)
    card = {"id": "pm_card_visa", "object": "payment_method", "type": "card",
            "card": {"brand": "Visa"}}  # fmt: skip
    error = {"type": "card_error", "code": "card_declined", "decline_code": "do_not_honor",
             "message": "Declined.", "payment_method": card}  # fmt: skip
    server.reply(402, {"error": error}, method="POST", path=INTENTS)
    assert charge(gateway, customer).card_brand == "visa"
    # The intent's own error leaves the card out: the error's card is used.
    own_error = {"code": "card_declined", "decline_code": "do_not_honor"}
    intent = {"id": "pi_x", "object": "payment_intent", "amount": 1000, "currency": "usd",
              "status": "requires_payment_method", "payment_method": "pm_card_visa",
              "last_payment_error": own_error}  # fmt: skip
    server.reply(402, {"error": {**error, "payment_intent": intent}}, method="POST", path=INTENTS)
    result = charge(gateway, customer, key="item:i-1:attempt:2")
    assert (result.gateway_payment_id, result.card_brand) == ("pi_x", "visa")


def test_authentication_required_needs_the_customer(
    server: StripeServer, gateway: StripeGateway
) -> None:
    """authentication_required is requires_action with the intent's client secret."""
    customer = customer_with_card(server, gateway)
    server.stripe.script_charge("authentication_required")
    result = charge(gateway, customer)
    assert result.gateway_payment_id is not None
    intent = server.stripe.intents[result.gateway_payment_id]
    assert result.status == "requires_action"
    assert result.client_secret == intent["client_secret"]
    assert result.decline_class is DeclineClass.AUTHENTICATION
    assert intent["client_secret"] not in repr(result)


def test_a_500_then_the_sdk_retry_makes_one_payment(
    server: StripeServer, gateway: StripeGateway
) -> None:
    """The SDK retries a 5xx with the SAME Idempotency-Key; one payment results."""
    customer = customer_with_card(server, gateway)
    server.reply(500, method="POST", path=INTENTS)
    result = charge(gateway, customer)
    sent = server.requests_to("POST", INTENTS)
    assert result.status == "succeeded"
    assert [r.idempotency_key for r in sent] == ["item:i-1:attempt:1"] * 2
    assert sent[0].body == sent[1].body
    assert len(server.stripe.succeeded_charges()) == 1


def test_a_500_after_the_charge_is_replayed_not_repeated(
    server: StripeServer, gateway: StripeGateway
) -> None:
    """Stripe charged but the answer was a 500: the retry gets the original result."""
    customer = customer_with_card(server, gateway)
    server.reply(500, method="POST", path=INTENTS, when="after")
    result = charge(gateway, customer)
    assert result.status == "succeeded"
    assert len(server.requests_to("POST", INTENTS)) == 2
    assert len(server.stripe.succeeded_charges()) == 1
    assert len(server.stripe.intents) == 1


def test_a_dropped_connection_after_the_charge_is_retried_safely(
    server: StripeServer, gateway: StripeGateway
) -> None:
    """The connection dies after Stripe charged; the SDK retry replays that charge."""
    customer = customer_with_card(server, gateway)
    server.drop(method="POST", path=INTENTS, when="after")
    result = charge(gateway, customer)
    assert result.status == "succeeded"
    assert len(server.stripe.succeeded_charges()) == 1


def test_5xx_on_every_retry_is_unknown_and_the_same_key_later_charges_once(
    server: StripeServer, gateway: StripeGateway
) -> None:
    """Retries exhausted: GatewayUnavailableError; calling again with the key charges once."""
    customer = customer_with_card(server, gateway)
    server.reply(503, method="POST", path=INTENTS, when="after", times=3)
    with pytest.raises(GatewayUnavailableError, match="outcome is unknown") as caught:
        charge(gateway, customer)
    assert isinstance(caught.value.__cause__, stripe.APIError)
    result = charge(gateway, customer)
    assert result.status == "succeeded"
    assert len(server.requests_to("POST", INTENTS)) == 4
    assert len(server.stripe.succeeded_charges()) == 1


def test_connection_refused_is_unavailable(server: StripeServer) -> None:
    """Nobody listening: GatewayUnavailableError raised from the SDK's APIConnectionError."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = stripe.StripeClient(API_KEY, base_addresses={"api": f"http://127.0.0.1:{port}"},
                                 max_network_retries=1,
                                 http_client=FastRetryHTTPClient(timeout=2))  # fmt: skip
    gateway = StripeGateway(client, [WEBHOOK_SECRET])
    with pytest.raises(GatewayUnavailableError) as caught:
        gateway.ensure_customer("u-1", idempotency_key="customer:u-1")
    assert isinstance(caught.value.__cause__, stripe.APIConnectionError)
    assert not isinstance(caught.value, stripe.StripeError)


def test_rate_limit_is_unavailable_with_retry_after(
    server: StripeServer, gateway: StripeGateway
) -> None:
    """A 429 is not retried by the SDK and means "try later", with Retry-After kept."""
    customer = customer_with_card(server, gateway)
    server.reply(429, {"error": {"type": "invalid_request_error", "code": "rate_limit",
                                 "message": "Too many requests"}},
                 method="POST", path=INTENTS, headers={"Retry-After": "2"})  # fmt: skip
    with pytest.raises(GatewayUnavailableError, match="429") as caught:
        charge(gateway, customer)
    assert caught.value.retry_after == 2.0
    assert isinstance(caught.value.__cause__, stripe.RateLimitError)
    assert len(server.requests_to("POST", INTENTS)) == 1
    assert server.stripe.succeeded_charges() == []


def test_invalid_request_names_the_param(server: StripeServer, gateway: StripeGateway) -> None:
    """A 400 invalid_request_error is a GatewayRequestError naming Stripe's param."""
    customer = gateway.ensure_customer("u-1", idempotency_key="customer:u-1")  # no card saved
    with pytest.raises(GatewayRequestError, match=r"param: payment_method") as caught:
        charge(gateway, customer)
    assert caught.value.param == "payment_method"
    assert caught.value.extra["http_status"] == 400
    assert isinstance(caught.value.__cause__, stripe.InvalidRequestError)


def test_reusing_a_key_with_other_parameters_is_a_request_error(
    server: StripeServer, gateway: StripeGateway
) -> None:
    """Stripe's idempotency_error becomes GatewayRequestError(param="idempotency_key")."""
    customer = customer_with_card(server, gateway)
    charge(gateway, customer)
    with pytest.raises(GatewayRequestError) as caught:
        charge(gateway, customer, amount=Money.of("11.00", "USD"))
    assert caught.value.param == "idempotency_key"
    assert isinstance(caught.value.__cause__, stripe.IdempotencyError)
    assert len(server.stripe.succeeded_charges()) == 1


def test_a_refused_api_key_is_a_request_error_without_the_key(server: StripeServer) -> None:
    """A 401 is GatewayRequestError; neither message nor repr shows the key."""
    server.revoked_keys.add("sk_test_revoked_0123456789")
    gateway = server.gateway(api_key="sk_test_revoked_0123456789")
    with pytest.raises(GatewayRequestError) as caught:
        gateway.ensure_customer("u-1", idempotency_key="customer:u-1")
    assert isinstance(caught.value.__cause__, stripe.AuthenticationError)
    assert "6789" not in str(caught.value)
    assert "sk_test" not in str(caught.value)
    assert "sk_test" not in repr(gateway)


def test_a_permission_error_is_a_request_error(
    server: StripeServer, gateway: StripeGateway
) -> None:
    """A restricted key without the permission: 403 -> GatewayRequestError."""
    server.reply(403, {"error": {"type": "invalid_request_error", "message": "No permission"}},
                 method="POST", path="/v1/customers")  # fmt: skip
    with pytest.raises(GatewayRequestError, match="403") as caught:
        gateway.ensure_customer("u-1", idempotency_key="customer:u-1")
    assert isinstance(caught.value.__cause__, stripe.PermissionError)


def test_client_secrets_in_stripe_messages_are_redacted(
    server: StripeServer, gateway: StripeGateway
) -> None:
    """A secret quoted back by Stripe never reaches our exception's message."""
    secret = "pi_3AbC_secret_XyZ123"
    error = {"type": "invalid_request_error", "code": "resource_missing", "param": "intent",
             "message": f"No such payment_intent: '{secret}'"}  # fmt: skip
    server.reply(404, {"error": error}, method="GET")
    with pytest.raises(GatewayRequestError) as caught:
        gateway.payment_status(gateway_payment_id=secret, idempotency_key="k", amount=USD10)
    assert secret not in str(caught.value)
    assert "[redacted]" in str(caught.value)


def test_amounts_off_the_granularity_are_refused_before_sending(
    server: StripeServer, gateway: StripeGateway
) -> None:
    """33.335 KWD cannot be charged: GatewayRequestError(param="amount"), nothing sent."""
    customer = customer_with_card(server, gateway)
    before = len(server.requests)
    with pytest.raises(GatewayRequestError) as caught:
        charge(gateway, customer, amount=Money(33335, "KWD"))
    assert caught.value.param == "amount"
    assert len(server.requests) == before


def test_empty_idempotency_key_is_refused(server: StripeServer, gateway: StripeGateway) -> None:
    """An empty key would let the SDK invent one; it is refused before sending."""
    before = len(server.requests)
    with pytest.raises(GatewayRequestError) as caught:
        gateway.ensure_customer("u-1", idempotency_key="")
    assert caught.value.param == "idempotency_key"
    assert len(server.requests) == before


# --- amounts over the wire -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "sent"),
    [
        (Money.of("100.000", "KWD"), ["33340", "33330", "33330"]),
        (Money.of("10000", "JPY"), ["3334", "3333", "3333"]),
    ],
)
def test_installments_are_sent_in_stripe_units(
    server: StripeServer, gateway: StripeGateway, price: Money, sent: list[str]
) -> None:
    """A schedule built with the gateway's granularity goes out in Stripe's units."""
    customer = customer_with_card(server, gateway)
    lines = build_schedule(Installments(3), price, date(2027, 1, 4),
                           granularity=gateway.amount_granularity(price.currency))  # fmt: skip
    results = [charge(gateway, customer, amount=line.amount, key=f"k{line.seq}") for line in lines]
    requests = server.requests_to("POST", INTENTS)
    assert [r.param("amount") for r in requests] == sent
    assert {r.param("currency") for r in requests} == {price.currency.lower()}
    assert [r.amount for r in results] == [line.amount for line in lines]


def test_isk_is_sent_as_two_decimals(server: StripeServer, gateway: StripeGateway) -> None:
    """50,000 ISK is sent as 5000000 and read back as 50,000 ISK."""
    customer = customer_with_card(server, gateway)
    result = charge(gateway, customer, amount=Money.of("50000", "ISK"))
    assert last(server, "POST", INTENTS).param("amount") == "5000000"
    assert result.amount == Money.of("50000", "ISK")


def test_gateway_capabilities(gateway: StripeGateway) -> None:
    """Granularity and minimums come from Stripe's rules."""
    assert gateway.amount_granularity("KWD") == 10
    assert gateway.amount_granularity("usd") == 1
    assert gateway.minimum_charge("GBP") == Money.of("0.30", "GBP")
    assert gateway.minimum_charge("KWD") is None


def test_minimum_overrides(server: StripeServer) -> None:
    """minimums= replaces table entries (e.g. for another settlement currency)."""
    gateway = server.gateway(minimums={"usd": Money.of("1.00", "USD")})
    assert gateway.minimum_charge("USD") == Money.of("1.00", "USD")
    assert gateway.minimum_charge("EUR") == Money.of("0.50", "EUR")


# --- payment status ------------------------------------------------------------------------------


def test_payment_status_by_id(server: StripeServer, gateway: StripeGateway) -> None:
    """With an id the intent is retrieved directly."""
    customer = customer_with_card(server, gateway)
    paid = charge(gateway, customer)
    assert paid.gateway_payment_id is not None
    status = gateway.payment_status(gateway_payment_id=paid.gateway_payment_id,
                                    idempotency_key="item:i-1:attempt:1", amount=USD10)  # fmt: skip
    # Retrieved with its payment method expanded: the method's type comes back too.
    assert status == attrs.evolve(paid, payment_method_type="card")
    retrieved = last(server, "GET", f"{INTENTS}/{paid.gateway_payment_id}")
    assert retrieved.idempotency_key is None
    assert retrieved.query["expand[0]"] == ["payment_method"]


def test_payment_status_by_key_searches_metadata(
    server: StripeServer, gateway: StripeGateway
) -> None:
    """Without an id, the intent is found by its enrollpay_attempt_key metadata."""
    customer = customer_with_card(server, gateway)
    server.stripe.script_charge("insufficient_funds")
    declined = charge(gateway, customer, key="item:i-1:attempt:1")
    charge(gateway, customer, key="item:i-1:attempt:2")
    status = gateway.payment_status(gateway_payment_id=None,
                                    idempotency_key="item:i-1:attempt:1", amount=USD10)  # fmt: skip
    search = last(server, "GET", f"{INTENTS}/search")
    assert status == declined
    assert search.query["query"] == ["metadata['enrollpay_attempt_key']:'item:i-1:attempt:1'"]


def test_payment_status_of_an_unknown_key_is_none(
    server: StripeServer, gateway: StripeGateway
) -> None:
    """A key Stripe never saw: None (the service resends with the same key)."""
    assert (
        gateway.payment_status(gateway_payment_id=None, idempotency_key="never", amount=USD10)
        is None
    )
    assert len(server.requests_to("GET", f"{INTENTS}/search")) == 1


def test_payment_status_of_an_unfinished_checkout_is_processing(
    server: StripeServer, gateway: StripeGateway
) -> None:
    """An on-session intent the customer has not confirmed yet is still processing."""
    customer = gateway.ensure_customer("u-1", idempotency_key="customer:u-1")
    session = gateway.start_payment(customer_id=customer, amount=USD10, idempotency_key="k",
                                    metadata={})  # fmt: skip
    status = gateway.payment_status(gateway_payment_id=session.gateway_payment_id,
                                    idempotency_key="k", amount=USD10)  # fmt: skip
    assert status is not None
    assert status.status == "processing"
    server.stripe.complete_payment(session.gateway_payment_id)
    done = gateway.payment_status(gateway_payment_id=None, idempotency_key="k", amount=USD10)
    assert done is not None
    assert (done.status, done.payment_method_id) == ("succeeded", "pm_card_visa")


def test_cancel_payment_posts_the_cancel_with_a_key(
    server: StripeServer, gateway: StripeGateway
) -> None:
    """POST /v1/payment_intents/{id}/cancel, reason abandoned, the key in the header."""
    customer = gateway.ensure_customer("u-1", idempotency_key="customer:u-1")
    session = gateway.start_payment(customer_id=customer, amount=USD10, idempotency_key="k",
                                    metadata={})  # fmt: skip
    result = gateway.cancel_payment(gateway_payment_id=session.gateway_payment_id,
                                    idempotency_key="cancel:att_1")  # fmt: skip
    request = last(server, "POST", f"{INTENTS}/{session.gateway_payment_id}/cancel")
    assert result.status == "canceled"
    assert request.idempotency_key == "cancel:att_1"
    assert request.param("cancellation_reason") == "abandoned"
    assert server.stripe.intents[session.gateway_payment_id]["status"] == "canceled"


def test_cancelling_a_paid_intent_reports_it_paid(
    server: StripeServer, gateway: StripeGateway
) -> None:
    """Stripe refuses (unexpected state); the intent is looked up and reported succeeded."""
    customer = gateway.ensure_customer("u-1", idempotency_key="customer:u-1")
    session = gateway.start_payment(customer_id=customer, amount=USD10, idempotency_key="k",
                                    metadata={})  # fmt: skip
    server.stripe.complete_payment(session.gateway_payment_id)
    result = gateway.cancel_payment(gateway_payment_id=session.gateway_payment_id,
                                    idempotency_key="cancel:att_1")  # fmt: skip
    assert result.status == "succeeded"
    assert last(server, "GET", f"{INTENTS}/{session.gateway_payment_id}").method == "GET"


def test_cancelling_an_unknown_intent_is_a_request_error(gateway: StripeGateway) -> None:
    """A 404 on cancel is a GatewayRequestError naming the param."""
    with pytest.raises(GatewayRequestError) as caught:
        gateway.cancel_payment(gateway_payment_id="pi_nope", idempotency_key="cancel:x")
    assert caught.value.param == "intent"


# --- refunds -------------------------------------------------------------------------------------


def test_partial_refund_carries_our_reference(server: StripeServer, gateway: StripeGateway) -> None:
    """Amount in Stripe units, metadata enrollpay_refund_id, the key in the header."""
    customer = customer_with_card(server, gateway)
    paid = charge(gateway, customer)
    assert paid.gateway_payment_id is not None
    refund = gateway.refund(gateway_payment_id=paid.gateway_payment_id,
                            amount=Money.of("4.00", "USD"), idempotency_key="refund:r-1",
                            reference="r-1", reason="requested_by_customer")  # fmt: skip
    request = last(server, "POST", "/v1/refunds")
    assert refund.amount == Money.of("4.00", "USD")
    assert (refund.reference, refund.status) == ("r-1", "succeeded")
    assert refund.gateway_payment_id == paid.gateway_payment_id
    assert request.idempotency_key == "refund:r-1"
    assert request.form == {
        "payment_intent": [paid.gateway_payment_id],
        "amount": ["400"],
        "metadata[enrollpay_refund_id]": ["r-1"],
        "reason": ["requested_by_customer"],
    }


def test_free_text_reasons_go_to_metadata(server: StripeServer, gateway: StripeGateway) -> None:
    """Stripe only knows three reasons; other text is kept in metadata."""
    customer = customer_with_card(server, gateway)
    paid = charge(gateway, customer)
    assert paid.gateway_payment_id is not None
    gateway.refund(
        gateway_payment_id=paid.gateway_payment_id,
        amount=USD10,
        idempotency_key="refund:r-1",
        reference="r-1",
        reason="moved abroad",
    )
    form = last(server, "POST", "/v1/refunds").form
    assert "reason" not in form
    assert form["metadata[enrollpay_reason]"] == ["moved abroad"]


def test_refunds_are_capped_and_idempotent(server: StripeServer, gateway: StripeGateway) -> None:
    """Same key: the same refund; more than what is left: GatewayRequestError on amount."""
    customer = customer_with_card(server, gateway)
    paid = charge(gateway, customer)
    assert paid.gateway_payment_id is not None
    pid = paid.gateway_payment_id
    six = Money.of("6.00", "USD")
    first = gateway.refund(gateway_payment_id=pid, amount=six, idempotency_key="refund:a",
                           reference="a")  # fmt: skip
    again = gateway.refund(gateway_payment_id=pid, amount=six, idempotency_key="refund:a",
                           reference="a")  # fmt: skip
    with pytest.raises(GatewayRequestError) as caught:
        gateway.refund(gateway_payment_id=pid, amount=six, idempotency_key="refund:b",
                       reference="b")  # fmt: skip
    assert first == again
    assert caught.value.param == "amount"
    assert [r["amount"] for r in server.stripe.refunds.values()] == [600]


# --- card updates, subscriptions, invoices -------------------------------------------------------


def test_payment_method_update_opens_a_setup_intent(
    server: StripeServer, gateway: StripeGateway
) -> None:
    """A SetupIntent for off-session use; its client secret comes back."""
    customer = gateway.ensure_customer("u-1", idempotency_key="customer:u-1")
    secret = gateway.start_payment_method_update(customer_id=customer, idempotency_key="setup:1")
    request = last(server, "POST", "/v1/setup_intents")
    (setup,) = server.stripe.setup_intents.values()
    assert secret == setup["client_secret"]
    assert request.idempotency_key == "setup:1"
    assert (request.param("customer"), request.param("usage")) == (customer, "off_session")
    assert not any(name.startswith("metadata") for name in request.form)


def test_a_trials_setup_intent_carries_its_metadata_and_is_one_per_key(
    server: StripeServer, gateway: StripeGateway
) -> None:
    """metadata[enrollment_id] is sent; the same key again replays the same SetupIntent."""
    customer = gateway.ensure_customer("u-1", idempotency_key="customer:u-1")
    meta = {"enrollment_id": "enr_1"}
    first = gateway.start_payment_method_update(
        customer_id=customer, idempotency_key="setup:enrollment:enr_1", metadata=meta
    )
    again = gateway.start_payment_method_update(
        customer_id=customer, idempotency_key="setup:enrollment:enr_1", metadata=meta
    )
    assert first == again
    (setup,) = server.stripe.setup_intents.values()
    assert setup["metadata"] == meta
    request = last(server, "POST", "/v1/setup_intents")
    assert request.param("metadata[enrollment_id]") == "enr_1"
    assert request.param("usage") == "off_session"
    with pytest.raises(GatewayRequestError) as refused:
        gateway.start_payment_method_update(
            customer_id=customer, idempotency_key="setup:2", metadata={"enrollment_id": "x" * 501}
        )
    assert refused.value.param == "metadata"


def test_subscriptions_are_created_and_cancelled(
    server: StripeServer, gateway: StripeGateway
) -> None:
    """A default_incomplete subscription returns the invoice's client secret; cancel is DELETE."""
    customer = gateway.ensure_customer("u-1", idempotency_key="customer:u-1")
    info = gateway.create_subscription(customer_id=customer, price_id="price_monthly",
                                       idempotency_key="sub:e-1", metadata={"enrollment_id": "e-1"},
                                       trial_days=7)  # fmt: skip
    created = last(server, "POST", "/v1/subscriptions")
    # With a trial Stripe starts the subscription ``trialing`` (no payment due yet).
    assert (info.status, info.customer_id) == ("trialing", customer)
    assert info.client_secret is not None
    assert info.client_secret not in repr(info)
    assert created.idempotency_key == "sub:e-1"
    assert created.param("items[0][price]") == "price_monthly"
    assert created.param("payment_behavior") == "default_incomplete"
    assert created.param("trial_period_days") == "7"
    assert created.param("expand[0]") == "latest_invoice.confirmation_secret"
    cancelled = gateway.cancel_subscription(info.subscription_id, idempotency_key="sub:e-1:cancel")
    deleted = last(server, "DELETE", f"/v1/subscriptions/{info.subscription_id}")
    assert cancelled.status == "canceled"
    assert deleted.idempotency_key == "sub:e-1:cancel"


def test_invoices_are_created_with_their_line(server: StripeServer, gateway: StripeGateway) -> None:
    """An invoice then its line, each with a key derived from the caller's."""
    customer = gateway.ensure_customer("u-1", idempotency_key="customer:u-1")
    info = gateway.create_invoice(customer_id=customer, amount=Money.of("100.000", "KWD"),
                                  idempotency_key="inv:1", description="installment 2",
                                  collection_method="send_invoice")  # fmt: skip
    invoice = last(server, "POST", "/v1/invoices")
    line = last(server, "POST", "/v1/invoiceitems")
    assert (info.status, info.amount) == ("draft", Money.of("100.000", "KWD"))
    assert server.stripe.invoices[info.invoice_id]["amount_due"] == 100000
    assert (invoice.idempotency_key, line.idempotency_key) == ("inv:1:invoice", "inv:1:line")
    assert invoice.param("collection_method") == "send_invoice"
    assert invoice.param("days_until_due") == "30"
    assert (line.param("invoice"), line.param("amount")) == (info.invoice_id, "100000")


# --- client configuration ------------------------------------------------------------------------


def test_retries_default_to_two_when_the_client_has_none(server: StripeServer) -> None:
    """A client built without max_network_retries still gets the SDK retrying."""
    client = stripe.StripeClient(API_KEY, base_addresses={"api": server.url},
                                 http_client=FastRetryHTTPClient(timeout=5))  # fmt: skip
    gateway = StripeGateway(client, [WEBHOOK_SECRET])
    server.reply(500, method="POST", path="/v1/customers", times=2)
    customer = gateway.ensure_customer("u-1", idempotency_key="customer:u-1")
    assert gateway.max_network_retries == 2
    assert customer in server.stripe.customers
    assert len(server.requests_to("POST", "/v1/customers")) == 3


def test_retries_can_be_turned_off(server: StripeServer) -> None:
    """max_network_retries=0: one request, then the outcome is unknown."""
    gateway = server.gateway(max_network_retries=0)
    server.reply(500, method="POST", path="/v1/customers")
    with pytest.raises(GatewayUnavailableError):
        gateway.ensure_customer("u-1", idempotency_key="customer:u-1")
    assert len(server.requests_to("POST", "/v1/customers")) == 1


def test_built_clients_send_no_telemetry_header(server: StripeServer) -> None:
    """build_client's HTTP client drops X-Stripe-Client-Telemetry; a plain client sends it."""
    quiet = StripeGateway(build_client(API_KEY, api_base=server.url,
                                       http_client=FastRetryHTTPClient(timeout=5)),
                          [WEBHOOK_SECRET])  # fmt: skip
    for n in range(2):
        quiet.ensure_customer(f"u-{n}", idempotency_key=f"customer:u-{n}")
    plain = server.gateway()
    for n in range(2, 4):
        plain.ensure_customer(f"u-{n}", idempotency_key=f"customer:u-{n}")
    sent = [r.headers.get("x-stripe-client-telemetry") for r in server.requests]
    assert sent[:2] == [None, None]
    assert sent[3] is not None
    assert all(r.headers["authorization"] == f"Bearer {API_KEY}" for r in server.requests)
