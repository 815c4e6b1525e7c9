"""PaymentSystem end to end on StripeGateway, the real SDK and a local Stripe over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest

from enrollpay import (
    EnrollmentStatus,
    Installments,
    Interval,
    ItemStatus,
    Money,
    PaymentSystem,
    Subscription,
)
from enrollpay.clock import SystemClock
from enrollpay.domain.records import ScheduleItem
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FrozenClock, SequentialIds
from tests.support.stripe_server import StripeServer, isolate_sdk_config, running_server

INTENTS = "/v1/payment_intents"


@attrs.frozen
class World:
    """The system under test and the Stripe it talks to."""

    system: PaymentSystem
    server: StripeServer
    clock: FrozenClock


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[World]:
    """A payment system over an in-memory store and StripeGateway -> local Stripe.

    Like Stripe, the local one signs its webhooks with the real time; the
    business clock stays frozen in 2027.
    """
    isolate_sdk_config(monkeypatch, tmp_path)
    clock = FrozenClock(datetime(2027, 1, 4, 9, 0, tzinfo=UTC))
    with running_server(clock=clock.now, signing_clock=SystemClock().now) as server:
        system = PaymentSystem(store=InMemoryStore(), gateway=server.gateway(), clock=clock,
                               ids=SequentialIds())  # fmt: skip
        yield World(system, server, clock)
        assert system.verify_audit_chain().ok


def deliver_events(world: World) -> list[str]:
    """Send every event Stripe emitted to the system; return the outcomes."""
    return [world.system.handle_webhook(e.payload, dict(e.headers)).result
            for e in world.server.stripe.take_events()]  # fmt: skip


def items(world: World, enrollment_id: str) -> tuple[ScheduleItem, ...]:
    """The enrollment's schedule items."""
    return world.system.payment_details(enrollment_id).items


def enroll_and_pay_first(world: World) -> str:
    """Enroll in a 300 USD course on 3 installments and pay the first one in the browser."""
    product = world.system.register_product(
        product_type="course", product_id="react", name="React Masterclass",
        price=Money.of("300.00", "USD"), payment_plan=Installments(3),
    )  # fmt: skip
    result = world.system.enroll(user_id="u-1", product_id=product.id)
    (intent,) = world.server.stripe.intents.values()
    assert result.client_secret == intent["client_secret"]
    world.server.stripe.complete_payment(intent["id"], payment_method="pm_card_visa")
    assert deliver_events(world) == ["processed"]
    return result.enrollment_id


def test_enroll_pay_by_webhook_then_collect_an_installment_through_a_500(world: World) -> None:
    """Client secret, succeeded webhook: active; then a 500 and the SDK's retry: one payment."""
    system, server, clock = world.system, world.server, world.clock
    enrollment_id = enroll_and_pay_first(world)
    first, second, _third = items(world, enrollment_id)
    details = system.payment_details(enrollment_id)
    assert first.status == ItemStatus.PAID
    assert details.enrollment.status == EnrollmentStatus.ACTIVE
    assert details.paid == Money.of("100.00", "USD")
    start = server.requests_to("POST", INTENTS)[0]
    assert start.param("setup_future_usage") == "off_session"
    assert start.idempotency_key == f"item:{first.id}:attempt:1"

    clock.set(datetime.combine(second.due, datetime.min.time(), UTC).replace(hour=9))
    server.reply(500, method="POST", path=INTENTS)
    report = system.collect_due()

    assert [(o.item_id, o.result) for o in report.outcomes] == [(second.id, "succeeded")]
    charges = server.requests_to("POST", INTENTS)[1:]
    assert [r.idempotency_key for r in charges] == [f"item:{second.id}:attempt:1"] * 2
    assert charges[0].body == charges[1].body
    assert (charges[0].param("off_session"), charges[0].param("confirm")) == ("true", "true")
    assert charges[0].param("payment_method") == "pm_card_visa"
    after = system.payment_details(enrollment_id)
    assert [p.item_id for p in after.payments] == [first.id, second.id]
    assert after.paid == Money.of("200.00", "USD")
    assert len(server.stripe.succeeded_charges()) == 2
    assert deliver_events(world) == ["stale"]  # the charge's own webhook: already recorded


