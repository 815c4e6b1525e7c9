"""Disputes (``charge.dispute.*`` webhooks): the record, the access, the money, in any order."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from enrollpay import EnrollmentStatus, Money, PaymentSystem, SystemConfig
from enrollpay.domain.disputes import DisputePolicy
from enrollpay.domain.records import Product
from enrollpay.domain.statuses import DisputeStatus
from enrollpay.errors import InvalidInputError, PaymentDisputedError, RefundExceedsPaidError
from enrollpay.gateways.fake import SignedWebhook
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds
from tests.service.conftest import START, usd
from tests.service.usecases.support import (
    SECOND_DUE,
    Outbox,
    audited,
    calls_of,
    data,
    enroll_and_pay,
    kinds,
    refused,
    usd_data,
)

DSP, ENR = DisputeStatus, EnrollmentStatus
WEEK = timedelta(days=7)


def gateway_id(system: PaymentSystem, enrollment_id: str, index: int = 0) -> str:
    """The gateway payment id of an enrollment's ``index``-th payment."""
    gid = system.payment_details(enrollment_id).payments[index].gateway_payment_id
    assert gid is not None
    return gid


def results(outcomes: list[Any]) -> list[tuple[str, str]]:
    """(event type, result) of each webhook outcome."""
    return [(o.event_type, o.result) for o in outcomes]


@pytest.fixture
def completed(system: PaymentSystem, fake: FakeGateway, outbox: Outbox, full: Product) -> str:
    """u-1 paid a 299.99 course in full at the checkout: completed; outbox marked."""
    result = enroll_and_pay(system, fake, full)
    assert system.get_enrollment(result.enrollment_id).status == ENR.COMPLETED
    outbox.mark()
    return result.enrollment_id


# -- the two stories the issue asks for ------------------------------------------------------


def test_a_chargeback_opened_then_won(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, completed: str
) -> None:
    """Funds withdrawn: suspended, money held; won: completed again, access back."""
    calls = len(fake.calls)
    dispute_id = fake.disputes.open(gateway_id(system, completed))

    assert results(fake.deliver(system)) == [
        ("charge.dispute.created", "processed"),
        ("charge.dispute.funds_withdrawn", "processed"),
    ]
    (dispute,) = system.payment_details(completed).disputes
    (payment,) = system.payment_details(completed).payments
    assert (dispute.gateway_dispute_id, dispute.payment_id, dispute.status) == (
        dispute_id,
        payment.id,
        DSP.FUNDS_WITHDRAWN,
    )
    assert (dispute.amount, dispute.reason, dispute.evidence_due_by) == (
        usd("299.99"),
        "fraudulent",
        START + WEEK,
    )
    events = outbox.take()
    assert kinds(events) == [
        "payment.disputed",
        "dispute.funds_withdrawn",
        "enrollment.suspended",
        "access.suspended",
    ]
    assert data(events[0]) == {
        "dispute_id": dispute.id,
        "payment_id": payment.id,
        "amount": usd_data(29999),
        "status": "open",
        "gateway_status": "needs_response",
        "reason": "fraudulent",
        "evidence_due_by": (START + WEEK).isoformat(),
    }
    assert data(events[2]) == {"from": "completed", "to": "suspended", "dispute_hold": True}
    details = system.payment_details(completed)
    assert (details.enrollment.status, details.has_access) == (ENR.SUSPENDED, False)
    assert (details.paid, details.refunded, details.disputed, details.kept) == (
        usd("299.99"), usd("0"), usd("299.99"), usd("0"),
    )  # fmt: skip
    assert [i.status for i in details.items] == ["paid"]  # the item stays paid

    clock.advance(days=2)
    fake.disputes.submit_evidence(dispute_id)
    assert results(fake.deliver(system)) == [("charge.dispute.updated", "processed")]
    assert outbox.take() == []  # a new gateway status is no event
    assert system.payment_details(completed).disputes[0].gateway_status == "under_review"

    clock.advance(days=20)
    fake.disputes.close(dispute_id, "won")
    assert results(fake.deliver(system)) == [
        ("charge.dispute.closed", "processed"),
        ("charge.dispute.funds_reinstated", "stale"),
    ]
    events = outbox.take()
    assert kinds(events) == ["dispute.won", "enrollment.completed", "access.restored"]
    assert data(events[0])["from"] == "funds_withdrawn"
    assert {e.at for e in events} == {clock.now()}
    details = system.payment_details(completed)
    (won,) = details.disputes
    assert (won.status, won.gateway_status, won.closed_at) == (DSP.WON, "won", clock.now())
    assert (details.enrollment.status, details.has_access, details.disputed) == (
        ENR.COMPLETED, True, usd("0"),
    )  # fmt: skip
    assert fake.calls[calls:] == []  # the library asked the gateway nothing
    assert [e.action for e in system.audit_log(entity_type="dispute")] == [
        "dispute.opened",
        "dispute.funds_withdrawn",
        "dispute.updated",
        "dispute.won",
    ]


