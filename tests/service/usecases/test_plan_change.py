"""Use cases ``change_plan`` and ``preview_plan_change``: the balance left, on another plan."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from enrollpay import AttemptStatus, EnrollmentStatus, ItemStatus, PaymentSystem
from enrollpay.domain.calendar import Interval
from enrollpay.domain.discounts import Coupon
from enrollpay.domain.plans import Deposit, FullPayment, Installments, Subscription
from enrollpay.domain.records import Product, ScheduleItem
from enrollpay.errors import (
    EnrollmentNotFoundError,
    InvalidInputError,
    ItemNotPayableError,
    PermissionDeniedError,
    PlanError,
    PlanNotOffered,
)
from enrollpay.errors_plan_change import PlanChangeBlocked, PlanChangeRefused
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds
from tests.service.conftest import START, usd
from tests.service.usecases.support import (
    Outbox,
    audited,
    calls_of,
    enroll_and_pay,
    everything,
    kinds,
    refused,
    run_retries,
)

TODAY = START.date()
SIX = Installments(6)
WITH_DEPOSIT = Installments(4, deposit=Deposit.percent(25))


@pytest.fixture
def twelve(system: PaymentSystem) -> Product:
    """A 1,200.00 USD course on twelve monthly 100.00 installments; six, 4 + deposit, or full."""
    return system.register_product(
        product_type="course",
        product_id="twelve",
        name="Twelve installments",
        price=usd("1200.00"),
        payment_plan=Installments(12),
        offered_plans=(SIX, WITH_DEPOSIT),
    )


@pytest.fixture
def enrolled(system: PaymentSystem, fake: FakeGateway, outbox: Outbox, twelve: Product) -> str:
    """u-1 on twelve installments, the first paid on-session (card saved); outbox marked."""
    result = enroll_and_pay(system, fake, twelve)
    outbox.mark()
    return result.enrollment_id


def by_seq(system: PaymentSystem, enrollment_id: str) -> list[ScheduleItem]:
    """The enrollment's items in sequence order."""
    return sorted(system.list_schedule_items(enrollment_id=enrollment_id), key=lambda i: i.seq)


def schedule(system: PaymentSystem, enrollment_id: str) -> list[tuple[int, ItemStatus, int]]:
    """``(seq, status, version)`` of every item of the enrollment."""
    return [(i.seq, i.status, i.schedule_version) for i in by_seq(system, enrollment_id)]


def owed(system: PaymentSystem, enrollment_id: str) -> int:
    """What the enrollment's open items still owe, in cents."""
    items = system.list_schedule_items(enrollment_id=enrollment_id)
    return sum(
        i.outstanding.minor
        for i in items
        if i.status in (ItemStatus.SCHEDULED, ItemStatus.FAILED, ItemStatus.PROCESSING)
    )


def test_twelve_monthly_to_six_monthly_supersedes_and_adds_version_two(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, enrolled: str
) -> None:
    """Eleven open items superseded; six new ones from today; the balance unchanged; audited."""
    calls = len(fake.calls)

    result = system.change_plan(enrolled, SIX, actor="admin")

    assert schedule(system, enrolled) == [
        (1, ItemStatus.PAID, 1),
        *[(n, ItemStatus.SUPERSEDED, 1) for n in range(2, 13)],
        *[(n, ItemStatus.SCHEDULED, 2) for n in range(13, 19)],
    ]
    added = by_seq(system, enrolled)[12:]
    assert [i.due for i in added] == [date(2027, m, 15) for m in range(3, 9)]
    assert sum(i.amount.minor for i in added) == 110000
    assert owed(system, enrolled) == 110000
    assert result.added == tuple(added)
    assert result.enrollment == system.get_enrollment(enrolled)
    assert result.enrollment.plan == SIX
    assert result.enrollment.status == EnrollmentStatus.ACTIVE
    assert result.cancelled_attempts == ()
    (event,) = outbox.new()
    assert (event.kind, event.enrollment_id) == ("schedule.changed", enrolled)
    assert event.data == result.change.summary()
    assert event.data["owed"] == {"minor": 110000, "currency": "USD"}
    assert (event.data["old_version"], event.data["new_version"]) == (1, 2)
    (entry,) = audited(system, enrolled, "plan.changed")
    assert entry.actor == "admin"
    assert entry.data["superseded"] == [i.id for i in result.superseded]
    assert entry.data["added"] == [i.id for i in added]
    assert fake.calls[calls:] == []


