"""Payments that settle later, use case by use case: webhooks in any order, reconcile, policy."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
import pytest

from enrollpay import (
    AttemptStatus,
    EnrollmentStatus,
    Installments,
    ItemStatus,
    Money,
    PaymentSystem,
)
from enrollpay.domain.records import Product
from enrollpay.errors import GatewayUnavailableError, InvalidInputError
from enrollpay.gateways.fake import Outcome
from enrollpay.ports import ChargeResult
from enrollpay.service.base import SystemConfig
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds
from tests.service.usecases.support import SECOND_DUE, Outbox, audited, kinds, save_card

SEPA = "pm_sepa_debit"


def test_a_checkout_paid_by_sepa_debit_is_processing_until_it_clears(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, three: Product
) -> None:
    """payment_intent.processing: the attempt processing, nothing granted yet; paid on success."""
    result = system.enroll(user_id="u-1", product_id=three.id)
    assert result.client_secret is not None
    outbox.mark()
    fake.complete_payment(result.client_secret, "processing", payment_method=SEPA)

    assert [o.result for o in fake.deliver(system)] == ["processed"]
    details = system.payment_details(result.enrollment_id)
    (attempt,) = details.attempts
    assert (attempt.status, details.items[0].status, details.items[0].lease_until) == (
        AttemptStatus.PROCESSING,
        ItemStatus.PROCESSING,
        None,
    )
    (event,) = outbox.take()
    assert (event.kind, event.data["method_type"]) == ("payment.processing", "sepa_debit")
    assert details.enrollment.status == EnrollmentStatus.PENDING_PAYMENT
    assert [e.data["method_type"] for e in audited(system, attempt.item_id, "payment.processing")]
    assert system.collect_due().outcomes == ()  # the checkout window never closes it

    fake.settle(result.client_secret)
    fake.deliver(system)
    assert system.get_enrollment(result.enrollment_id).status == EnrollmentStatus.ACTIVE
    assert "installment.paid" in kinds(outbox.new())


def test_a_declined_checkout_then_paid_by_debit_moves_to_processing(
    system: PaymentSystem, fake: FakeGateway, three: Product
) -> None:
    """The customer's card is declined, then they pay the same payment by SEPA debit."""
    result = system.enroll(user_id="u-1", product_id=three.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret, fake.decline("card_declined"))
    fake.deliver(system)
    first = system.payment_details(result.enrollment_id)
    assert first.attempts[0].status == AttemptStatus.FAILED
    fake.complete_payment(result.client_secret, "processing", payment_method=SEPA)
    fake.deliver(system)

    after = system.payment_details(result.enrollment_id)
    assert (after.attempts[0].status, after.items[0].status) == (
        AttemptStatus.PROCESSING,
        ItemStatus.PROCESSING,
    )


def test_a_processing_event_after_the_outcome_is_stale(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, paid_first: str
) -> None:
    """Delivered out of order (succeeded, then processing): the payment stays recorded."""
    save_card(system, fake, "u-1", SEPA)
    fake.script_method(SEPA, "processing")
    clock.set(SECOND_DUE)
    system.collect_due()
    held = fake.take_events()  # the processing event, delayed
    attempt = system.payment_details(paid_first).attempts[-1]
    assert attempt.gateway_payment_id is not None
    fake.settle(attempt.gateway_payment_id)
    fake.deliver(system)

    late = [system.handle_webhook(h.payload, dict(h.headers)) for h in held]

    assert [(o.event_type, o.result) for o in late] == [("payment_intent.processing", "stale")]
    assert system.payment_details(paid_first).attempts[-1].status == AttemptStatus.SUCCEEDED


def test_a_processing_event_after_an_off_session_decline_is_stale(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, paid_first: str
) -> None:
    """A bounced debit's late processing event never revives it (no retry is lost)."""
    save_card(system, fake, "u-1", SEPA)
    fake.script_method(SEPA, "processing")
    clock.set(SECOND_DUE)
    system.collect_due()
    held = fake.take_events()
    attempt = system.payment_details(paid_first).attempts[-1]
    assert attempt.gateway_payment_id is not None
    fake.settle(attempt.gateway_payment_id, fake.decline("insufficient_funds"))
    fake.deliver(system)

    late = [system.handle_webhook(h.payload, dict(h.headers)).result for h in held]

    assert late == ["stale"]
    details = system.payment_details(paid_first)
    assert (details.attempts[-1].status, details.items[1].status) == (
        AttemptStatus.FAILED,
        ItemStatus.FAILED,
    )