def test_a_trial_saves_its_card_in_a_setup_intent_and_pays_off_session_at_its_end(
    world: World,
) -> None:
    """SetupIntent (customer, off_session, metadata, key); its webhook starts the trial."""
    system, server, clock = world.system, world.server, world.clock
    product = system.register_product(
        product_type="membership", product_id="club", name="Club",
        price=Money.of("20.00", "USD"),
        payment_plan=Subscription(Interval.months(1), trial_days=14),
    )  # fmt: skip
    result = system.enroll(user_id="u-1", product_id=product.id)
    (request,) = server.requests_to("POST", "/v1/setup_intents")
    (setup,) = server.stripe.setup_intents.values()
    assert result.setup_client_secret == setup["client_secret"]
    assert request.idempotency_key == f"setup:enrollment:{result.enrollment_id}"
    (customer,) = server.stripe.customers
    assert (request.param("customer"), request.param("usage")) == (customer, "off_session")
    assert request.param("metadata[enrollment_id]") == result.enrollment_id
    assert system.get_enrollment(result.enrollment_id).status == EnrollmentStatus.PENDING_PAYMENT
    # Asked again (the page reloaded): Stripe replays the same SetupIntent.
    assert system.start_setup(result.enrollment_id) == setup["client_secret"]
    assert len(server.stripe.setup_intents) == 1

    server.stripe.complete_setup(setup["id"], payment_method="pm_card_visa")
    assert deliver_events(world) == ["processed"]
    details = system.payment_details(result.enrollment_id)
    assert (details.enrollment.status, details.has_access) == (EnrollmentStatus.ACTIVE, True)

    first = result.schedule[0]
    clock.set(datetime.combine(first.due, datetime.min.time(), UTC).replace(hour=9))
    report = system.collect_due()
    assert [(o.item_id, o.result) for o in report.outcomes] == [(first.id, "succeeded")]
    (charge,) = server.requests_to("POST", INTENTS)
    assert charge.idempotency_key == f"item:{first.id}:attempt:1"
    assert (charge.param("off_session"), charge.param("confirm")) == ("true", "true")
    assert (charge.param("customer"), charge.param("payment_method")) == (customer, "pm_card_visa")
    assert charge.param("amount") == "2000"
    assert system.payment_details(result.enrollment_id).paid == Money.of("20.00", "USD")


def test_a_declined_installment_is_retried_with_a_new_attempt(world: World) -> None:
    """A soft decline schedules a retry a day later, which succeeds."""
    system, server, clock = world.system, world.server, world.clock
    enrollment_id = enroll_and_pay_first(world)
    second = items(world, enrollment_id)[1]
    clock.set(datetime.combine(second.due, datetime.min.time(), UTC).replace(hour=9))
    server.stripe.script_charge("insufficient_funds")
    declined = system.collect_due()
    failed = items(world, enrollment_id)[1]
    assert [(o.result, o.decline_code) for o in declined.outcomes] == [
        ("failed", "insufficient_funds")
    ]
    assert failed.status == ItemStatus.FAILED
    assert system.payment_details(enrollment_id).enrollment.status == EnrollmentStatus.PAST_DUE
    assert deliver_events(world) == ["stale"]
    clock.advance(days=1)
    retried = system.collect_due()
    assert [o.result for o in retried.outcomes] == ["succeeded"]
    keys = [r.idempotency_key for r in server.requests_to("POST", INTENTS)[1:]]
    assert keys == [f"item:{second.id}:attempt:1", f"item:{second.id}:attempt:2"]
    assert system.payment_details(enrollment_id).enrollment.status == EnrollmentStatus.ACTIVE


def test_an_unknown_outcome_is_reconciled_by_key(world: World) -> None:
    """Every answer lost after the charge: the attempt is unknown; reconcile finds the payment."""
    system, server, clock = world.system, world.server, world.clock
    enrollment_id = enroll_and_pay_first(world)
    second = items(world, enrollment_id)[1]
    clock.set(datetime.combine(second.due, datetime.min.time(), UTC).replace(hour=9))
    server.reply(502, method="POST", path=INTENTS, when="after", times=3)
    unknown = system.collect_due()
    assert [o.result for o in unknown.outcomes] == ["unknown"]
    report = system.reconcile()
    search = server.requests_to("GET", f"{INTENTS}/search")
    assert (report.checked, report.resolved) == (1, 1)
    assert search[-1].query["query"] == [
        f"metadata['enrollpay_attempt_key']:'item:{second.id}:attempt:1'"
    ]
    assert items(world, enrollment_id)[1].status == ItemStatus.PAID
    assert len(server.stripe.succeeded_charges()) == 2
    assert len(system.payment_details(enrollment_id).payments) == 2


def test_cancel_with_refund_goes_through_stripe(world: World) -> None:
    """The refund carries our id and key; its charge.refunded webhook adds nothing twice."""
    system, server = world.system, world.server
    enrollment_id = enroll_and_pay_first(world)
    cancelled = system.cancel_enrollment(enrollment_id, reason="changed my mind", actor="admin",
                                         refund_amount=Money.of("40.00", "USD"))  # fmt: skip
    (refund,) = cancelled.refunds
    (request,) = server.requests_to("POST", "/v1/refunds")
    assert refund.status == "succeeded"
    assert refund.gateway_refund_id in server.stripe.refunds
    assert request.idempotency_key == f"refund:{refund.id}"
    assert request.param("amount") == "4000"
    assert request.param("metadata[enrollpay_refund_id]") == refund.id
    assert deliver_events(world) == ["stale"]
    assert len(server.requests_to("GET", "/v1/refunds")) == 1  # the webhook listed the refunds
    details = system.payment_details(enrollment_id)
    assert details.refunded == Money.of("40.00", "USD")
    assert len(details.refunds) == 1
    assert details.enrollment.status == EnrollmentStatus.CANCELLED