def test_a_dispute_lost_after_funds_withdrawn(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """Lost: still suspended, the money gone for good, later installments not charged."""
    dispute_id = fake.disputes.open(gateway_id(system, paid_first))
    fake.deliver(system)
    assert kinds(outbox.take()) == [
        "payment.disputed",
        "dispute.funds_withdrawn",
        "enrollment.suspended",
        "access.suspended",
    ]
    clock.advance(days=30)
    fake.disputes.close(dispute_id, "lost")
    assert results(fake.deliver(system)) == [("charge.dispute.closed", "processed")]
    (lost,) = outbox.take()
    assert (lost.kind, data(lost)["from"], data(lost)["status"]) == (
        "dispute.lost", "funds_withdrawn", "lost",
    )  # fmt: skip
    details = system.payment_details(paid_first)
    assert (details.enrollment.status, details.has_access) == (ENR.SUSPENDED, False)
    assert (details.paid, details.disputed, details.kept) == (
        usd("100.00"), usd("100.00"), usd("0"),
    )  # fmt: skip

    clock.set(SECOND_DUE)
    calls = len(fake.calls)
    report = system.collect_due()
    assert report.charged == 0  # a suspended enrollment gets no new automatic charge
    assert calls_of(fake, "charge_off_session", calls) == []
    assert system.get_enrollment(paid_first).status == ENR.SUSPENDED


# -- duplicated and out of order -------------------------------------------------------------


@pytest.mark.parametrize("outcome", ["won", "lost"])
def test_every_event_twice_newest_first_ends_where_the_dispute_did(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, completed: str, outcome: Any
) -> None:
    """``closed`` before ``created``, each event twice: one dispute, decided, once announced."""
    dispute_id = fake.disputes.open(gateway_id(system, completed))
    fake.disputes.submit_evidence(dispute_id)
    fake.disputes.close(dispute_id, outcome)

    outcomes = fake.deliver(system, reverse=True, times=2)

    processed = [o.event_type for o in outcomes if o.result == "processed"]
    assert processed == ["charge.dispute.funds_reinstated" if outcome == "won"
                         else "charge.dispute.closed"]  # fmt: skip
    assert {o.result for o in outcomes} == {"processed", "duplicate", "stale"}
    (dispute,) = system.payment_details(completed).disputes
    assert dispute.status == outcome
    if outcome == "won":  # never suspended: the first news was the win
        assert kinds(outbox.new()) == ["payment.disputed", "dispute.won"]
        assert system.get_enrollment(completed).status == ENR.COMPLETED
    else:
        assert kinds(outbox.new()) == [
            "payment.disputed",
            "dispute.lost",
            "enrollment.suspended",
            "access.suspended",
        ]
        assert system.get_enrollment(completed).status == ENR.SUSPENDED


def test_created_after_funds_withdrawn_is_stale(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, completed: str
) -> None:
    """funds_withdrawn first (it lists the withdrawal): made funds_withdrawn; created is stale."""
    fake.disputes.open(gateway_id(system, completed))
    created, withdrawn = fake.take_events()
    assert system.handle_webhook(withdrawn.payload, withdrawn.headers).result == "processed"
    assert system.handle_webhook(created.payload, created.headers).result == "stale"
    assert system.handle_webhook(withdrawn.payload, withdrawn.headers).result == "duplicate"
    assert kinds(outbox.new()) == [
        "payment.disputed",
        "dispute.funds_withdrawn",
        "enrollment.suspended",
        "access.suspended",
    ]


# -- inquiries, the policy, several disputes ----------------------------------------------------


def test_an_inquiry_moves_no_money_and_closes_without_a_chargeback(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, completed: str
) -> None:
    """Inquiry: disputed, access kept, refundable; warning_closed: dispute.closed."""
    dispute_id = fake.disputes.open(gateway_id(system, completed), inquiry=True)
    assert results(fake.deliver(system)) == [("charge.dispute.created", "processed")]
    (disputed,) = outbox.take()
    assert (disputed.kind, data(disputed)["status"]) == ("payment.disputed", "inquiry")
    details = system.payment_details(completed)
    assert (details.enrollment.status, details.disputed) == (ENR.COMPLETED, usd("0"))

    fake.disputes.close(dispute_id)
    assert results(fake.deliver(system)) == [("charge.dispute.closed", "processed")]
    assert kinds(outbox.take()) == ["dispute.closed"]
    (closed,) = system.payment_details(completed).disputes
    assert (closed.status, closed.gateway_status) == (DSP.INQUIRY_CLOSED, "warning_closed")
    assert system.product_report()[0].disputes == 0  # an inquiry is not a chargeback


def test_an_inquiry_that_escalates_withdraws_the_funds_and_suspends(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, completed: str
) -> None:
    """warning_needs_response -> needs_response (open, no event), then the withdrawal."""
    dispute_id = fake.disputes.open(gateway_id(system, completed), inquiry=True)
    fake.deliver(system)
    outbox.mark()
    fake.disputes.escalate(dispute_id)
    assert results(fake.deliver(system)) == [
        ("charge.dispute.updated", "processed"),
        ("charge.dispute.funds_withdrawn", "processed"),
    ]
    assert kinds(outbox.new()) == [
        "dispute.funds_withdrawn",
        "enrollment.suspended",
        "access.suspended",
    ]
    assert data(outbox.new()[0])["from"] == "open"
    assert [e.action for e in system.audit_log(entity_type="dispute")][1:] == [
        "dispute.open",
        "dispute.funds_withdrawn",
    ]


@pytest.fixture
def strict_system(store: InMemoryStore, fake: FakeGateway, clock: FrozenClock) -> PaymentSystem:
    """A system that suspends as soon as a chargeback opens."""
    config = SystemConfig(dispute_policy=DisputePolicy(suspend_on="opened"))
    return PaymentSystem(store=store, gateway=fake, clock=clock, ids=SequentialIds(), config=config)


def test_the_policy_can_suspend_as_soon_as_a_chargeback_opens(
    strict_system: PaymentSystem, fake: FakeGateway, full: Product
) -> None:
    """suspend_on="opened": the created event alone suspends."""
    system = strict_system
    product = system.register_product(product_type="course", product_id="full", name=full.name,
                                      price=full.price, payment_plan=full.payment_plan)  # fmt: skip
    enrollment_id = enroll_and_pay(system, fake, product).enrollment_id
    fake.disputes.open(gateway_id(system, enrollment_id))
    created, _withdrawn = fake.take_events()
    system.handle_webhook(created.payload, created.headers)
    assert system.get_enrollment(enrollment_id).status == ENR.SUSPENDED


def test_the_policy_never_keeps_access_whatever_the_dispute(
    store: InMemoryStore, fake: FakeGateway, clock: FrozenClock
) -> None:
    """suspend_on="never": lost, and still completed (the money is still shown as disputed)."""
    config = SystemConfig(dispute_policy=DisputePolicy(suspend_on="never"))
    system = PaymentSystem(store=store, gateway=fake, clock=clock, ids=SequentialIds(),
                           config=config)  # fmt: skip
    product = system.register_product(product_type="course", product_id="c", name="C",
                                      price=usd("50.00"))  # fmt: skip
    enrollment_id = enroll_and_pay(system, fake, product).enrollment_id
    dispute_id = fake.disputes.open(gateway_id(system, enrollment_id))
    fake.disputes.close(dispute_id, "lost")
    fake.deliver(system)
    details = system.payment_details(enrollment_id)
    assert (details.enrollment.status, details.disputed) == (ENR.COMPLETED, usd("50.00"))
    assert not details.enrollment.dispute_hold


def test_access_comes_back_only_when_no_dispute_withholds_it(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """Two payments disputed: winning one keeps the enrollment suspended until the other is won."""
    clock.set(SECOND_DUE)
    system.collect_due()
    fake.deliver(system)
    first = fake.disputes.open(gateway_id(system, paid_first, 0))
    second = fake.disputes.open(gateway_id(system, paid_first, 1))
    fake.deliver(system)
    assert system.get_enrollment(paid_first).status == ENR.SUSPENDED
    assert system.payment_details(paid_first).disputed == usd("200.00")
    fake.disputes.close(first, "won")
    fake.deliver(system)
    assert system.get_enrollment(paid_first).status == ENR.SUSPENDED
    assert system.payment_details(paid_first).disputed == usd("100.00")
    outbox.mark()
    fake.disputes.close(second, "won")
    fake.deliver(system)
    assert kinds(outbox.new()) == ["dispute.won", "enrollment.activated", "access.restored"]
    assert system.get_enrollment(paid_first).status == ENR.ACTIVE


def test_a_paused_enrollment_stays_paused_and_resumes_suspended(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, paid_first: str
) -> None:
    """The hold waits for the resume: paused stays paused, resume gives suspended."""
    system.pause(paid_first, actor="admin")
    outbox.mark()
    fake.disputes.open(gateway_id(system, paid_first))
    fake.deliver(system)
    assert kinds(outbox.take()) == ["payment.disputed", "dispute.funds_withdrawn"]
    enrollment = system.get_enrollment(paid_first)
    assert (enrollment.status, enrollment.dispute_hold) == (ENR.PAUSED, True)
    assert system.resume(paid_first, actor="admin").status == ENR.SUSPENDED


# -- the refund rules -----------------------------------------------------------------------------


def test_a_payment_under_a_chargeback_cannot_be_refunded_too(
    system: PaymentSystem, fake: FakeGateway, completed: str
) -> None:
    """PaymentDisputedError, nothing written, no gateway call; refundable again once won."""
    dispute_id = fake.disputes.open(gateway_id(system, completed))
    fake.deliver(system)
    (payment,) = system.payment_details(completed).payments
    (dispute,) = system.payment_details(completed).disputes
    with refused(system, PaymentDisputedError, fake=fake) as info:
        system.refund_payment(payment.id, usd("10.00"), actor="admin")
    assert (info.value.payment_id, info.value.dispute_id, info.value.status) == (  # type: ignore[attr-defined]
        payment.id, dispute.id, "funds_withdrawn",
    )  # fmt: skip
    with refused(system, RefundExceedsPaidError, fake=fake):
        system.cancel_enrollment(completed, reason="x", actor="admin", refund_amount=usd("1.00"))
    quote = system.quote_cancellation(completed)
    assert quote.refund == usd("0")  # what the chargeback took is not refunded again

    fake.disputes.close(dispute_id, "won")
    fake.deliver(system)
    refund = system.refund_payment(payment.id, usd("10.00"), actor="admin")
    assert refund.status == "succeeded"


def test_an_inquiry_can_still_be_answered_with_a_refund(
    system: PaymentSystem, fake: FakeGateway, completed: str
) -> None:
    """An inquiry leaves the payment refundable, at the gateway too."""
    fake.disputes.open(gateway_id(system, completed), inquiry=True)
    fake.deliver(system)
    (payment,) = system.payment_details(completed).payments
    refund = system.refund_payment(payment.id, usd("299.99"), actor="admin")
    assert refund.status == "succeeded"


def test_a_disputed_charge_is_refused_by_the_gateway_too(
    system: PaymentSystem, fake: FakeGateway, completed: str
) -> None:
    """If the webhook is late, the gateway's refusal makes the refund fail, not pass."""
    fake.disputes.open(gateway_id(system, completed))  # webhooks not delivered yet
    (payment,) = system.payment_details(completed).payments
    refund = system.refund_payment(payment.id, usd("10.00"), actor="admin")
    assert refund.status == "failed"
    (call,) = calls_of(fake, "refund")
    assert call.params["gateway_payment_id"] == payment.gateway_payment_id


def test_a_partly_refunded_payment_withholds_only_what_was_left(
    system: PaymentSystem, fake: FakeGateway, completed: str
) -> None:
    """100.00 refunded, then the whole 299.99 disputed and lost: 199.99 withheld, net 0."""
    (payment,) = system.payment_details(completed).payments
    system.refund_payment(payment.id, usd("100.00"), actor="admin")
    fake.deliver(system)
    dispute_id = fake.disputes.open(gateway_id(system, completed))
    fake.disputes.close(dispute_id, "lost")
    fake.deliver(system)
    details = system.payment_details(completed)
    assert (details.paid, details.refunded, details.disputed, details.kept) == (
        usd("299.99"), usd("100.00"), usd("199.99"), usd("0"),
    )  # fmt: skip
    stats = system.stats()
    assert (stats.disputed["USD"], stats.net["USD"]) == (usd("199.99"), usd("0"))


# -- reports and listings -------------------------------------------------------------------------


def test_the_product_report_shows_disputed_amounts_and_the_dispute_rate(
    system: PaymentSystem, fake: FakeGateway, completed: str, full: Product
) -> None:
    """Four card payments, one chargeback lost: rate 0.25, 299.99 disputed and withheld."""
    for user in ("u-2", "u-3", "u-4"):
        enroll_and_pay(system, fake, full, user=user)
    dispute_id = fake.disputes.open(gateway_id(system, completed))
    fake.disputes.close(dispute_id, "lost")
    fake.deliver(system)
    (row,) = system.product_report()
    assert (row.disputes, row.disputed, row.withheld, row.dispute_rate) == (
        1, usd("299.99"), usd("299.99"), Decimal("0.2500"),
    )  # fmt: skip
    assert (row.gross, row.net) == (usd("1199.96"), usd("899.97"))


def test_disputes_are_listed_by_status(
    system: PaymentSystem, fake: FakeGateway, completed: str
) -> None:
    """list_disputes filters by one or several statuses; an unknown one is refused."""
    fake.disputes.open(gateway_id(system, completed))
    fake.deliver(system)
    (dispute,) = system.list_disputes()
    assert system.list_disputes(status=["open", "funds_withdrawn"]) == [dispute]
    assert system.list_disputes(status="won") == []
    with pytest.raises(InvalidInputError):
        system.list_disputes(status="settled")


# -- what is ignored -------------------------------------------------------------------------------


def dispute_hook(fake: FakeGateway, event_type: str, **changes: Any) -> SignedWebhook:
    """A signed dispute event of the fake's shape, with ``changes`` to the dispute object."""
    obj: dict[str, Any] = {
        "id": "du_forged", "object": "dispute", "amount": 29999, "currency": "usd",
        "charge": "ch_x", "payment_intent": "pi_unknown", "status": "needs_response",
        "reason": "general", "evidence_details": {"due_by": None}, "balance_transactions": [],
        "metadata": {}, **changes,
    }  # fmt: skip
    return fake.webhook(event_type, obj)


def test_a_dispute_of_a_payment_we_did_not_record_is_ignored(
    system: PaymentSystem, fake: FakeGateway, completed: str
) -> None:
    """Unknown intent, none named, another currency, a status we do not know: ignored."""
    known = gateway_id(system, completed)
    hooks = [
        dispute_hook(fake, "charge.dispute.created"),
        dispute_hook(fake, "charge.dispute.created", payment_intent=None),
        dispute_hook(fake, "charge.dispute.created", payment_intent=known, currency="eur"),
        dispute_hook(fake, "charge.dispute.closed", payment_intent=known, status="prevented"),
    ]
    before = system.list_events()
    outcomes = [system.handle_webhook(h.payload, h.headers) for h in hooks]
    assert [o.result for o in outcomes] == ["ignored"] * 4
    assert [o.detail for o in outcomes] == [
        "dispute of a payment we did not record",
        "dispute of a payment we did not record",
        "dispute in EUR, payment in USD",
        "dispute status 'prevented' is not one we know",
    ]
    assert system.list_events() == before
    assert system.list_disputes() == []


def test_a_dispute_id_moved_to_another_payment_is_ignored(
    system: PaymentSystem, fake: FakeGateway, completed: str, full: Product
) -> None:
    """The same dispute id naming another of our payments: ignored, the record untouched."""
    other = enroll_and_pay(system, fake, full, user="u-2").enrollment_id
    fake.disputes.open(gateway_id(system, completed))
    fake.deliver(system)
    (dispute,) = system.list_disputes()
    hook = dispute_hook(fake, "charge.dispute.closed", id=dispute.gateway_dispute_id,
                        payment_intent=gateway_id(system, other), status="lost")  # fmt: skip
    outcome = system.handle_webhook(hook.payload, hook.headers)
    assert (outcome.result, outcome.detail) == (
        "ignored", "the dispute names another payment than the one it was recorded for",
    )  # fmt: skip
    assert system.list_disputes() == [dispute]


def test_a_cancelled_enrollment_is_not_suspended_by_a_dispute(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, paid_first: str
) -> None:
    """The dispute is recorded; the cancelled enrollment stays cancelled."""
    system.cancel_enrollment(paid_first, reason="moved", actor="admin", refund_amount=usd("0"))
    outbox.mark()
    fake.disputes.open(gateway_id(system, paid_first))
    fake.deliver(system)
    assert kinds(outbox.new()) == ["payment.disputed", "dispute.funds_withdrawn"]
    assert system.get_enrollment(paid_first).status == ENR.CANCELLED
    assert audited(system, paid_first, "enrollment.dispute_hold") != []


def test_a_part_of_the_payment_can_be_disputed(
    system: PaymentSystem, fake: FakeGateway, completed: str
) -> None:
    """A 50.00 dispute of 299.99 withholds 50.00; the fake refuses more than the payment."""
    payment = gateway_id(system, completed)
    fake.disputes.open(payment, amount=usd("50.00"))
    fake.deliver(system)
    assert system.payment_details(completed).disputed == usd("50.00")
    with pytest.raises(ValueError, match="Invalid dispute amount"):
        fake.disputes.open(payment, amount=Money.of("300", "USD"))


def test_a_payment_refunded_in_full_cannot_be_disputed_at_the_fake(
    system: PaymentSystem, fake: FakeGateway, completed: str
) -> None:
    """As at Stripe: the fake refuses to open a dispute of a fully refunded charge."""
    (payment,) = system.payment_details(completed).payments
    system.refund_payment(payment.id, usd("299.98"), actor="admin")
    fake.disputes.open(gateway_id(system, completed), inquiry=True)  # 0.01 left: disputable
    system.refund_payment(payment.id, usd("0.01"), actor="admin")
    with pytest.raises(ValueError, match="refunded in full cannot be disputed"):
        fake.disputes.open(gateway_id(system, completed))
