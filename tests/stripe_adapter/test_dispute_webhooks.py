"""StripeGateway.parse_webhook on ``charge.dispute.*``: stage, money, dates, disputed intent."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from enrollpay import Money
from enrollpay.domain.statuses import DisputeStatus
from enrollpay.errors import GatewayUnavailableError, WebhookPayloadError
from enrollpay.gateways.events import DISPUTE_EVENT_TYPES
from enrollpay.gateways.stripe import StripeGateway
from enrollpay.ports import GatewayDispute
from enrollpay.testing import FrozenClock
from tests.support.stripe_server import StripeServer

from .test_webhooks import deliver, envelope

DSP = DisputeStatus
DUE = 1_800_000_000


def dispute_object(**changes: Any) -> dict[str, Any]:
    """A Dispute object as Stripe sends it (a chargeback of 10.00 USD, no money moved yet)."""
    return {
        "id": "du_1", "object": "dispute", "amount": 1000, "currency": "usd",
        "charge": "ch_1", "payment_intent": "pi_1", "status": "needs_response",
        "reason": "fraudulent", "created": DUE - 86400, "is_charge_refundable": False,
        "evidence_details": {"due_by": DUE, "has_evidence": False, "past_due": False,
                             "submission_count": 0},
        "balance_transactions": [], "livemode": False, "metadata": {}, **changes,
    }  # fmt: skip


def withdrawal(amount: int = -1000) -> dict[str, Any]:
    """A dispute's balance transaction (negative: taken from the balance)."""
    return {"id": "txn_1", "object": "balance_transaction", "amount": amount, "currency": "usd"}


@pytest.fixture
def stamp(clock: FrozenClock) -> int:
    """The clock's time as a Unix timestamp."""
    return int(clock.now().timestamp())


def test_the_five_dispute_events_are_handled() -> None:
    """Every charge.dispute.* event Stripe sends for a card dispute."""
    assert sorted(DISPUTE_EVENT_TYPES) == [
        "charge.dispute.closed",
        "charge.dispute.created",
        "charge.dispute.funds_reinstated",
        "charge.dispute.funds_withdrawn",
        "charge.dispute.updated",
    ]


def test_a_created_chargeback_reads_whole(
    server: StripeServer, gateway: StripeGateway, clock: FrozenClock, stamp: int
) -> None:
    """Id, intent, amount, stage, Stripe's status, reason and due date; no request made."""
    event = deliver(gateway, clock, envelope("charge.dispute.created", dispute_object(),
                                             created=stamp))  # fmt: skip
    assert (event.kind, event.gateway_payment_id) == ("dispute_updated", "pi_1")
    assert event.dispute == GatewayDispute(
        dispute_id="du_1",
        gateway_payment_id="pi_1",
        amount=Money.of("10.00", "USD"),
        status=DSP.OPEN,
        gateway_status="needs_response",
        reason="fraudulent",
        evidence_due_by=datetime.fromtimestamp(DUE, UTC),
    )
    assert server.requests == []


@pytest.mark.parametrize(
    ("event_type", "status", "moved", "stage"),
    [
        ("charge.dispute.created", "warning_needs_response", [], DSP.INQUIRY),
        ("charge.dispute.updated", "warning_under_review", [], DSP.INQUIRY),
        ("charge.dispute.closed", "warning_closed", [], DSP.INQUIRY_CLOSED),
        ("charge.dispute.updated", "under_review", [], DSP.OPEN),
        ("charge.dispute.funds_withdrawn", "needs_response", [], DSP.FUNDS_WITHDRAWN),
        ("charge.dispute.created", "needs_response", [withdrawal()], DSP.FUNDS_WITHDRAWN),
        ("charge.dispute.updated", "under_review", [withdrawal()], DSP.FUNDS_WITHDRAWN),
        ("charge.dispute.updated", "warning_under_review", [withdrawal()], DSP.FUNDS_WITHDRAWN),
        ("charge.dispute.closed", "won", [withdrawal()], DSP.WON),
        ("charge.dispute.funds_reinstated", "won", [withdrawal(), withdrawal(1000)], DSP.WON),
        ("charge.dispute.closed", "lost", [withdrawal()], DSP.LOST),
        ("charge.dispute.funds_withdrawn", "lost", [withdrawal()], DSP.LOST),
        ("charge.dispute.closed", "prevented", [], None),
        ("charge.dispute.closed", "charge_refunded", [], None),
    ],
)
def test_the_stage_follows_the_status_and_the_money_listed(
    gateway: StripeGateway,
    clock: FrozenClock,
    stamp: int,
    event_type: str,
    status: str,
    moved: list[dict[str, Any]],
    stage: DisputeStatus | None,
) -> None:
    """Money withdrawn (the event, or a negative transaction): an open dispute's funds_withdrawn."""
    obj = dispute_object(status=status, balance_transactions=moved)
    event = deliver(gateway, clock, envelope(event_type, obj, created=stamp))
    assert event.dispute is not None
    assert (event.dispute.status, event.dispute.gateway_status) == (stage, status)


