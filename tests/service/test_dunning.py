"""Dunning and access, as scenarios on every store (memory, SQLite, PostgreSQL).

Issue 16's scenarios: an installment never charged falls overdue and
suspends access, and a payment by hand restores it; a weekly plan on a
declining card runs one retry cycle at a time and its arrears are collected
in order once the card is replaced; after the final failure nothing is
charged automatically (zero gateway calls for a month), or the enrollment is
cancelled under the ``cancel`` policy; a Visa card retried daily hits
the network's cap and its next retry is moved, not sent. Each asserts the
end state, the events and the fake gateway's request log.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from enrollpay import Installments, Interval, Money, PaymentSystem, RetryPolicy
from enrollpay.domain.dunning import FinalFailure
from enrollpay.domain.lifecycle import EnrollmentStatus, ItemStatus
from enrollpay.domain.records import Product
from enrollpay.errors import InvalidInputError
from enrollpay.ports import Store
from enrollpay.service.base import SystemConfig
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds


def weekly(system: PaymentSystem) -> Product:
    """A 400.00 USD bootcamp in four weekly installments."""
    return system.register_product(
        product_type="course",
        product_id="bootcamp",
        name="Bootcamp",
        price=Money.of("400", "USD"),
        payment_plan=Installments(4, interval=Interval.weeks(1)),
    )


def charges(fake: FakeGateway, since: int = 0) -> list[str]:
    """The idempotency keys of the off-session charges the fake received."""
    return [
        str(c.params["idempotency_key"])
        for c in fake.calls[since:]
        if c.verb == "charge_off_session"
    ]


def statuses(system: PaymentSystem, enrollment_id: str) -> list[str]:
    """The items' statuses, by sequence."""
    return [str(i.status) for i in system.payment_details(enrollment_id).items]


def new_card(system: PaymentSystem, fake: FakeGateway, method: str) -> None:
    """``u-1`` saves ``method`` in the gateway's card form (the webhook not delivered yet)."""
    secret = system.start_payment_method_update("u-1")
    fake.complete_setup(secret, payment_method=method)


def enroll_paid(system: PaymentSystem, fake: FakeGateway, product: Product) -> str:
    """Enroll ``u-1`` and pay the first installment on-session (webhook delivered)."""
    result = system.enroll(user_id="u-1", product_id=product.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret, payment_method="pm_card_visa")
    fake.deliver(system)
    return result.enrollment_id


def test_a_never_charged_installment_suspends_access_and_a_payment_by_hand_restores_it(
    store: Store, clock: FrozenClock
) -> None:
    """No gateway at all: overdue after the grace, suspended later, restored by a transfer."""
    system = PaymentSystem(store=store, clock=clock, ids=SequentialIds())
    product = system.register_product(
        product_type="course", product_id="c", name="C", price=Money.of("300", "USD"),
        payment_plan=Installments(3),
    )  # fmt: skip
    result = system.enroll(user_id="u-1", product_id=product.id)
    first, second, _ = (i.id for i in result.schedule)
    system.record_manual_payment(first, method="cash", actor="bursar")
    mark = len(system.list_events())

    clock.set(clock.now().replace(month=4, day=19))  # due 04-15, three days of grace
    assert system.sweep().items_overdue == 1
    assert system.get_enrollment(result.enrollment_id).status == EnrollmentStatus.PAST_DUE
    clock.advance(days=12)
    assert system.sweep().suspended == 0
    clock.advance(days=1)  # 14 days overdue
    assert system.sweep().suspended == 1
    suspended = system.get_enrollment(result.enrollment_id)
    assert (suspended.status, system.has_access(suspended)) == (EnrollmentStatus.SUSPENDED, False)
    assert system.sweep().changed == 0  # idempotent

    system.record_manual_payment(second, method="bank_transfer", reference="T-2", actor="bursar")
    restored = system.get_enrollment(result.enrollment_id)
    assert (restored.status, system.has_access(restored)) == (EnrollmentStatus.ACTIVE, True)
    assert [e.kind for e in system.list_events()[mark:]] == [
        "installment.overdue",
        "enrollment.past_due",
        "enrollment.suspended",
        "access.suspended",
        "installment.paid",
        "enrollment.activated",
        "access.restored",
    ]


