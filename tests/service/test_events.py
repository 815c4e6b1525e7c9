"""Domain events: every state change leaves its events in the outbox; dispatch hands them out."""

from __future__ import annotations

from datetime import datetime

import pytest

from enrollpay import Installments, Money, PaymentSystem, PlanRule
from enrollpay.domain.events import EVENT_KINDS, DomainEvent
from enrollpay.domain.records import Product
from enrollpay.errors import OverpaymentError
from enrollpay.testing import FakeGateway, FrozenClock
from tests.service.conftest import usd


def kinds(system: PaymentSystem, *, enrollment_id: str | None = None) -> list[str]:
    """The kinds of the outbox's events, oldest first (optionally of one enrollment)."""
    return [
        e.kind
        for e in system.list_events()
        if enrollment_id is None or e.enrollment_id == enrollment_id
    ]


@pytest.fixture
def on_installments(system: PaymentSystem, course: Product) -> Product:
    """The course, sold on three monthly installments."""
    system.set_plan_rules([PlanRule(plan=Installments(3))])
    return course


def paid_enrollment(system: PaymentSystem, fake: FakeGateway, product: Product) -> str:
    """Enroll u-1 and pay the first installment on-session (with its webhook)."""
    result = system.enroll(user_id="u-1", product_id=product.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret)
    fake.deliver(system)
    return result.enrollment_id


def test_enrolling_and_paying_leaves_activated_and_access_granted(
    system: PaymentSystem, fake: FakeGateway, on_installments: Product
) -> None:
    """Created at enrollment; the first payment adds installment.paid, activated, granted."""
    result = system.enroll(user_id="u-1", product_id=on_installments.id)
    assert kinds(system) == ["enrollment.created"]
    assert result.client_secret is not None

    fake.complete_payment(result.client_secret)
    fake.deliver(system)

    events = system.list_events()
    assert [e.kind for e in events] == [
        "enrollment.created",
        "installment.paid",
        "enrollment.activated",
        "access.granted",
    ]
    assert {e.enrollment_id for e in events} == {result.enrollment_id}
    assert len({e.id for e in events}) == len(events)
    assert all(e.kind in EVENT_KINDS for e in events)
    paid = events[1]
    assert paid.data["item_id"] == result.schedule[0].id
    assert paid.data["paid"] == {"minor": 10000, "currency": "USD"}
    assert events[2].data == {"from": "pending_payment", "to": "active"}


def test_a_declined_installment_says_when_it_is_retried(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, on_installments: Product
) -> None:
    """payment.failed carries the decline and the next retry time; the enrollment falls past due."""
    enrollment_id = paid_enrollment(system, fake, on_installments)
    fake.script(fake.decline("insufficient_funds"))
    clock.advance(days=31)

    system.collect_due()

    new = system.list_events()[4:]
    assert [e.kind for e in new] == ["payment.failed", "enrollment.past_due"]
    failed = new[0]
    retry_at = datetime.fromisoformat(failed.data["next_retry_at"])
    assert failed.data["decline_code"] == "insufficient_funds"
    assert failed.data["failures"] == 1
    assert retry_at - clock.now() == system.config.retry_policy.delays[0]
    assert failed.enrollment_id == enrollment_id


def test_cancelling_revokes_access_and_issues_the_refund(
    system: PaymentSystem, fake: FakeGateway, on_installments: Product
) -> None:
    """Cancel with a refund: items and enrollment cancelled, access revoked, refund issued."""
    enrollment_id = paid_enrollment(system, fake, on_installments)

    system.cancel_enrollment(enrollment_id, reason="moving", actor="admin", refund_amount=usd("40"))

    new = kinds(system)[4:]
    assert new == [
        "installment.cancelled",
        "installment.cancelled",
        "enrollment.cancelled",
        "access.revoked",
        "refund.issued",
    ]
    refund = system.list_events()[-1]
    assert refund.data["amount"] == {"minor": 4000, "currency": "USD"}