@pytest.mark.parametrize("due_by", [0, None])
def test_no_evidence_due_date_is_none(
    gateway: StripeGateway, clock: FrozenClock, stamp: int, due_by: int | None
) -> None:
    """due_by 0 or null (no response possible): no due date; amounts in zero-decimal currencies."""
    obj = dispute_object(evidence_details={"due_by": due_by}, amount=5000, currency="jpy")
    event = deliver(gateway, clock, envelope("charge.dispute.created", obj, created=stamp))
    assert event.dispute is not None
    assert (event.dispute.evidence_due_by, event.dispute.amount) == (None, Money.of("5000", "JPY"))


def test_a_dispute_naming_only_its_charge_gets_the_intent_from_stripe(
    server: StripeServer, gateway: StripeGateway, clock: FrozenClock, stamp: int
) -> None:
    """No payment_intent on the dispute: GET /v1/charges/{id} names it."""
    server.stripe.charges["ch_1"] = {"id": "ch_1", "object": "charge", "payment_intent": "pi_9"}
    obj = dispute_object(payment_intent=None)
    event = deliver(gateway, clock, envelope("charge.dispute.created", obj, created=stamp))
    assert event.dispute is not None
    assert (event.gateway_payment_id, event.dispute.gateway_payment_id) == ("pi_9", "pi_9")
    (request,) = server.requests
    assert (request.method, request.path) == ("GET", "/v1/charges/ch_1")


def test_a_charge_lookup_outage_leaves_the_webhook_unprocessed(
    server: StripeServer, gateway: StripeGateway, clock: FrozenClock, stamp: int
) -> None:
    """If Stripe cannot say which intent was disputed, the webhook fails (and comes again)."""
    server.reply(500, method="GET", path="/v1/charges/ch_1", times=3)
    obj = dispute_object(payment_intent=None)
    with pytest.raises(GatewayUnavailableError):
        deliver(gateway, clock, envelope("charge.dispute.created", obj, created=stamp))


def test_a_dispute_without_an_intent_or_a_charge_asks_nothing(
    server: StripeServer, gateway: StripeGateway, clock: FrozenClock, stamp: int
) -> None:
    """Nothing to look up: the event has no payment, and no request is made."""
    obj = dispute_object(payment_intent=None, charge=None)
    event = deliver(gateway, clock, envelope("charge.dispute.created", obj, created=stamp))
    assert event.gateway_payment_id is None
    assert server.requests == []


@pytest.mark.parametrize("data", [{"object": "not a dispute"}, {}, "no envelope"])
def test_a_dispute_event_without_a_dispute_is_a_payload_error(
    server: StripeServer, gateway: StripeGateway, clock: FrozenClock, stamp: int, data: Any
) -> None:
    """A signed dispute event whose data holds no dispute object: malformed, nothing asked."""
    body = json.loads(envelope("charge.dispute.created", {}, created=stamp))
    body["data"] = data
    with pytest.raises(WebhookPayloadError, match="dispute event has no dispute object"):
        deliver(gateway, clock, json.dumps(body).encode())
    assert server.requests == []


def test_events_emitted_by_the_local_stripe_parse(
    server: StripeServer, gateway: StripeGateway, clock: FrozenClock
) -> None:
    """created, funds_withdrawn, updated, closed, funds_reinstated from the stand-in."""
    intent = server.stripe.handle("POST", "/v1/payment_intents",
                                  {"amount": "2500", "currency": "usd"}, None)[1]  # fmt: skip
    server.stripe.complete_payment(intent["id"])
    dispute_id = server.stripe.create_dispute(intent["id"])
    server.stripe.submit_evidence(dispute_id)
    server.stripe.decide_dispute(dispute_id, "won")
    events = [e for e in server.stripe.take_events() if e.event_type in DISPUTE_EVENT_TYPES]
    parsed = [gateway.parse_webhook(e.payload, dict(e.headers), now=clock.now()) for e in events]
    assert [(e.type, e.dispute.status if e.dispute else None) for e in parsed] == [
        ("charge.dispute.created", DSP.OPEN),
        ("charge.dispute.funds_withdrawn", DSP.FUNDS_WITHDRAWN),
        ("charge.dispute.updated", DSP.FUNDS_WITHDRAWN),
        ("charge.dispute.closed", DSP.WON),
        ("charge.dispute.funds_reinstated", DSP.WON),
    ]
    assert {e.gateway_payment_id for e in parsed} == {intent["id"]}