def test_a_declining_card_runs_one_retry_cycle_and_the_arrears_follow_in_order(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock
) -> None:
    """Weekly items, a card declining: item 3 waits for item 2's cycle; a new card pays both."""
    enrollment_id = enroll_paid(system, fake, weekly(system))
    fake.script(*[fake.decline()] * 4)
    start = len(fake.calls)
    for _ in range(21):  # three weeks, collecting every day
        clock.advance(days=1)
        system.collect_due()
    details = system.payment_details(enrollment_id)
    second, third, fourth = details.items[1:]
    # Item 2 fell due on day 7 and was tried on days 7, 8, 11 and 18; items 3
    # (day 14) and 4 (day 21) were never charged on their own.
    assert charges(fake, start) == [f"item:{second.id}:attempt:{n}" for n in (1, 2, 3, 4)]
    assert statuses(system, enrollment_id) == ["paid", "defaulted", "scheduled", "scheduled"]
    assert details.enrollment.status == EnrollmentStatus.SUSPENDED

    mark = len(fake.calls)
    events_before = len(system.list_events())
    new_card(system, fake, "pm_card_mastercard")
    outcomes = system.update_payment_method("u-1", "pm_card_mastercard")
    assert [(o.item_id, o.result) for o in outcomes] == [
        (second.id, "succeeded"),
        (third.id, "succeeded"),
        (fourth.id, "succeeded"),
    ]
    assert charges(fake, mark) == [
        f"item:{second.id}:attempt:5",
        f"item:{third.id}:attempt:1",
        f"item:{fourth.id}:attempt:1",
    ]
    assert statuses(system, enrollment_id) == ["paid"] * 4
    assert system.get_enrollment(enrollment_id).status == EnrollmentStatus.COMPLETED
    kinds = [e.kind for e in system.list_events()[events_before:]]
    assert kinds.count("installment.paid") == 3
    assert "access.restored" in kinds


def test_after_the_final_failure_nothing_is_charged_for_a_month(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock
) -> None:
    """Defaulted and suspended (the default policy): 30 days of collection, 0 gateway calls."""
    enrollment_id = enroll_paid(system, fake, weekly(system))
    fake.script(*[fake.decline()] * 4)
    for _ in range(18):
        clock.advance(days=1)
        system.collect_due()
    assert statuses(system, enrollment_id)[1] == "defaulted"
    mark = len(fake.calls)
    for _ in range(30):
        clock.advance(days=1)
        report = system.collect_due()
        assert report.outcomes == ()
    assert fake.calls[mark:] == []
    enrollment = system.get_enrollment(enrollment_id)
    assert enrollment.status == EnrollmentStatus.SUSPENDED
    assert statuses(system, enrollment_id) == ["paid", "defaulted", "scheduled", "scheduled"]


def declined_to_the_end(
    store: Store, fake: FakeGateway, clock: FrozenClock, policy: FinalFailure
) -> tuple[PaymentSystem, str]:
    """``u-1`` on the weekly plan under ``policy``; item 2 declined until its last retry fails."""
    config = SystemConfig(after_final_failure=policy)
    system = PaymentSystem(store=store, gateway=fake, clock=clock, config=config,
                           ids=SequentialIds())  # fmt: skip
    enrollment_id = enroll_paid(system, fake, weekly(system))
    fake.script(*[fake.decline()] * 4)
    for _ in range(18):
        clock.advance(days=1)
        system.collect_due()
    return system, enrollment_id


def test_the_cancel_policy_ends_the_enrollment_after_the_final_failure(
    store: Store, fake: FakeGateway, clock: FrozenClock
) -> None:
    """after_final_failure="cancel": the fourth decline cancels it; nothing is charged after."""
    system, enrollment_id = declined_to_the_end(store, fake, clock, "cancel")
    enrollment = system.get_enrollment(enrollment_id)
    assert enrollment.status == EnrollmentStatus.CANCELLED
    assert enrollment.cancel_reason == "payment retries exhausted"
    # Closing an enrollment cancels what it still owes, the defaulted item included.
    assert statuses(system, enrollment_id) == ["paid", "cancelled", "cancelled", "cancelled"]
    kinds = [e.kind for e in system.list_events()]
    assert kinds[-7:] == [
        "installment.defaulted",
        "enrollment.suspended",
        "access.suspended",
        "installment.cancelled",
        "installment.cancelled",
        "installment.cancelled",
        "enrollment.cancelled",
    ]
    mark = len(fake.calls)
    clock.advance(days=30)
    assert system.collect_due().outcomes == ()
    assert fake.calls[mark:] == []


