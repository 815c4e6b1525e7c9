"""StripeGateway listing its record over HTTP: the requests Stripe documents, pages, failures."""

from __future__ import annotations

from datetime import timedelta

import pytest

from enrollpay import Money
from enrollpay.errors import GatewayUnavailableError
from enrollpay.gateways.stripe import StripeGateway
from enrollpay.testing import FrozenClock
from tests.support.stripe_server import StripeServer

INTENTS = "/v1/payment_intents"
REFUNDS = "/v1/refunds"


def make_charges(server: StripeServer, gateway: StripeGateway, count: int) -> list[str]:
    """``count`` succeeded off-session charges of 10.00; their ids, oldest first."""
    customer = gateway.ensure_customer("u-1", idempotency_key="customer:u-1")
    server.stripe.attach(customer, "pm_card_visa")
    made = []
    for n in range(count):
        result = gateway.charge_off_session(
            customer_id=customer,
            payment_method_id="pm_card_visa",
            amount=Money.of("10.00", "USD"),
            idempotency_key=f"item:i-{n}:attempt:1",
            metadata={"attempt_id": f"att_{n}"},
        )
        assert result.gateway_payment_id is not None
        made.append(result.gateway_payment_id)
    return made


def test_the_first_request_filters_by_created_and_asks_for_full_pages(
    server: StripeServer, gateway: StripeGateway, clock: FrozenClock
) -> None:
    """``GET /v1/payment_intents?created[gte]=<unix seconds>&limit=100``, no key, no body."""
    make_charges(server, gateway, 1)
    since = clock.now() - timedelta(hours=1, microseconds=1)

    (page,) = gateway.list_payments(since=since)

    (request,) = server.requests_to("GET", INTENTS)
    assert request.query == {"created[gte]": [str(int(since.timestamp()))], "limit": ["100"]}
    assert (request.body, request.idempotency_key) == ("", None)
    assert len(page) == 1


def test_the_sdk_follows_the_pages_with_starting_after_while_has_more(
    server: StripeServer, gateway: StripeGateway, clock: FrozenClock
) -> None:
    """250 refunds: three requests, each starting after the last refund of the page before."""
    (intent,) = make_charges(server, gateway, 1)
    for _ in range(5):
        server.stripe.refund_from_dashboard(intent, 1)
    since = clock.now() - timedelta(minutes=1)

    pages = list(gateway.list_refunds(since=since, page_size=2))

    requests = server.requests_to("GET", REFUNDS)
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [r.query.get("starting_after") for r in requests] == [
        None,
        [pages[0][-1].gateway_refund_id],
        [pages[1][-1].gateway_refund_id],
    ]
    assert {r.query["limit"][0] for r in requests} == {"2"}
    ids = [r.gateway_refund_id for page in pages for r in page]
    assert ids == sorted(ids, reverse=True)  # newest first (same second: by id)
    assert all(r.reference is None and r.amount == Money(1, "USD") for p in pages for r in p)


def test_a_page_is_requested_only_when_asked_for(
    server: StripeServer, gateway: StripeGateway, clock: FrozenClock
) -> None:
    """Taking the first page makes one request; the listing can stop there."""
    make_charges(server, gateway, 3)
    pages = gateway.list_payments(since=clock.now() - timedelta(minutes=1), page_size=2)
    assert server.requests_to("GET", INTENTS) == []
    first = next(pages)
    assert len(first) == 2
    assert len(server.requests_to("GET", INTENTS)) == 1


def test_a_listing_that_fails_after_the_retries_is_unavailable(
    server: StripeServer, gateway: StripeGateway, clock: FrozenClock
) -> None:
    """500 on every try of the second page: the first page came, then the outcome is unknown."""
    make_charges(server, gateway, 3)
    pages = gateway.list_payments(since=clock.now() - timedelta(minutes=1), page_size=2)
    assert len(next(pages)) == 2
    server.reply(500, method="GET", path=INTENTS, times=gateway.max_network_retries + 1)

    with pytest.raises(GatewayUnavailableError):
        next(pages)

    assert len(server.requests_to("GET", INTENTS)) == 1 + gateway.max_network_retries + 1


def test_an_object_that_cannot_be_read_is_skipped(
    server: StripeServer, gateway: StripeGateway, clock: FrozenClock
) -> None:
    """A payment in a currency the library does not know: someone else's, left out."""
    (ours,) = make_charges(server, gateway, 1)
    odd = dict(server.stripe.intents[ours], id="pi_odd", currency="zzz")
    server.stripe.intents["pi_odd"] = odd

    (page,) = gateway.list_payments(since=clock.now() - timedelta(minutes=1))

    assert [p.gateway_payment_id for p in page] == [ours]


def test_disputes_are_listed_by_created_with_full_pages(
    server: StripeServer, gateway: StripeGateway, clock: FrozenClock
) -> None:
    """``GET /v1/disputes?created[gte]=<unix seconds>&limit=100``: Stripe's Dispute list."""
    (intent,) = make_charges(server, gateway, 1)
    dispute_id = server.stripe.create_dispute(intent)
    since = clock.now() - timedelta(minutes=5)

    (page,) = gateway.list_disputes(since=since)

    (request,) = server.requests_to("GET", "/v1/disputes")
    assert request.query == {"created[gte]": [str(int(since.timestamp()))], "limit": ["100"]}
    (dispute,) = page
    assert (dispute.dispute_id, dispute.gateway_payment_id, dispute.amount) == (
        dispute_id,
        intent,
        Money.of("10.00", "USD"),
    )