def test_a_refused_operation_leaves_no_event(
    system: PaymentSystem, on_installments: Product
) -> None:
    """An overpayment is refused and rolled back: the outbox holds nothing new."""
    result = system.enroll(user_id="u-1", product_id=on_installments.id)
    before = system.list_events()
    with pytest.raises(OverpaymentError):
        system.record_manual_payment(
            result.schedule[1].id,
            method="cash",
            reference="R-1",
            actor="admin",
            amount=Money.of("500", "USD"),
        )
    assert system.list_events() == before


def test_manual_partial_then_full_payment(system: PaymentSystem, on_installments: Product) -> None:
    """A partial payment by hand is announced as such; the rest pays the item.

    Something paid means the enrollment is no longer waiting for its first
    payment (the derived-status rule), so it activates.
    """
    result = system.enroll(user_id="u-1", product_id=on_installments.id)
    item = result.schedule[1]
    for amount in ("30", "70"):
        system.record_manual_payment(
            item.id, method="cash", reference=f"R-{amount}", actor="admin", amount=usd(amount)
        )
    assert kinds(system) == [
        "enrollment.created",
        "installment.partially_paid",
        "installment.paid",
        "enrollment.activated",
        "access.granted",
    ]


def test_dispatch_hands_out_every_event_once_in_order(
    system: PaymentSystem, fake: FakeGateway, on_installments: Product
) -> None:
    """Each event reaches the handler once, in order; a second run finds nothing new."""
    paid_enrollment(system, fake, on_installments)
    seen: list[DomainEvent] = []

    assert system.dispatch_events(seen.append) == 4
    assert seen == system.list_events()
    assert system.dispatch_events(seen.append) == 0
    assert system.list_events(delivered=False) == []
    assert system.list_events(delivered=True) == seen


def test_a_failing_handler_leaves_its_event_and_the_later_ones(
    system: PaymentSystem, fake: FakeGateway, on_installments: Product
) -> None:
    """The handler raises on the third event: two delivered, the rest wait, the error surfaces."""
    paid_enrollment(system, fake, on_installments)
    seen: list[str] = []

    def flaky(event: DomainEvent) -> None:
        if len(seen) == 2:
            raise RuntimeError("consumer down")
        seen.append(event.kind)

    with pytest.raises(RuntimeError, match="consumer down"):
        system.dispatch_events(flaky)
    assert [e.kind for e in system.list_events(delivered=False)] == [
        "enrollment.activated",
        "access.granted",
    ]

    later: list[str] = []
    assert system.dispatch_events(lambda e: later.append(e.kind)) == 2
    assert later == ["enrollment.activated", "access.granted"]


def test_dispatch_limit_bounds_one_run(
    system: PaymentSystem, fake: FakeGateway, on_installments: Product
) -> None:
    """``limit`` delivers at most that many; the next run continues where it stopped."""
    paid_enrollment(system, fake, on_installments)
    first: list[str] = []
    rest: list[str] = []

    assert system.dispatch_events(lambda e: first.append(e.kind), limit=3) == 3
    assert system.dispatch_events(lambda e: rest.append(e.kind)) == 1
    assert first + rest == kinds(system)
    with pytest.raises(ValueError, match="limit"):
        system.dispatch_events(first.append, limit=-1)  # type: ignore[arg-type]


def test_a_second_dispatcher_waits_for_the_first(
    system: PaymentSystem, fake: FakeGateway, on_installments: Product
) -> None:
    """While a handler runs, another dispatch finds the lease taken and delivers nothing."""
    paid_enrollment(system, fake, on_installments)
    nested: list[int] = []

    def handler(event: DomainEvent) -> None:
        if not nested:
            nested.append(system.dispatch_events(lambda e: None))

    assert system.dispatch_events(handler) == 4
    assert nested == [0]