def test_the_default_policy_puts_the_enrollment_in_default_until_the_payer_pays(
    store: Store, fake: FakeGateway, clock: FrozenClock
) -> None:
    """after_final_failure="default": defaulted, 30 days without a charge, a new card pays it up."""
    system, enrollment_id = declined_to_the_end(store, fake, clock, "default")
    enrollment = system.get_enrollment(enrollment_id)
    assert enrollment.status == EnrollmentStatus.DEFAULTED
    assert not system.payment_details(enrollment_id).has_access
    # The debt stays on the books: nothing is cancelled.
    assert statuses(system, enrollment_id) == ["paid", "defaulted", "scheduled", "scheduled"]
    kinds = [e.kind for e in system.list_events()]
    assert kinds[-4:] == [
        "installment.defaulted",
        "enrollment.suspended",
        "access.suspended",
        "enrollment.defaulted",
    ]
    mark, events = len(fake.calls), len(system.list_events())
    for _ in range(30):
        clock.advance(days=1)
        system.sweep()
        assert system.collect_due().outcomes == ()
    assert fake.calls[mark:] == []
    assert system.get_enrollment(enrollment_id).status == EnrollmentStatus.DEFAULTED
    # The calendar still speaks (items fall overdue), the status does not move.
    later = system.list_events()[events:]
    assert {e.kind for e in later} == {"installment.overdue"}
    # The payer acts: the arrears (the defaulted item and the two now due) are charged in order.
    new_card(system, fake, "pm_card_mastercard")
    outcomes = system.update_payment_method("u-1", "pm_card_mastercard")
    items = [i.id for i in system.payment_details(enrollment_id).items]
    assert [(o.item_id, o.result) for o in outcomes] == [
        (items[1], "succeeded"),
        (items[2], "succeeded"),
        (items[3], "succeeded"),
    ]
    assert charges(fake, mark) == [
        f"item:{items[1]}:attempt:5",
        f"item:{items[2]}:attempt:1",
        f"item:{items[3]}:attempt:1",
    ]
    enrollment = system.get_enrollment(enrollment_id)
    assert enrollment.status == EnrollmentStatus.COMPLETED
    assert statuses(system, enrollment_id) == ["paid", "paid", "paid", "paid"]
    kinds = [e.kind for e in system.list_events()[events:]]
    assert kinds.count("installment.paid") == 3
    assert kinds[-2:] == ["enrollment.completed", "access.restored"]