def test_collection_charges_the_new_items_and_never_a_superseded_one(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, enrolled: str
) -> None:
    """Today the first new item; months later only new items, never the old ones."""
    result = system.change_plan(enrolled, SIX, actor="admin")
    new_ids = [i.id for i in result.added]

    system.collect_due()
    for _ in range(2):
        clock.advance(timedelta(days=31))
        system.collect_due()

    charged = [c.params["metadata"]["item_id"] for c in calls_of(fake, "charge_off_session")]
    assert charged == new_ids[:3]
    old = {i.id for i in result.superseded}
    assert all(i.status == ItemStatus.SUPERSEDED for i in system.list_schedule_items()
               if i.id in old)  # fmt: skip
    assert system.get_enrollment(enrolled).status == EnrollmentStatus.ACTIVE


def test_the_rest_in_full_is_one_item_due_today(system: PaymentSystem, enrolled: str) -> None:
    """FullPayment: one ``full`` item of 1,100.00 due today."""
    result = system.change_plan(enrolled, FullPayment(), actor="admin")

    (item,) = result.added
    assert (item.kind, item.due, item.amount, item.seq) == ("full", TODAY, usd("1100.00"), 13)


def test_a_deposit_plan_after_a_payment_drops_the_deposit(
    system: PaymentSystem, enrolled: str
) -> None:
    """Something was paid: four installments of 275.00, no second deposit."""
    result = system.change_plan(enrolled, WITH_DEPOSIT, actor="admin")

    assert result.change.deposit_dropped
    assert [(i.kind, i.amount) for i in result.added] == [("installment", usd("275.00"))] * 4


def test_the_preview_is_what_the_change_does_and_writes_nothing(
    system: PaymentSystem, fake: FakeGateway, enrolled: str
) -> None:
    """Same diff as the change made after it; state, outbox and gateway untouched."""
    before = everything(system)
    calls = len(fake.calls)

    preview = system.preview_plan_change(enrolled, FullPayment(), at=TODAY + timedelta(days=3))

    assert everything(system) == before
    assert fake.calls[calls:] == []
    assert [(line.due, line.amount) for line in preview.due_now] == [
        (TODAY + timedelta(days=3), usd("1100.00"))
    ]
    assert len(preview.was_due) == 11
    made = system.change_plan(enrolled, FullPayment(), at=TODAY + timedelta(days=3))
    assert made.change == preview


def test_a_failed_item_waiting_for_its_retry_has_the_retry_cancelled(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, enrolled: str
) -> None:
    """The declined attempt is cancelled through the machine; the enrollment recovers."""
    fake.script(fake.decline())
    run_retries(system, clock, 1)
    failed = by_seq(system, enrolled)[1]
    assert failed.status == ItemStatus.FAILED
    assert system.get_enrollment(enrolled).status == EnrollmentStatus.PAST_DUE
    outbox.mark()
    calls = len(fake.calls)

    result = system.change_plan(enrolled, SIX, actor="admin")

    (attempt,) = result.cancelled_attempts
    assert attempt.status == AttemptStatus.CANCELED
    assert attempt.item_id == failed.id
    after = system.get_schedule_item(failed.id)
    assert (after.status, after.next_attempt_at) == (ItemStatus.SUPERSEDED, None)
    assert kinds(outbox.new()) == ["payment.canceled", "schedule.changed", "enrollment.activated"]
    assert result.enrollment.status == EnrollmentStatus.ACTIVE
    assert fake.calls[calls:] == []  # an off-session decline has nothing open at the gateway
    assert owed(system, enrolled) == 110000


