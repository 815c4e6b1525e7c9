"""Disputes end to end: PaymentSystem on StripeGateway, the real SDK, a local Stripe over HTTP."""

from __future__ import annotations

import pytest

from enrollpay import EnrollmentStatus, Money
from enrollpay.domain.statuses import DisputeStatus
from enrollpay.errors import PaymentDisputedError

from .test_stripe_service import (  # noqa: F401 - world is the fixture
    World,
    deliver_events,
    enroll_and_pay_first,
    world,
)

ENR, DSP = EnrollmentStatus, DisputeStatus


def usd(amount: str) -> Money:
    """Dollars."""
    return Money.of(amount, "USD")


def kinds(of: World, since: int) -> list[str]:
    """The kinds of the outbox's events after the first ``since``."""
    return [e.kind for e in of.system.list_events()[since:]]


def first_intent(of: World, enrollment_id: str) -> str:
    """The PaymentIntent of the enrollment's first payment."""
    gid = of.system.payment_details(enrollment_id).payments[0].gateway_payment_id
    assert gid is not None
    return gid


def test_a_dispute_opened_then_won(world: World) -> None:  # noqa: F811
    """Withdrawn: suspended, not refundable (no request sent); won: active again."""
    system, server, clock = world.system, world.server, world.clock
    enrollment_id = enroll_and_pay_first(world)
    since = len(system.list_events())
    dispute_id = server.stripe.create_dispute(first_intent(world, enrollment_id))

    assert deliver_events(world) == ["processed", "processed"]
    assert kinds(world, since) == [
        "payment.disputed",
        "dispute.funds_withdrawn",
        "enrollment.suspended",
        "access.suspended",
    ]
    details = system.payment_details(enrollment_id)
    (dispute,) = details.disputes
    assert (dispute.gateway_dispute_id, dispute.status, dispute.gateway_status) == (
        dispute_id, DSP.FUNDS_WITHDRAWN, "needs_response",
    )  # fmt: skip
    assert dispute.evidence_due_by is not None
    assert (details.enrollment.status, details.disputed) == (ENR.SUSPENDED, usd("100.00"))
    with pytest.raises(PaymentDisputedError):
        system.refund_payment(details.payments[0].id, usd("10.00"), actor="admin")
    assert server.requests_to("POST", "/v1/refunds") == []

    server.stripe.submit_evidence(dispute_id)
    assert deliver_events(world) == ["processed"]
    clock.advance(days=30)
    server.stripe.decide_dispute(dispute_id, "won")
    assert deliver_events(world) == ["processed", "stale"]
    assert kinds(world, since)[4:] == ["dispute.won", "enrollment.activated", "access.restored"]
    details = system.payment_details(enrollment_id)
    assert (details.enrollment.status, details.disputed) == (ENR.ACTIVE, usd("0"))
    assert details.disputes[0].status == DSP.WON


def test_a_dispute_lost_after_funds_withdrawn(world: World) -> None:  # noqa: F811
    """Accepted through the API (POST /v1/disputes/{id}/close): lost, suspended, money gone."""
    system, server = world.system, world.server
    enrollment_id = enroll_and_pay_first(world)
    dispute_id = server.stripe.create_dispute(first_intent(world, enrollment_id))
    assert deliver_events(world) == ["processed", "processed"]
    since = len(system.list_events())

    closed = server.client().v1.disputes.close(dispute_id)

    assert closed.status == "lost"
    assert deliver_events(world) == ["processed"]
    assert kinds(world, since) == ["dispute.lost"]
    details = system.payment_details(enrollment_id)
    assert (details.enrollment.status, details.has_access) == (ENR.SUSPENDED, False)
    assert (details.paid, details.disputed, details.kept) == (
        usd("100.00"),
        usd("100.00"),
        usd("0"),
    )
    assert details.disputes[0].status == DSP.LOST
    (row,) = system.product_report()
    assert (row.disputes, row.withheld, row.net) == (1, usd("100.00"), usd("0"))


def test_disputes_delivered_twice_newest_first_over_http(world: World) -> None:  # noqa: F811
    """Closed before created, each twice: lost once, the rest duplicate or stale."""
    system, server = world.system, world.server
    enrollment_id = enroll_and_pay_first(world)
    dispute_id = server.stripe.create_dispute(first_intent(world, enrollment_id))
    server.stripe.decide_dispute(dispute_id, "lost")
    events = server.stripe.take_events()
    results = [
        system.handle_webhook(e.payload, dict(e.headers)).result
        for e in reversed(events)
        for _ in range(2)
    ]
    assert results == ["processed", "duplicate", "stale", "duplicate", "stale", "duplicate"]
    assert system.get_enrollment(enrollment_id).status == ENR.SUSPENDED
    assert [d.status for d in system.list_disputes()] == [DSP.LOST]


def test_a_dispute_naming_only_the_charge_is_matched_through_stripe(
    world: World,  # noqa: F811
) -> None:
    """Without payment_intent on the dispute, the charge is fetched once per event."""
    system, server = world.system, world.server
    enrollment_id = enroll_and_pay_first(world)
    server.stripe.disputes_name_intents = False
    server.stripe.create_dispute(first_intent(world, enrollment_id), inquiry=True)
    assert deliver_events(world) == ["processed"]
    charge_id = server.stripe.intents[first_intent(world, enrollment_id)]["latest_charge"]
    assert len(server.requests_to("GET", f"/v1/charges/{charge_id}")) == 1
    (dispute,) = system.payment_details(enrollment_id).disputes
    assert (dispute.status, dispute.gateway_status) == (DSP.INQUIRY, "warning_needs_response")