def test_a_visa_card_hitting_the_cap_is_retried_later_not_more(
    store: Store, fake: FakeGateway, clock: FrozenClock
) -> None:
    """Daily retries on a declining Visa card: 15 reattempts in 30 days, the 16th is moved.

    The second installment (04-15) is declined and retried every day; on
    05-01 the card has had 15 reattempts in 30 days, so the retry is moved
    to 05-16 (when the one of 04-16 leaves the window): no gateway call,
    ``payment.retry_capped``, the item still failed. Nothing is charged
    until 05-16, and then the retry goes out.
    """
    system = PaymentSystem(store=store, gateway=fake, clock=clock, ids=SequentialIds(),
                           retry_policy=RetryPolicy(delays=(1,) * 20))  # fmt: skip
    product = system.register_product(
        product_type="course", product_id="c", name="C", price=Money.of("200", "USD"),
        payment_plan=Installments(2),
    )  # fmt: skip
    enrollment_id = enroll_paid(system, fake, product)
    item_id = system.payment_details(enrollment_id).items[1].id
    fake.script(*[fake.decline()] * 16)
    due = datetime(2027, 4, 15, 9, 0, tzinfo=UTC)
    clock.set(due)
    for _ in range(16):  # 04-15 .. 04-30: the first charge and 15 reattempts
        system.collect_due()
        clock.advance(days=1)
    assert charges(fake) == [f"item:{item_id}:attempt:{n}" for n in range(1, 17)]
    mark, events_before = len(fake.calls), len(system.list_events())

    report = system.collect_due()  # 05-01

    moved_to = due + timedelta(days=31)
    assert [(o.item_id, o.result, o.retry_at) for o in report.outcomes] == [
        (item_id, "capped", moved_to)
    ]
    assert fake.calls[mark:] == []
    events = system.list_events()[events_before:]
    assert [(e.kind, dict(e.data)) for e in events] == [
        ("payment.retry_capped", {"item_id": item_id, "seq": 2, "card_brand": "visa",
                                  "next_retry_at": moved_to.isoformat()}),
    ]  # fmt: skip
    item = system.get_schedule_item(item_id)
    assert (item.status, item.failures, item.next_attempt_at) == (ItemStatus.FAILED, 16, moved_to)
    while clock.now() + timedelta(days=1) < moved_to:  # 05-02 .. 05-15: nothing is sent
        clock.advance(days=1)
        assert system.collect_due().outcomes == ()
    assert fake.calls[mark:] == []
    clock.set(moved_to)
    assert [o.result for o in system.collect_due().outcomes] == ["succeeded"]
    assert charges(fake, mark) == [f"item:{item_id}:attempt:17"]
    assert statuses(system, enrollment_id) == ["paid", "paid"]
    assert system.get_enrollment(enrollment_id).status == EnrollmentStatus.COMPLETED
    attempts = system.payment_details(enrollment_id).attempts[1:]
    assert [a.reattempt for a in attempts] == [False] + [True] * 16
    assert [a.card_brand for a in attempts] == ["visa"] * 16 + [None]  # a success names none


def test_a_paused_enrollment_is_never_charged(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock
) -> None:
    """Paused through two due dates: no gateway call at all."""
    enrollment_id = enroll_paid(system, fake, weekly(system))
    system.pause(enrollment_id, actor="admin")
    mark = len(fake.calls)
    for _ in range(15):
        clock.advance(days=1)
        system.collect_due()
    assert fake.calls[mark:] == []
    assert system.get_enrollment(enrollment_id).status == EnrollmentStatus.PAUSED


def test_an_unknown_final_failure_policy_is_refused() -> None:
    """A typo in after_final_failure is a typed error naming the choices."""
    with pytest.raises(InvalidInputError, match="after_final_failure"):
        SystemConfig(after_final_failure="forgive")  # type: ignore[arg-type]


def test_items_due_are_kept_in_due_order_when_several_enrollments_wait(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock
) -> None:
    """A card update pays the oldest arrears first across a payer's enrollments."""
    product = weekly(system)
    enrollment_id = enroll_paid(system, fake, product)
    other = system.register_product(
        product_type="course", product_id="c2", name="C2", price=Money.of("100", "USD"),
        payment_plan=Installments(2, interval=Interval.weeks(2)),
    )  # fmt: skip
    second_result = system.enroll(user_id="u-1", product_id=other.id)
    assert second_result.client_secret is not None
    fake.complete_payment(second_result.client_secret, payment_method="pm_card_visa")
    fake.deliver(system)
    fake.script(*[fake.decline("expired_card")] * 2)  # hard declines: a new card is needed
    clock.advance(days=7)
    system.collect_due()
    clock.advance(days=7)
    system.collect_due()
    waiting = [
        (i.due, i.id)
        for e in (enrollment_id, second_result.enrollment_id)
        for i in system.payment_details(e).items
        if i.status != ItemStatus.PAID and i.due <= clock.now().date()
    ]
    new_card(system, fake, "pm_card_mastercard")
    outcomes = system.update_payment_method("u-1", "pm_card_mastercard")
    assert [o.item_id for o in outcomes] == [item_id for _, item_id in sorted(waiting)]
    assert all(o.result == "succeeded" for o in outcomes)
    assert len(outcomes) == len(waiting) == 3
