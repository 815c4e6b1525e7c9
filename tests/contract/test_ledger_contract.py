"""The listing contract (``LedgerGateway``), run on FakeGateway and on StripeGateway over HTTP.

Drift re-sync reads the gateway's own record through these verbs; the fake
must list what the Stripe adapter lists, in the same order and pages.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from enrollpay import Money
from enrollpay.domain.statuses import DisputeStatus
from enrollpay.errors import InvalidInputError
from enrollpay.ports import LedgerGateway, LedgerRefund
from enrollpay.testing import FrozenClock

from .test_gateway_contract import USD10, FakeSide, Side, StripeSide, charge
from .test_gateway_contract import clock as clock  # noqa: PLC0414 - re-exported fixture
from .test_gateway_contract import side as side  # noqa: PLC0414 - re-exported fixture


def ledger(side: Side) -> LedgerGateway:
    """The side's gateway as the listing capability (which both have)."""
    assert isinstance(side.gateway, LedgerGateway)
    return side.gateway


def refund_from_dashboard(side: Side, gateway_payment_id: str, amount: Money) -> str:
    """Staff refund ``amount`` in the dashboard (no reference); return the refund id."""
    if isinstance(side, FakeSide):
        return side.fake.refund_from_dashboard(gateway_payment_id, amount).gateway_refund_id
    assert isinstance(side, StripeSide)
    return str(side.server.stripe.refund_from_dashboard(gateway_payment_id, amount.minor)["id"])


def test_both_gateways_list_their_record(side: Side) -> None:
    """The capability is there, checked with isinstance."""
    assert isinstance(side.gateway, LedgerGateway)


def test_payments_are_listed_newest_first_by_page_since_an_instant(
    side: Side, clock: FrozenClock
) -> None:
    """Three charges a minute apart, then a decline: from the second on, two per page."""
    customer = side.customer_with_card("u-1")
    made = []
    for n in range(3):
        made.append(charge(side, customer, key=f"item:itm_{n}:attempt:1"))
        clock.advance(minutes=1)
    side.script_decline("card_declined")
    declined = charge(side, customer, key="item:itm_9:attempt:1")
    start = clock.now() - timedelta(minutes=2)  # the second charge's minute

    pages = list(ledger(side).list_payments(since=start, page_size=2))

    ids = [[p.gateway_payment_id for p in page] for page in pages]
    assert ids == [
        [declined.gateway_payment_id, made[2].gateway_payment_id],
        [made[1].gateway_payment_id],
    ]
    newest, third = pages[0]
    assert (newest.status, newest.amount, newest.customer_id) == ("failed", USD10, customer)
    assert (third.status, third.amount, third.payment_method_id) == (
        "succeeded",
        USD10,
        "pm_card_visa",
    )
    assert third.metadata["attempt_id"] == "att_1"
    assert third.created == start + timedelta(minutes=1)
    everything = list(ledger(side).list_payments(since=start - timedelta(minutes=5)))
    assert [len(page) for page in everything] == [4]


def test_refunds_are_listed_with_our_reference_or_none(side: Side, clock: FrozenClock) -> None:
    """Ours carries our refund id; a dashboard refund carries none; newest first."""
    customer = side.customer_with_card("u-1")
    paid = charge(side, customer)
    assert paid.gateway_payment_id is not None
    ours = side.gateway.refund(
        gateway_payment_id=paid.gateway_payment_id,
        amount=Money.of("3.00", "USD"),
        idempotency_key="refund:ref_1",
        reference="ref_1",
    )
    clock.advance(seconds=30)
    theirs = refund_from_dashboard(side, paid.gateway_payment_id, Money.of("2.00", "USD"))

    (page,) = ledger(side).list_refunds(since=clock.now() - timedelta(hours=1))

    assert page == [
        LedgerRefund(
            theirs, paid.gateway_payment_id, Money.of("2.00", "USD"), "succeeded", clock.now(), None
        ),
        LedgerRefund(
            ours.gateway_refund_id,
            paid.gateway_payment_id,
            Money.of("3.00", "USD"),
            "succeeded",
            clock.now() - timedelta(seconds=30),
            "ref_1",
        ),
    ]
    assert list(ledger(side).list_refunds(since=clock.now() + timedelta(seconds=1))) == []


def test_an_empty_record_lists_no_page(side: Side) -> None:
    """Nothing made: the iterator ends at once."""
    since = datetime(2020, 1, 1, tzinfo=UTC)
    assert list(ledger(side).list_payments(since=since)) == []
    assert list(ledger(side).list_disputes(since=since)) == []


@pytest.mark.parametrize("size", [0, 101, True])
def test_a_page_size_outside_1_to_100_is_refused_before_any_request(side: Side, size: int) -> None:
    """Stripe's limit is 1..100."""
    with pytest.raises(InvalidInputError, match="page_size"):
        ledger(side).list_payments(since=datetime(2027, 1, 1, tzinfo=UTC), page_size=size)
    with pytest.raises(InvalidInputError, match="page_size"):
        ledger(side).list_disputes(since=datetime(2027, 1, 1, tzinfo=UTC), page_size=size)


def open_dispute(side: Side, gateway_payment_id: str, *, inquiry: bool = False) -> str:
    """The cardholder disputes the whole payment; the dispute's id (its webhooks dropped)."""
    if isinstance(side, FakeSide):
        made = side.fake.disputes.open(gateway_payment_id, inquiry=inquiry)
        side.fake.take_events()
        return made
    assert isinstance(side, StripeSide)
    made = side.server.stripe.create_dispute(gateway_payment_id, inquiry=inquiry)
    side.server.stripe.take_events()
    return made


def test_disputes_are_listed_newest_first_with_their_stage(side: Side, clock: FrozenClock) -> None:
    """A chargeback, then a minute later an inquiry: each read as its webhooks read it."""
    customer = side.customer_with_card("u-1")
    first = charge(side, customer, key="item:itm_1:attempt:1")
    second = charge(side, customer, key="item:itm_2:attempt:1")
    assert first.gateway_payment_id is not None
    assert second.gateway_payment_id is not None
    chargeback = open_dispute(side, first.gateway_payment_id)
    clock.advance(minutes=1)
    inquiry = open_dispute(side, second.gateway_payment_id, inquiry=True)

    pages = list(ledger(side).list_disputes(since=clock.now() - timedelta(minutes=1), page_size=1))

    assert [[d.dispute_id for d in page] for page in pages] == [[inquiry], [chargeback]]
    (newest,), (oldest,) = pages
    assert (newest.status, newest.gateway_status, newest.gateway_payment_id, newest.amount) == (
        DisputeStatus.INQUIRY,
        "warning_needs_response",
        second.gateway_payment_id,
        USD10,
    )
    assert (oldest.status, oldest.gateway_status, oldest.created, oldest.reason) == (
        DisputeStatus.FUNDS_WITHDRAWN,
        "needs_response",
        clock.now() - timedelta(minutes=1),
        "fraudulent",
    )
    assert oldest.evidence_due_by == oldest.created + timedelta(days=7)
    assert list(ledger(side).list_disputes(since=clock.now() + timedelta(seconds=1))) == []