def test_a_charge_with_an_unknown_outcome_blocks_the_change(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, enrolled: str
) -> None:
    """Sent, no answer: PlanChangeBlocked names the attempt; nothing written."""
    fake.script("timeout_after")
    run_retries(system, clock, 1)
    (attempt,) = [
        a for a in system.payment_details(enrolled).attempts if a.status == AttemptStatus.UNKNOWN
    ]

    with refused(system, PlanChangeBlocked, fake=fake, match="retry after it settles") as info:
        system.change_plan(enrolled, SIX, actor="admin")
    assert isinstance(info.value, PlanChangeBlocked)
    assert info.value.attempt_id == attempt.id
    with refused(system, PlanChangeBlocked, fake=fake):
        system.preview_plan_change(enrolled, SIX)


SEPA = "pm_sepa_debit"


def test_a_bank_debit_processing_blocks_the_change(
    system: PaymentSystem, fake: FakeGateway, twelve: Product
) -> None:
    """A SEPA debit not settled yet: refused, the attempt named."""
    enrolled = system.enroll(user_id="u-1", product_id=twelve.id)
    assert enrolled.client_secret is not None
    fake.complete_payment(enrolled.client_secret, "processing", payment_method=SEPA)
    fake.deliver(system)
    (attempt,) = system.payment_details(enrolled.enrollment_id).attempts
    assert attempt.status == AttemptStatus.PROCESSING

    with refused(system, PlanChangeBlocked, fake=fake) as info:
        system.change_plan(enrolled.enrollment_id, SIX, actor="admin")
    assert isinstance(info.value, PlanChangeBlocked)
    assert info.value.attempt_id == attempt.id


def test_a_paused_enrollment_is_refused(system: PaymentSystem, enrolled: str) -> None:
    """Paused: typed refusal, nothing written."""
    system.pause(enrolled, actor="admin")
    with refused(system, PlanChangeRefused, match="paused"):
        system.change_plan(enrolled, SIX, actor="admin")


def test_a_cancelled_enrollment_is_refused(system: PaymentSystem, enrolled: str) -> None:
    """Cancelled: typed refusal."""
    system.cancel_enrollment(enrolled, reason="left", actor="admin")
    with refused(system, PlanChangeRefused, match="cancelled"):
        system.change_plan(enrolled, SIX, actor="admin")


@pytest.mark.parametrize(
    ("plan", "error", "match"),
    [
        (Installments(3), PlanNotOffered, "not offered"),
        (Installments(12), PlanChangeRefused, "same_plan"),
        (Subscription(Interval.months(1)), PlanChangeRefused, "subscription"),
    ],
)
def test_plans_that_are_not_a_change_to_an_offered_plan_are_refused(
    system: PaymentSystem,
    fake: FakeGateway,
    enrolled: str,
    plan: Installments | Subscription,
    error: type[Exception],
    match: str,
) -> None:
    """Not offered, the current one, a subscription: typed errors, nothing written."""
    with refused(system, error, fake=fake, match=match):
        system.change_plan(enrolled, plan, actor="admin")


def test_bad_input_is_refused(system: PaymentSystem, enrolled: str) -> None:
    """A past start, a datetime, an unknown enrollment, a refused actor."""
    with refused(system, InvalidInputError, match="past"):
        system.change_plan(enrolled, SIX, at=TODAY - timedelta(days=1))
    with refused(system, InvalidInputError, match="must be a date"):
        system.preview_plan_change(enrolled, SIX, at=START)
    with refused(system, EnrollmentNotFoundError):
        system.change_plan("enr_nope", SIX)


def test_the_authorisation_policy_is_asked(fake: FakeGateway, clock: FrozenClock) -> None:
    """A denied actor: PermissionDeniedError, only the denial audited."""
    system = PaymentSystem(
        store=InMemoryStore(),
        gateway=fake,
        clock=clock,
        ids=SequentialIds(),
        authorize=lambda actor, action, target: action != "change_plan",
    )
    product = system.register_product(
        product_type="course",
        product_id="twelve",
        name="Twelve",
        price=usd("1200.00"),
        payment_plan=Installments(12),
        offered_plans=(SIX,),
    )
    enrolled = enroll_and_pay(system, fake, product).enrollment_id
    with pytest.raises(PermissionDeniedError):
        system.change_plan(enrolled, SIX, actor="intern")
    assert [e.action for e in system.audit_log()][-1] == "permission.denied"
    assert system.get_enrollment(enrolled).plan == Installments(12)


