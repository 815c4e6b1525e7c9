"""Use cases ``cancel_enrollment`` and ``quote_cancellation``: the end, its items, its refunds."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enrollpay import (
    EnrollmentStatus,
    Installments,
    ItemStatus,
    Money,
    PaymentSystem,
    RefundPolicy,
)
from enrollpay.domain.records import Product
from enrollpay.errors import (
    CurrencyMismatchError,
    EnrollmentNotFoundError,
    InvalidInputError,
    InvalidStateError,
    MoneyTypeError,
    PermissionDeniedError,
    RefundExceedsPaidError,
)
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds
from tests.service.conftest import START, usd
from tests.service.usecases.support import (
    Outbox,
    calls_of,
    enroll_and_pay,
    everything,
    kinds,
    refused,
    usd_data,
)


def pay_second_early(system: PaymentSystem, fake: FakeGateway, enrollment_id: str) -> None:
    """Charge the second installment now with the saved card."""
    item_id = system.list_schedule_items(enrollment_id=enrollment_id)[1].id
    assert system.retry_now(item_id).result == "succeeded"


def test_within_the_cooling_off_period_everything_paid_comes_back(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, paid_first: str
) -> None:
    """Open items cancelled, enrollment cancelled, access revoked, then ``refund.issued``."""
    result = system.cancel_enrollment(paid_first, reason="moving", actor="admin")

    assert result.refund_total == usd("100.00")
    assert result.cancelled_items == 2
    assert result.quote is not None
    assert result.quote.basis == "cooling_off"
    (refund,) = result.refunds
    (payment,) = system.payment_details(paid_first).payments
    assert (refund.payment_id, refund.amount, refund.method, refund.status) == (
        payment.id,
        usd("100.00"),
        "gateway",
        "succeeded",
    )
    assert (refund.reason, refund.actor) == ("moving", "admin")
    assert refund.idempotency_key == f"refund:{refund.id}"
    events = outbox.new()
    assert kinds(events) == [
        "installment.cancelled",
        "installment.cancelled",
        "enrollment.cancelled",
        "access.revoked",
        "refund.issued",
    ]
    assert [e.data["seq"] for e in events[:2]] == [2, 3]
    assert dict(events[2].data) == {"from": "active", "to": "cancelled"}
    assert dict(events[3].data) == {"status": "cancelled"}
    assert dict(events[4].data) == {
        "refund_id": refund.id,
        "payment_id": payment.id,
        "amount": usd_data(10000),
        "method": "gateway",
    }
    assert {e.enrollment_id for e in events} == {paid_first}
    (call,) = calls_of(fake, "refund")
    assert call.params == {
        "gateway_payment_id": payment.gateway_payment_id,
        "amount": usd("100.00"),
        "idempotency_key": refund.idempotency_key,
        "reference": refund.id,
    }
    details = system.payment_details(paid_first)
    enrollment = details.enrollment
    assert (enrollment.status, enrollment.cancel_reason, enrollment.cancelled_at) == (
        EnrollmentStatus.CANCELLED,
        "moving",
        START,
    )
    assert [i.status for i in details.items] == [
        ItemStatus.PAID,
        ItemStatus.CANCELLED,
        ItemStatus.CANCELLED,
    ]
    assert (details.refunded, details.outstanding) == (usd("100.00"), usd("0"))
    assert not details.has_access


def test_after_the_cooling_off_period_the_used_time_is_kept(
    system: PaymentSystem, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """Day 30 of 366: the school keeps 24.59 of the 300.00 price; 75.41 of 100.00 comes back."""
    clock.advance(days=30)

    result = system.cancel_enrollment(paid_first, reason="moving", actor="admin")

    assert result.quote is not None
    assert (result.quote.basis, result.quote.used_days, result.quote.total_days) == (
        "prorated",
        30,
        366,
    )
    assert result.quote.earned == usd("24.59")
    assert result.refund_total == usd("75.41")
    assert outbox.new()[-1].data["amount"] == usd_data(7541)


def test_a_policy_without_proration_refunds_nothing_after_the_window(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """No refund row, no refund event, no gateway call; the rest of the cancellation happens."""
    clock.advance(days=20)

    result = system.cancel_enrollment(
        paid_first, reason="late", actor="admin", policy=RefundPolicy(proration="none")
    )

    assert (result.refund_total, result.refunds) == (usd("0"), ())
    assert kinds(outbox.new()) == [
        "installment.cancelled",
        "installment.cancelled",
        "enrollment.cancelled",
        "access.revoked",
    ]
    assert calls_of(fake, "refund") == []


def test_the_products_refund_policy_is_used_before_the_systems(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox
) -> None:
    """A product with no cooling-off and no proration: nothing back on day 1."""
    strict = system.register_product(
        product_type="c", product_id="strict", name="Strict", price=usd("300.00"),
        payment_plan=Installments(3),
        refund_policy=RefundPolicy(cooling_off_days=0, proration="none"),
    )  # fmt: skip
    result = enroll_and_pay(system, fake, strict)
    clock.advance(days=1)

    cancelled = system.cancel_enrollment(result.enrollment_id, reason="r", actor="admin")

    assert cancelled.quote is not None
    assert (cancelled.quote.basis, cancelled.refund_total) == ("no_proration", usd("0"))


def test_an_explicit_amount_overrides_the_policy(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, paid_first: str
) -> None:
    """40.00 back, whatever the quote; the result carries no quote."""
    result = system.cancel_enrollment(
        paid_first, reason="goodwill", actor="admin", refund_amount=usd("40.00")
    )

    assert (result.refund_total, result.quote) == (usd("40.00"), None)
    assert outbox.new()[-1].data["amount"] == usd_data(4000)
    (call,) = calls_of(fake, "refund")
    assert call.params["amount"] == usd("40.00")


def test_refunds_come_from_the_most_recent_payment_first(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, paid_first: str
) -> None:
    """150.00 over two payments of 100.00: all of the newer, 50.00 of the older, in that order."""
    pay_second_early(system, fake, paid_first)
    first, second = system.payment_details(paid_first).payments
    outbox.mark()

    result = system.cancel_enrollment(
        paid_first, reason="r", actor="admin", refund_amount=usd("150.00")
    )

    assert [(r.payment_id, r.amount) for r in result.refunds] == [
        (second.id, usd("100.00")),
        (first.id, usd("50.00")),
    ]
    issued = [e for e in outbox.new() if e.kind == "refund.issued"]
    assert [(e.data["payment_id"], e.data["amount"]) for e in issued] == [
        (second.id, usd_data(10000)),
        (first.id, usd_data(5000)),
    ]
    assert [c.params["gateway_payment_id"] for c in calls_of(fake, "refund")] == [
        second.gateway_payment_id,
        first.gateway_payment_id,
    ]


def test_a_manual_payment_is_refunded_as_a_manual_refund(clock: FrozenClock) -> None:
    """Cash back is recorded as done at once (``refund.issued``, method manual), no gateway."""
    system = PaymentSystem(store=InMemoryStore(), clock=clock, ids=SequentialIds())
    product = system.register_product(
        product_type="c", product_id="c", name="C", price=usd("100.00")
    )
    result = system.enroll(user_id="u", product_id=product.id)
    payment = system.record_manual_payment(result.schedule[0].id, method="cash", actor="admin")
    mark = len(system.list_events())

    cancelled = system.cancel_enrollment(result.enrollment_id, reason="r", actor="admin")

    (refund,) = cancelled.refunds
    assert (refund.method, refund.status, refund.idempotency_key) == ("manual", "succeeded", None)
    events = system.list_events()[mark:]
    assert kinds(events) == ["enrollment.cancelled", "access.revoked", "refund.issued"]
    assert dict(events[0].data) == {"from": "completed", "to": "cancelled"}
    assert events[2].data == {
        "refund_id": refund.id,
        "payment_id": payment.id,
        "amount": usd_data(10000),
        "method": "manual",
    }


def test_cancelling_before_the_first_payment_closes_the_open_checkout(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, three: Product
) -> None:
    """Every item cancelled, no access to revoke, then the checkout cancelled at the gateway."""
    result = system.enroll(user_id="u-1", product_id=three.id)
    (checkout,) = system.payment_details(result.enrollment_id).attempts
    outbox.mark()

    cancelled = system.cancel_enrollment(result.enrollment_id, reason="r", actor="admin")

    assert (cancelled.cancelled_items, cancelled.refund_total) == (3, usd("0"))
    events = outbox.new()
    assert kinds(events) == [
        "installment.cancelled",
        "installment.cancelled",
        "installment.cancelled",
        "enrollment.cancelled",
        "payment.canceled",
    ]
    assert dict(events[3].data) == {"from": "pending_payment", "to": "cancelled"}
    assert events[4].data["attempt_id"] == checkout.id
    (cancel,) = calls_of(fake, "cancel_payment")
    assert cancel.params["idempotency_key"] == f"cancel:{checkout.id}"
    assert result.client_secret is not None
    assert len(fake.charges) == 0


def test_a_paused_enrollment_can_be_cancelled(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, paid_first: str
) -> None:
    """Paused items are cancelled; access went with the pause, so no ``access.revoked``."""
    system.pause(paid_first, actor="admin")
    outbox.mark()

    system.cancel_enrollment(paid_first, reason="r", actor="admin")

    assert kinds(outbox.new()) == [
        "installment.cancelled",
        "installment.cancelled",
        "enrollment.cancelled",
        "refund.issued",
    ]


def test_a_completed_enrollment_can_be_cancelled_with_a_refund(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, full: Product
) -> None:
    """Nothing open to cancel; the enrollment ends and the paid price comes back."""
    result = enroll_and_pay(system, fake, full)
    outbox.mark()

    cancelled = system.cancel_enrollment(result.enrollment_id, reason="r", actor="admin")

    assert (cancelled.cancelled_items, cancelled.refund_total) == (0, usd("299.99"))
    assert kinds(outbox.new()) == ["enrollment.cancelled", "access.revoked", "refund.issued"]


def test_a_refund_the_gateway_cannot_reach_stays_pending(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, paid_first: str
) -> None:
    """The cancellation stands; the refund waits (no refund event) for ``reconcile``."""
    fake.script("timeout_before", verb="refund")

    result = system.cancel_enrollment(paid_first, reason="r", actor="admin")

    (refund,) = result.refunds
    assert refund.status == "pending"
    assert kinds(outbox.new()) == [
        "installment.cancelled",
        "installment.cancelled",
        "enrollment.cancelled",
        "access.revoked",
    ]
    assert system.get_enrollment(paid_first).status == EnrollmentStatus.CANCELLED


def test_the_quote_writes_nothing_and_matches_the_cancellation(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, paid_first: str
) -> None:
    """quote_cancellation is read-only; cancelling the same day refunds what it said."""
    clock.advance(days=45)
    before = everything(system)
    calls = len(fake.calls)

    quote = system.quote_cancellation(paid_first)

    assert everything(system) == before
    assert fake.calls[calls:] == []
    assert quote.basis == "prorated"
    assert system.cancel_enrollment(paid_first, reason="r", actor="a").refund_total == quote.refund


def test_a_quote_for_a_later_day_keeps_more(
    system: PaymentSystem, paid_first: str
) -> None:  # fmt: skip
    """On a later day the school has earned more, so less comes back."""
    early = system.quote_cancellation(paid_first, on=date(2027, 4, 15))
    late = system.quote_cancellation(paid_first, on=date(2027, 6, 15))
    assert late.refund < early.refund
    assert late.earned > early.earned


# -- refusals ---------------------------------------------------------------------------


def test_cancelling_twice_is_refused(
    system: PaymentSystem, fake: FakeGateway, paid_first: str
) -> None:
    """InvalidStateError; no second refund."""
    system.cancel_enrollment(paid_first, reason="r", actor="admin")
    with refused(system, InvalidStateError, fake=fake, match="already cancelled"):
        system.cancel_enrollment(paid_first, reason="again", actor="admin")


def test_more_than_was_paid_is_refused(
    system: PaymentSystem, fake: FakeGateway, paid_first: str
) -> None:
    """RefundExceedsPaidError; the enrollment stays active."""
    with refused(system, RefundExceedsPaidError, fake=fake):
        system.cancel_enrollment(paid_first, reason="r", actor="admin", refund_amount=usd("100.01"))


def test_an_unknown_enrollment_is_refused(system: PaymentSystem, fake: FakeGateway) -> None:
    """EnrollmentNotFoundError."""
    with refused(system, EnrollmentNotFoundError, fake=fake):
        system.cancel_enrollment("enr_missing", reason="r", actor="admin")


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"reason": ""}, InvalidInputError),
        ({"reason": "x" * 501}, InvalidInputError),
        ({"actor": ""}, InvalidInputError),
        ({"refund_amount": 10.0}, MoneyTypeError),
        ({"refund_amount": Money.of("10", "EUR")}, CurrencyMismatchError),
        ({"refund_amount": Money(-100, "USD")}, InvalidInputError),
    ],
    ids=["empty-reason", "long-reason", "actor", "float", "eur", "negative"],
)
def test_bad_arguments_are_refused(
    system: PaymentSystem,
    fake: FakeGateway,
    paid_first: str,
    kwargs: dict[str, Any],
    error: type[Exception],
) -> None:
    """The typed error; nothing written, nothing refunded."""
    arguments: dict[str, Any] = {"reason": "r", "actor": "admin", **kwargs}
    with refused(system, error, fake=fake):
        system.cancel_enrollment(paid_first, **arguments)


def test_a_refusing_policy_denies_the_cancellation(clock: FrozenClock) -> None:
    """PermissionDeniedError; only the denial is audited."""
    system = PaymentSystem(
        store=InMemoryStore(), gateway=FakeGateway(clock=clock), clock=clock,
        ids=SequentialIds(), authorize=lambda actor, action, target: action != "cancel",
    )  # fmt: skip
    product = system.register_product(
        product_type="c", product_id="c", name="C", price=usd("10.00")
    )
    enrollment_id = system.enroll(user_id="u", product_id=product.id).enrollment_id
    events = system.list_events()

    with pytest.raises(PermissionDeniedError):
        system.cancel_enrollment(enrollment_id, reason="r", actor="intern")

    assert system.list_events() == events
    assert system.get_enrollment(enrollment_id).status == EnrollmentStatus.PENDING_PAYMENT
    assert system.audit_log()[-1].action == "permission.denied"


# -- properties -------------------------------------------------------------------------


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    days=st.integers(min_value=0, max_value=400),
    policy=st.builds(
        RefundPolicy,
        cooling_off_days=st.integers(min_value=0, max_value=30),
        proration=st.sampled_from(["time", "none"]),
    ),
)
def test_the_refund_never_exceeds_what_was_paid_and_is_issued_in_full(
    days: int, policy: RefundPolicy
) -> None:
    """Whatever the day and policy: 0 <= refund <= paid, and the issued refunds sum to it."""
    clock = FrozenClock(START)
    fake = FakeGateway(clock=clock)
    system = PaymentSystem(
        store=InMemoryStore(), gateway=fake, clock=clock, ids=SequentialIds(),
        refund_policy=policy,
    )  # fmt: skip
    product = system.register_product(
        product_type="c", product_id="c", name="C", price=usd("300.00"),
        payment_plan=Installments(3),
    )  # fmt: skip
    result = enroll_and_pay(system, fake, product)
    clock.advance(days=days)

    cancelled = system.cancel_enrollment(result.enrollment_id, reason="r", actor="admin")

    assert usd("0") <= cancelled.refund_total <= usd("100.00")
    issued = [e for e in system.list_events() if e.kind == "refund.issued"]
    assert sum(e.data["amount"]["minor"] for e in issued) == cancelled.refund_total.minor
    assert sum(c.params["amount"].minor for c in calls_of(fake, "refund")) == (
        cancelled.refund_total.minor
    )