def test_a_refund_made_in_the_dashboard_is_recorded(world: World) -> None:
    """A refund Stripe made without us arrives by webhook and is recorded once."""
    system, server = world.system, world.server
    enrollment_id = enroll_and_pay_first(world)
    (payment,) = system.payment_details(enrollment_id).payments
    status, _, _ = server.stripe.handle("POST", "/v1/refunds", {
        "payment_intent": payment.gateway_payment_id, "amount": "1500"}, None)  # fmt: skip
    assert status == 200
    assert deliver_events(world) == ["processed"]
    (refund,) = system.payment_details(enrollment_id).refunds
    assert (refund.amount, refund.actor) == (Money.of("15.00", "USD"), "gateway")


def _collect_second_by_sepa(world: World, after_days: int, outcome: str) -> tuple[str, str]:
    """Pay the first item by SEPA debit in the browser (mandate saved), debit the second."""
    product = world.system.register_product(
        product_type="course", product_id="sepa", name="Paid by debit",
        price=Money.of("300.00", "EUR"), payment_plan=Installments(3),
    )  # fmt: skip
    result = world.system.enroll(user_id="u-1", product_id=product.id)
    (intent,) = world.server.stripe.intents.values()
    world.server.stripe.complete_payment(intent["id"], payment_method="pm_sepa_debit")
    assert deliver_events(world) == ["processed"]
    second = items(world, result.enrollment_id)[1]
    world.clock.set(datetime.combine(second.due, datetime.min.time(), UTC).replace(hour=9))
    world.server.stripe.script_debit(after_days=after_days, outcome=outcome)
    assert [o.result for o in world.system.collect_due().outcomes] == ["processing"]
    assert deliver_events(world) == ["stale"]  # payment_intent.processing: known already
    return result.enrollment_id, second.id


def _days_pass(world: World, days: int) -> list[str]:
    """Each day: the bank settles what is due, webhooks arrive, collection runs."""
    outcomes: list[str] = []
    for _day in range(days):
        world.clock.set(world.clock.now() + timedelta(days=1))
        world.server.stripe.advance()
        outcomes += deliver_events(world)
        world.system.collect_due()
    return outcomes


def test_a_sepa_debit_over_http_clears_after_five_days(world: World) -> None:
    """Processing for 4 days (reconcile: settling, exit 0, type read expanded); paid on day 5."""
    enrollment_id, second_id = _collect_second_by_sepa(world, 5, "succeed")
    charges = len(world.server.requests_to("POST", INTENTS))
    assert _days_pass(world, 4) == []
    report = world.system.reconcile()
    assert (report.settling, report.still_unknown, report.drift.open) == (1, 0, 0)
    assert report.in_sync
    looked_up = world.server.requests_to("GET", INTENTS + "/" + _attempt_of(world, second_id))
    assert looked_up[-1].query.get("expand[0]") == ["payment_method"]

    assert _days_pass(world, 1) == ["processed"]
    assert system_item(world, enrollment_id, second_id).status == ItemStatus.PAID
    assert len(world.server.requests_to("POST", INTENTS)) == charges  # nothing charged again


def test_a_sepa_debit_over_http_fails_on_day_six_and_dunning_starts(world: World) -> None:
    """Bounced on day 6: item failed, retry a day later; no charge before it."""
    enrollment_id, second_id = _collect_second_by_sepa(world, 6, "insufficient_funds")
    charges = len(world.server.requests_to("POST", INTENTS))
    assert _days_pass(world, 5) == []
    assert _days_pass(world, 1) == ["processed"]

    item = system_item(world, enrollment_id, second_id)
    assert (item.status, item.failures) == (ItemStatus.FAILED, 1)
    assert item.next_attempt_at == world.clock.now() + timedelta(days=1)
    assert world.system.get_enrollment(enrollment_id).status == EnrollmentStatus.PAST_DUE
    assert len(world.server.requests_to("POST", INTENTS)) == charges
    _days_pass(world, 1)  # the retry policy's first retry: charged again, and it succeeds
    assert len(world.server.requests_to("POST", INTENTS)) == charges + 1
    assert system_item(world, enrollment_id, second_id).status == ItemStatus.PAID


def _attempt_of(world: World, item_id: str) -> str:
    attempts = world.system.payment_details(world.system.get_schedule_item(item_id).enrollment_id)
    (gid,) = [a.gateway_payment_id for a in attempts.attempts if a.item_id == item_id]
    assert gid is not None
    return gid


def system_item(world: World, enrollment_id: str, item_id: str) -> ScheduleItem:
    """One schedule item as the system holds it now."""
    (item,) = [i for i in items(world, enrollment_id) if i.id == item_id]
    return item