def test_a_coupon_for_installments_only_refuses_full_payment_but_allows_six(
    system: PaymentSystem, fake: FakeGateway, twelve: Product
) -> None:
    """The discount is never lost: refused for full payment; kept on six installments."""
    system.create_coupon(Coupon("INST", percent_off=1000, plan_kinds={"installments"}))
    result = system.enroll(user_id="u-1", product_id=twelve.id, coupon="INST")
    assert result.enrollment.price == usd("1080.00")
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret)
    fake.deliver(system)

    with refused(system, PlanChangeRefused, fake=fake, match="coupon"):
        system.change_plan(result.enrollment_id, FullPayment(), actor="admin")
    changed = system.change_plan(result.enrollment_id, SIX, actor="admin")

    assert changed.change.owed_after == usd("990.00")
    assert sum(i.amount.minor for i in changed.added) == 99000


def test_a_cancellation_after_a_plan_change_refunds_on_what_was_paid(
    system: PaymentSystem, fake: FakeGateway, enrolled: str
) -> None:
    """The quote depends on payments only; the new open items are cancelled, not the old ones."""
    quote_before = system.quote_cancellation(enrolled)
    system.change_plan(enrolled, SIX, actor="admin")
    assert system.quote_cancellation(enrolled) == quote_before

    result = system.cancel_enrollment(enrolled, reason="left", actor="admin")

    assert result.refund_total == quote_before.refund
    assert quote_before.paid == usd("100.00")
    assert result.cancelled_items == 6
    statuses = [s for _, s, _ in schedule(system, enrolled)]
    assert statuses == [
        ItemStatus.PAID,
        *[ItemStatus.SUPERSEDED] * 11,
        *[ItemStatus.CANCELLED] * 6,
    ]


def test_a_second_change_makes_version_three(system: PaymentSystem, enrolled: str) -> None:
    """Six installments, then the rest in full: version 3, the version 2 items superseded."""
    system.change_plan(enrolled, SIX, actor="admin")
    result = system.change_plan(enrolled, FullPayment(), actor="admin")

    assert result.change.old_version == 2
    assert [i.seq for i in result.superseded] == list(range(13, 19))
    assert [(i.seq, i.schedule_version, i.amount) for i in result.added] == [
        (19, 3, usd("1100.00"))
    ]
    assert owed(system, enrolled) == 110000


def test_a_balance_below_the_gateway_minimum_per_payment_is_refused(clock: FrozenClock) -> None:
    """100.00 left over six payments, the gateway's minimum 100.00: PlanError, nothing written."""
    fake = FakeGateway(clock=clock, minimums={"USD": usd("100.00")})
    system = PaymentSystem(store=InMemoryStore(), gateway=fake, clock=clock, ids=SequentialIds())
    product = system.register_product(
        product_type="course",
        product_id="twelve",
        name="Twelve",
        price=usd("1200.00"),
        payment_plan=Installments(12),
        offered_plans=(SIX,),
    )
    enrolled = enroll_and_pay(system, fake, product).enrollment_id
    for item in by_seq(system, enrolled)[1:11]:
        system.waive_item(item.id, actor="admin")

    with refused(system, PlanError, fake=fake, match="minimum"):
        system.change_plan(enrolled, SIX, actor="admin")
    assert system.preview_plan_change(enrolled, FullPayment()).owed_after == usd("100.00")


def test_a_superseded_item_can_be_neither_paid_by_hand_nor_checked_out(
    system: PaymentSystem, fake: FakeGateway, enrolled: str
) -> None:
    """Its balance moved: a manual payment or a checkout on it is refused, nothing written."""
    result = system.change_plan(enrolled, SIX, actor="admin")
    old = result.superseded[0].id

    with refused(system, ItemNotPayableError, fake=fake, match="superseded"):
        system.record_manual_payment(old, method="cash", actor="admin")
    with refused(system, ItemNotPayableError, fake=fake, match="superseded"):
        system.start_payment(old)