def test_reconcile_finds_a_debit_whose_processing_webhook_was_lost(
    system: PaymentSystem, fake: FakeGateway, three: Product
) -> None:
    """The checkout was paid by debit, its webhook lost: reconcile learns it is processing."""
    result = system.enroll(user_id="u-1", product_id=three.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret, "processing", payment_method=SEPA)
    fake.take_events()  # its webhook is lost

    report = system.reconcile()

    assert (report.checked, report.resolved, report.settling, report.drift.open) == (1, 1, 1, 0)
    (attempt,) = system.payment_details(result.enrollment_id).attempts
    assert attempt.status == AttemptStatus.PROCESSING
    again = system.reconcile()
    assert (again.resolved, again.settling, again.in_sync) == (0, 1, True)


def test_debit_access_must_be_keep_or_suspend() -> None:
    """Another policy is a typed error."""
    with pytest.raises(InvalidInputError, match="debit_access"):
        SystemConfig(debit_access="grant")  # type: ignore[arg-type]
    assert SystemConfig().debit_access == "keep"


def test_the_fake_refuses_a_debit_scripted_both_ways_or_backwards() -> None:
    """debit() takes exactly one of clears/fails, a whole number of days >= 0."""
    for bad in ({}, {"clears_after_days": 1, "fails_after_days": 2}, {"clears_after_days": -1},
                {"fails_after_days": True}):  # fmt: skip
        with pytest.raises(InvalidInputError):
            FakeGateway.debit(**bad)
    assert FakeGateway.debit(fails_after_days=0, decline_code="x") == Outcome(
        "processing", after_days=0, then=Outcome("decline", decline_code="x")
    )


def test_the_fake_settles_a_debit_only_once_its_days_have_passed(clock: FrozenClock) -> None:
    """advance() before day N settles nothing; on day N it settles once and emits the event."""
    fake = FakeGateway(clock=clock, strict=False)
    fake.script(fake.debit(clears_after_days=2))
    answer = fake.charge_off_session(customer_id="cus_1", payment_method_id=SEPA,
                                     amount=Money.of("10.00", "EUR"), idempotency_key="k",
                                     metadata={})  # fmt: skip
    assert (answer.status, answer.payment_method_type) == ("processing", "sepa_debit")
    assert [e.event_type for e in fake.take_events()] == ["payment_intent.processing"]
    clock.advance(timedelta(days=1, hours=23))
    assert fake.advance() == []
    clock.advance(timedelta(hours=1))
    (settled,) = fake.advance()
    assert settled.status == "succeeded"
    assert fake.advance() == []
    assert [e.event_type for e in fake.take_events()] == ["payment_intent.succeeded"]


def test_an_open_checkout_is_not_mistaken_for_a_debit(
    system: PaymentSystem, fake: FakeGateway, three: Product
) -> None:
    """The customer has not paid yet (the gateway says processing too): reconcile leaves it."""
    result = system.enroll(user_id="u-1", product_id=three.id)
    assert result.client_secret is not None
    before = system.payment_details(result.enrollment_id)

    report = system.reconcile()

    assert (report.checked, report.resolved, report.settling, report.in_sync) == (1, 0, 0, True)
    assert system.payment_details(result.enrollment_id) == before
    assert before.attempts[0].status == AttemptStatus.PENDING


class _LosesAnswers(FakeGateway):
    """A gateway whose charge answers are lost, and whose look-ups say only "processing"."""

    def charge_off_session(self, **kwargs: Any) -> ChargeResult:
        super().charge_off_session(**kwargs)
        raise GatewayUnavailableError("timeout after the debit was made")

    def payment_status(self, **kwargs: Any) -> ChargeResult | None:
        found = super().payment_status(**kwargs)
        return None if found is None else attrs.evolve(found, settles_later=False)


def test_an_unknown_debit_found_processing_off_session_is_settling(clock: FrozenClock) -> None:
    """The debit's answer was lost; the gateway later says processing: it settles, no resend."""
    fake = _LosesAnswers(clock=clock)
    system = PaymentSystem(store=InMemoryStore(), gateway=fake, clock=clock, ids=SequentialIds())
    product = system.register_product(product_type="course", product_id="three", name="Three",
                                      price=Money.of("300.00", "USD"),
                                      payment_plan=Installments(3))  # fmt: skip
    result = system.enroll(user_id="u-1", product_id=product.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret)
    fake.deliver(system)
    save_card(system, fake, "u-1", SEPA)
    fake.script_method(SEPA, "processing")
    clock.set(SECOND_DUE)
    assert [o.result for o in system.collect_due().outcomes] == ["unknown"]

    report = system.reconcile()

    assert (report.resolved, report.settling, report.still_unknown, report.resent) == (1, 1, 0, 0)
    assert system.payment_details(result.enrollment_id).attempts[-1].status == (
        AttemptStatus.PROCESSING
    )
