"""Use case ``refund_payment``: part or all of one payment, through the gateway or by hand."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enrollpay import EnrollmentStatus, Money, PaymentSystem
from enrollpay.domain.records import Product
from enrollpay.errors import (
    CurrencyMismatchError,
    InvalidInputError,
    MoneyTypeError,
    PaymentNotFoundError,
    PermissionDeniedError,
    RefundExceedsPaidError,
)
from enrollpay.ports import GatewayRefund
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds
from tests.service.conftest import START, usd
from tests.service.usecases.support import (
    Outbox,
    calls_of,
    enroll_and_pay,
    kinds,
    refused,
    usd_data,
)


@pytest.fixture
def card_payment(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, three: Product
) -> tuple[str, str, str]:
    """(enrollment id, payment id, gateway payment id) of a 100.00 card payment; outbox marked."""
    result = enroll_and_pay(system, fake, three)
    (payment,) = system.payment_details(result.enrollment_id).payments
    assert payment.gateway_payment_id is not None
    outbox.mark()
    return result.enrollment_id, payment.id, payment.gateway_payment_id


def test_a_partial_refund_goes_through_the_gateway_once(
    system: PaymentSystem,
    fake: FakeGateway,
    outbox: Outbox,
    card_payment: tuple[str, str, str],
) -> None:
    """30.00 back: a succeeded refund, one keyed gateway call, ``refund.issued``."""
    enrollment_id, payment_id, gateway_payment_id = card_payment

    refund = system.refund_payment(payment_id, usd("30.00"), actor="admin", reason="goodwill")

    assert (refund.payment_id, refund.enrollment_id, refund.amount) == (
        payment_id,
        enrollment_id,
        usd("30.00"),
    )
    assert (refund.method, refund.status, refund.reason, refund.actor) == (
        "gateway",
        "succeeded",
        "goodwill",
        "admin",
    )
    assert refund.created_at == START
    assert refund.gateway_refund_id is not None
    (call,) = calls_of(fake, "refund")
    assert call.params == {
        "gateway_payment_id": gateway_payment_id,
        "amount": usd("30.00"),
        "idempotency_key": f"refund:{refund.id}",
        "reference": refund.id,
    }
    (event,) = outbox.new()
    assert event.kind == "refund.issued"
    assert event.enrollment_id == enrollment_id
    assert dict(event.data) == {
        "refund_id": refund.id,
        "payment_id": payment_id,
        "amount": usd_data(3000),
        "method": "gateway",
    }
    details = system.payment_details(enrollment_id)
    assert details.refunds == (refund,)
    assert (details.paid, details.refunded) == (usd("100.00"), usd("30.00"))


def test_a_refund_changes_no_status(
    system: PaymentSystem, card_payment: tuple[str, str, str]
) -> None:
    """The enrollment and its items are as they were; access is kept."""
    enrollment_id, payment_id, _ = card_payment
    before = system.list_schedule_items(enrollment_id=enrollment_id)

    system.refund_payment(payment_id, usd("100.00"), actor="admin")

    assert system.list_schedule_items(enrollment_id=enrollment_id) == before
    enrollment = system.get_enrollment(enrollment_id)
    assert enrollment.status == EnrollmentStatus.ACTIVE
    assert system.has_access(enrollment)


def test_its_webhook_confirms_the_refund_without_a_second_record(
    system: PaymentSystem,
    fake: FakeGateway,
    outbox: Outbox,
    card_payment: tuple[str, str, str],
) -> None:
    """charge.refunded names our refund: stale, one refund, one event."""
    enrollment_id, payment_id, _ = card_payment
    system.refund_payment(payment_id, usd("30.00"), actor="admin")

    outcomes = fake.deliver(system)

    assert [o.result for o in outcomes] == ["stale"]
    assert len(system.payment_details(enrollment_id).refunds) == 1
    assert kinds(outbox.new()) == ["refund.issued"]


def test_refunds_add_up_to_the_payment_and_no_further(
    system: PaymentSystem,
    fake: FakeGateway,
    outbox: Outbox,
    card_payment: tuple[str, str, str],
) -> None:
    """60.00 and 40.00 are fine; one cent more is RefundExceedsPaidError, nothing written."""
    enrollment_id, payment_id, _ = card_payment
    system.refund_payment(payment_id, usd("60.00"), actor="admin")
    system.refund_payment(payment_id, usd("40.00"), actor="admin")

    with refused(system, RefundExceedsPaidError, fake=fake):
        system.refund_payment(payment_id, usd("0.01"), actor="admin")
    assert kinds(outbox.new()) == ["refund.issued", "refund.issued"]
    assert system.payment_details(enrollment_id).refunded == usd("100.00")


def test_a_refund_the_gateway_refuses_fails_and_frees_its_amount(
    system: PaymentSystem,
    fake: FakeGateway,
    outbox: Outbox,
    card_payment: tuple[str, str, str],
) -> None:
    """More than the gateway has left (a dashboard refund we had not heard of): ``refund.failed``.

    A failed refund does not count against what may still be refunded.
    """
    enrollment_id, payment_id, gateway_payment_id = card_payment
    fake.refund_from_dashboard(gateway_payment_id, usd("80.00"))
    fake.take_events()  # its webhook is late

    refund = system.refund_payment(payment_id, usd("50.00"), actor="admin")

    assert refund.status == "failed"
    (event,) = outbox.new()
    assert (event.kind, event.data["amount"]) == ("refund.failed", usd_data(5000))
    details = system.payment_details(enrollment_id)
    assert details.refunded == usd("0")
    again = system.refund_payment(payment_id, usd("20.00"), actor="admin")
    assert again.status == "succeeded"


def test_a_refund_the_gateway_cannot_reach_waits_for_reconcile(
    system: PaymentSystem,
    fake: FakeGateway,
    outbox: Outbox,
    card_payment: tuple[str, str, str],
) -> None:
    """Pending and counted against the payment; ``reconcile`` sends it with the same key."""
    enrollment_id, payment_id, _ = card_payment
    fake.script("timeout_before", verb="refund")

    refund = system.refund_payment(payment_id, usd("30.00"), actor="admin")

    assert (refund.status, refund.gateway_refund_id) == ("pending", None)
    assert outbox.new() == []
    with refused(system, RefundExceedsPaidError):
        system.refund_payment(payment_id, usd("70.01"), actor="admin")

    report = system.reconcile()

    assert report.refunds_completed == 1
    keys = [c.params["idempotency_key"] for c in calls_of(fake, "refund")]
    assert keys == [f"refund:{refund.id}", f"refund:{refund.id}"]
    (event,) = outbox.new()
    assert (event.kind, event.data["refund_id"]) == ("refund.issued", refund.id)
    (stored,) = system.payment_details(enrollment_id).refunds
    assert stored.status == "succeeded"


def test_a_manual_payment_is_refunded_by_hand(clock: FrozenClock) -> None:
    """Done at once (method manual, no key), even without a gateway."""
    system = PaymentSystem(store=InMemoryStore(), clock=clock, ids=SequentialIds())
    product = system.register_product(
        product_type="c", product_id="c", name="C", price=usd("50.00")
    )
    result = system.enroll(user_id="u", product_id=product.id)
    payment = system.record_manual_payment(result.schedule[0].id, method="check", actor="a")
    mark = len(system.list_events())

    refund = system.refund_payment(payment.id, usd("50.00"), actor="admin")

    assert (refund.method, refund.status, refund.idempotency_key) == ("manual", "succeeded", None)
    (event,) = system.list_events()[mark:]
    assert (event.kind, event.data["method"]) == ("refund.issued", "manual")


class _WebhookFirstRefunds(FakeGateway):
    """A gateway whose webhook reports a refund succeeded before its answer says "pending"."""

    receiver: PaymentSystem | None = None

    def refund(self, **kwargs: Any) -> GatewayRefund:
        """Refund, deliver the charge.refunded webhook at once, then answer "pending"."""
        answer = super().refund(**kwargs)
        assert self.receiver is not None
        self.deliver(self.receiver)
        return attrs.evolve(answer, status="pending")


def test_a_refund_settled_by_its_webhook_is_not_reopened_by_a_late_answer() -> None:
    """Terminal refund states never regress: a "pending" answer after the webhook is ignored.

    Moved from tests/adversarial/test_webhook_attacks.py (in-memory store only).
    """
    clock = FrozenClock(START)
    fake = _WebhookFirstRefunds(clock=clock)
    system = PaymentSystem(store=InMemoryStore(), gateway=fake, clock=clock)
    product = system.register_product(
        product_type="c", product_id="p", name="P", price=usd("50.00")
    )
    result = system.enroll(user_id="u", product_id=product.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret)
    fake.deliver(system)
    (payment,) = system.payment_details(result.enrollment_id).payments
    fake.receiver = system

    refund = system.refund_payment(payment.id, usd("20.00"), actor="admin")

    (stored,) = system.payment_details(result.enrollment_id).refunds
    assert (refund.status, stored.status) == ("succeeded", "succeeded")
    actions = [e.action for e in system.audit_log(entity_id=refund.id)]
    assert actions == ["refund.created", "refund.succeeded"]
    system.reconcile()
    assert system.payment_details(result.enrollment_id).refunds[0].status == "succeeded"


# -- refusals ---------------------------------------------------------------------------


def test_an_unknown_payment_is_refused(system: PaymentSystem, fake: FakeGateway) -> None:
    """PaymentNotFoundError."""
    with refused(system, PaymentNotFoundError, fake=fake):
        system.refund_payment("pay_missing", usd("1.00"), actor="admin")


@pytest.mark.parametrize(
    ("amount", "kwargs", "error"),
    [
        (10.0, {}, MoneyTypeError),
        ("10", {}, MoneyTypeError),
        (Money.of("10", "EUR"), {}, CurrencyMismatchError),
        (Money(0, "USD"), {}, InvalidInputError),
        (Money(-5, "USD"), {}, InvalidInputError),
        (Money(100, "USD"), {"actor": ""}, InvalidInputError),
        (Money(100, "USD"), {"reason": "r" * 501}, InvalidInputError),
    ],
    ids=["float", "str", "eur", "zero", "negative", "actor", "long-reason"],
)
def test_bad_arguments_are_refused(
    system: PaymentSystem,
    fake: FakeGateway,
    card_payment: tuple[str, str, str],
    amount: Any,
    kwargs: dict[str, Any],
    error: type[Exception],
) -> None:
    """The typed error; nothing written, no gateway call."""
    _, payment_id, _ = card_payment
    arguments: dict[str, Any] = {"actor": "admin", **kwargs}
    with refused(system, error, fake=fake):
        system.refund_payment(payment_id, amount, **arguments)


def test_a_refusing_policy_denies_the_refund(clock: FrozenClock) -> None:
    """PermissionDeniedError before anything reaches the gateway."""
    fake = FakeGateway(clock=clock)
    system = PaymentSystem(
        store=InMemoryStore(), gateway=fake, clock=clock, ids=SequentialIds(),
        authorize=lambda actor, action, target: action != "refund",
    )  # fmt: skip
    product = system.register_product(
        product_type="c", product_id="c", name="C", price=usd("10.00")
    )
    result = enroll_and_pay(system, fake, product)
    (payment,) = system.payment_details(result.enrollment_id).payments
    events = system.list_events()

    with pytest.raises(PermissionDeniedError):
        system.refund_payment(payment.id, usd("1.00"), actor="intern")

    assert system.list_events() == events
    assert calls_of(fake, "refund") == []
    assert system.audit_log()[-1].action == "permission.denied"


# -- properties -------------------------------------------------------------------------


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(amounts=st.lists(st.integers(min_value=1, max_value=6_000), min_size=1, max_size=6))
def test_refunds_never_exceed_the_payment(amounts: list[int]) -> None:
    """Each refund is issued while room is left and refused after; issued ones sum to <= paid."""
    clock = FrozenClock(START)
    fake = FakeGateway(clock=clock)
    system = PaymentSystem(store=InMemoryStore(), gateway=fake, clock=clock, ids=SequentialIds())
    product = system.register_product(
        product_type="c", product_id="c", name="C", price=usd("100.00")
    )
    result = enroll_and_pay(system, fake, product)
    (payment,) = system.payment_details(result.enrollment_id).payments
    left = 10_000

    for minor in amounts:
        if minor <= left:
            system.refund_payment(payment.id, Money(minor, "USD"), actor="a")
            left -= minor
        else:
            with refused(system, RefundExceedsPaidError, fake=fake):
                system.refund_payment(payment.id, Money(minor, "USD"), actor="a")

    assert system.payment_details(result.enrollment_id).refunded == Money(10_000 - left, "USD")
    issued = [e.data["amount"]["minor"] for e in system.list_events() if e.kind == "refund.issued"]
    assert sum(issued) == 10_000 - left
