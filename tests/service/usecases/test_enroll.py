"""Use case ``enroll``: the enrollment, its schedule, first attempt, customer and events."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enrollpay import (
    AttemptStatus,
    Deposit,
    EnrollmentStatus,
    FullPayment,
    Installments,
    ItemStatus,
    Money,
    PaymentSystem,
    PlanRule,
    Subscription,
)
from enrollpay.domain.calendar import Interval
from enrollpay.domain.records import Product
from enrollpay.errors import (
    DuplicateEnrollmentError,
    InvalidInputError,
    PlanNotOffered,
    ProductInactiveError,
    ProductNotFoundError,
)
from enrollpay.service.enroll import MAX_METADATA_KEYS
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds
from enrollpay.testing import strategies as eps
from tests.service.conftest import START, usd
from tests.service.usecases.support import Outbox, calls_of, kinds, refused


def test_a_first_installment_due_today_opens_an_on_session_payment(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, three: Product
) -> None:
    """Pending payment, three items of 100.00 a month apart, the first being paid on-session."""
    result = system.enroll(user_id="u-1", product_id=three.id)

    assert result.requires_immediate_payment
    assert result.client_secret is not None
    assert result.payment_error is None
    assert result.payment_item_id == result.schedule[0].id
    assert result.payment_plan == Installments(3)
    enrollment = system.get_enrollment(result.enrollment_id)
    assert enrollment == result.enrollment
    assert enrollment.status == EnrollmentStatus.PENDING_PAYMENT
    assert enrollment.user_id == "u-1"
    assert enrollment.product_id == three.id
    assert enrollment.price == usd("300.00")
    assert enrollment.start_date == date(2027, 3, 15)
    assert enrollment.access_granted_at is None
    items = system.list_schedule_items(enrollment_id=result.enrollment_id)
    assert [(i.seq, i.due, i.amount) for i in items] == [
        (1, date(2027, 3, 15), usd("100.00")),
        (2, date(2027, 4, 15), usd("100.00")),
        (3, date(2027, 5, 15), usd("100.00")),
    ]
    assert [i.status for i in items] == [
        ItemStatus.PROCESSING,
        ItemStatus.SCHEDULED,
        ItemStatus.SCHEDULED,
    ]
    assert items[0].lease_until == START + system.config.checkout_window
    assert not system.has_access(enrollment)


def test_enrolling_leaves_exactly_enrollment_created(
    system: PaymentSystem, outbox: Outbox, three: Product
) -> None:
    """One event: ``enrollment.created`` with the user, the product and the status."""
    result = system.enroll(user_id="u-1", product_id=three.id)

    (event,) = outbox.new()
    assert event.kind == "enrollment.created"
    assert event.enrollment_id == result.enrollment_id
    assert event.at == START
    assert dict(event.data) == {
        "user_id": "u-1",
        "product_id": three.id,
        "status": "pending_payment",
    }


def test_the_first_attempt_is_written_before_the_gateway_call_with_its_key(
    system: PaymentSystem, fake: FakeGateway, three: Product
) -> None:
    """One customer, one payment intent for 100.00 under the attempt's deterministic key."""
    result = system.enroll(user_id="u-1", product_id=three.id)

    assert [c.verb for c in fake.calls] == ["ensure_customer", "start_payment"]
    (customer,) = calls_of(fake, "ensure_customer")
    assert customer.params == {"user_id": "u-1", "idempotency_key": "customer:u-1"}
    (attempt,) = system.payment_details(result.enrollment_id).attempts
    item_id = result.schedule[0].id
    assert attempt.status == AttemptStatus.PENDING
    assert attempt.mode == "on_session"
    assert attempt.number == 1
    assert attempt.amount == usd("100.00")
    assert attempt.item_id == item_id
    assert attempt.idempotency_key == f"item:{item_id}:attempt:1"
    assert attempt.gateway_payment_id is not None
    (start,) = calls_of(fake, "start_payment")
    assert start.params["amount"] == usd("100.00")
    assert start.params["idempotency_key"] == attempt.idempotency_key
    assert start.params["metadata"] == {
        "enrollment_id": result.enrollment_id,
        "item_id": item_id,
        "attempt_id": attempt.id,
    }
    assert fake.charges == []  # nothing is charged until the student pays


def test_a_student_who_has_a_customer_gets_no_second_one(
    system: PaymentSystem, fake: FakeGateway, three: Product, full: Product
) -> None:
    """The second enrollment of a user reuses the stored gateway customer."""
    system.enroll(user_id="u-1", product_id=three.id)
    before = len(fake.calls)

    system.enroll(user_id="u-1", product_id=full.id)

    assert [c.verb for c in fake.calls[before:]] == ["start_payment"]
    (first, second) = calls_of(fake, "start_payment")
    assert first.params["customer_id"] == second.params["customer_id"]


def test_full_payment_is_one_item_of_the_whole_price(
    system: PaymentSystem, fake: FakeGateway, full: Product
) -> None:
    """299.99 in one item due today; the session asks for exactly that."""
    result = system.enroll(user_id="u-1", product_id=full.id)

    (item,) = system.list_schedule_items(enrollment_id=result.enrollment_id)
    assert (item.kind, item.due, item.amount) == ("full", date(2027, 3, 15), usd("299.99"))
    assert result.payment_plan == FullPayment()
    (start,) = calls_of(fake, "start_payment")
    assert start.params["amount"] == usd("299.99")


def test_a_later_start_is_active_at_once_with_access_and_no_gateway_call(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, three: Product
) -> None:
    """Nothing due yet: active, access granted, ``created, activated, access.granted``."""
    result = system.enroll(user_id="u-1", product_id=three.id, start=date(2027, 4, 1))

    assert not result.requires_immediate_payment
    assert result.client_secret is None
    assert result.payment_item_id is None
    enrollment = system.get_enrollment(result.enrollment_id)
    assert enrollment.status == EnrollmentStatus.ACTIVE
    assert enrollment.access_granted_at == START
    assert system.has_access(enrollment)
    assert [i.due for i in result.schedule] == [
        date(2027, 4, 1),
        date(2027, 5, 1),
        date(2027, 6, 1),
    ]
    assert all(i.status == ItemStatus.SCHEDULED for i in result.schedule)
    assert fake.calls == []
    events = outbox.new()
    assert kinds(events) == ["enrollment.created", "enrollment.activated", "access.granted"]
    assert {e.enrollment_id for e in events} == {result.enrollment_id}
    assert dict(events[0].data)["status"] == "active"
    assert dict(events[1].data) == {"to": "active"}
    assert dict(events[2].data) == {"status": "active"}
    assert system.payment_details(result.enrollment_id).attempts == ()


def test_a_trial_subscription_waits_for_its_card_and_keeps_its_horizon_scheduled(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox
) -> None:
    """A 14-day trial: twelve periods ahead, pending without access, a setup flow opened."""
    product = system.register_product(
        product_type="membership",
        product_id="club",
        name="Club",
        price=usd("20.00"),
        payment_plan=Subscription(Interval.months(1), trial_days=14),
    )

    result = system.enroll(user_id="u-1", product_id=product.id)

    items = system.list_schedule_items(enrollment_id=result.enrollment_id)
    assert len(items) == system.config.subscription_horizon
    assert items[0].due == date(2027, 3, 29)
    assert all(i.amount == usd("20.00") for i in items)
    assert all(i.status == ItemStatus.SCHEDULED for i in items)
    enrollment = system.get_enrollment(result.enrollment_id)
    assert (enrollment.status, enrollment.awaiting_payment_method) == (
        EnrollmentStatus.PENDING_PAYMENT,
        True,
    )
    assert not system.has_access(enrollment)
    assert result.enrollment == enrollment
    assert not result.requires_immediate_payment
    assert (result.client_secret, result.payment_item_id, result.payment_error) == (
        None,
        None,
        None,
    )
    assert result.setup_client_secret == "seti_fake_000002_secret"
    assert outbox.new_kinds() == ["enrollment.created"]
    assert [(c.verb, dict(c.params)) for c in fake.calls] == [
        ("ensure_customer", {"user_id": "u-1", "idempotency_key": "customer:u-1"}),
        (
            "start_payment_method_update",
            {
                "customer_id": "cus_fake_000001",
                "idempotency_key": f"setup:enrollment:{result.enrollment_id}",
                "metadata": {"enrollment_id": result.enrollment_id},
            },
        ),
    ]
    assert system.payment_details(result.enrollment_id).attempts == ()


def test_without_a_gateway_a_trial_is_active_at_once(clock: FrozenClock) -> None:
    """No gateway, no card to collect: the trial starts at once, as a later start does."""
    system = PaymentSystem(store=InMemoryStore(), clock=clock, ids=SequentialIds())
    product = system.register_product(
        product_type="membership", product_id="club", name="Club", price=usd("20.00"),
        payment_plan=Subscription(Interval.months(1), trial_days=14),
    )  # fmt: skip

    result = system.enroll(user_id="u-1", product_id=product.id)

    enrollment = system.get_enrollment(result.enrollment_id)
    assert (enrollment.status, enrollment.awaiting_payment_method) == (
        EnrollmentStatus.ACTIVE,
        False,
    )
    assert result.setup_client_secret is None
    assert [e.kind for e in system.list_events()] == [
        "enrollment.created",
        "enrollment.activated",
        "access.granted",
    ]


def test_a_deposit_plan_takes_the_deposit_now_and_splits_the_rest(
    system: PaymentSystem, fake: FakeGateway
) -> None:
    """20% of 500.00 now, then 400.00 in two installments; the session asks for the deposit."""
    product = system.register_product(
        product_type="course",
        product_id="dep",
        name="Deposit",
        price=usd("500.00"),
        payment_plan=Installments(2, deposit=Deposit.percent(20)),
    )

    result = system.enroll(user_id="u-1", product_id=product.id)

    assert [(i.kind, i.due, i.amount) for i in result.schedule] == [
        ("deposit", date(2027, 3, 15), usd("100.00")),
        ("installment", date(2027, 4, 15), usd("200.00")),
        ("installment", date(2027, 5, 15), usd("200.00")),
    ]
    (start,) = calls_of(fake, "start_payment")
    assert start.params["amount"] == usd("100.00")


def test_without_a_gateway_the_first_item_waits_for_a_manual_payment(
    clock: FrozenClock,
) -> None:
    """No attempt, no session: the item stays scheduled and the enrollment pending."""
    system = PaymentSystem(store=InMemoryStore(), clock=clock, ids=SequentialIds())
    product = system.register_product(
        product_type="course", product_id="c", name="C", price=usd("300.00"),
        payment_plan=Installments(3),
    )  # fmt: skip

    result = system.enroll(user_id="u-1", product_id=product.id)

    assert result.requires_immediate_payment
    assert result.client_secret is None
    assert result.payment_item_id == result.schedule[0].id
    details = system.payment_details(result.enrollment_id)
    assert details.attempts == ()
    assert details.items[0].status == ItemStatus.SCHEDULED
    assert details.enrollment.status == EnrollmentStatus.PENDING_PAYMENT
    assert kinds(system.list_events()) == ["enrollment.created"]


def test_a_gateway_outage_keeps_the_enrollment_and_says_so(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, three: Product
) -> None:
    """The session could not be opened: the enrollment and its attempt exist, without a payment."""
    fake.script("timeout_before", verb="start_payment")

    result = system.enroll(user_id="u-1", product_id=three.id)

    assert result.client_secret is None
    assert result.payment_error is not None
    assert result.payment_error.startswith("gateway unavailable")
    details = system.payment_details(result.enrollment_id)
    (attempt,) = details.attempts
    assert attempt.status == AttemptStatus.PENDING
    assert attempt.gateway_payment_id is None
    assert details.enrollment.status == EnrollmentStatus.PENDING_PAYMENT
    assert outbox.new_kinds() == ["enrollment.created"]


def test_the_metadata_is_kept_on_the_enrollment(system: PaymentSystem, three: Product) -> None:
    """Host metadata is stored as given."""
    result = system.enroll(user_id="u-1", product_id=three.id, metadata={"cohort": "spring"})

    assert dict(system.get_enrollment(result.enrollment_id).metadata) == {"cohort": "spring"}


def test_a_requested_plan_that_is_offered_is_used(system: PaymentSystem, fake: FakeGateway) -> None:
    """The checkout page's choice among the offered plans wins over the default."""
    product = system.register_product(
        product_type="course", product_id="o", name="Offered", price=usd("300.00"),
        offered_plans=[Installments(3)],
    )  # fmt: skip

    result = system.enroll(user_id="u-1", product_id=product.id, plan=Installments(3))

    assert result.payment_plan == Installments(3)
    assert len(result.schedule) == 3
    (start,) = calls_of(fake, "start_payment")
    assert start.params["amount"] == usd("100.00")


def test_automatic_assignment_follows_the_first_matching_rule(
    system: PaymentSystem, course: Product
) -> None:
    """Rules are tried by ascending priority; the first that matches gives the plan."""
    system.set_plan_rules(
        [
            PlanRule(plan=Installments(2), priority=20),
            PlanRule(plan=Installments(4), priority=10, min_price=usd("200.00")),
        ]
    )

    result = system.enroll(user_id="u-1", product_id=course.id)

    assert result.payment_plan == Installments(4)
    assert sum((i.amount for i in result.schedule), usd("0")) == usd("299.99")


def test_a_cancelled_enrollment_does_not_block_a_new_one(
    system: PaymentSystem, three: Product
) -> None:
    """Only an open enrollment is a duplicate."""
    first = system.enroll(user_id="u-1", product_id=three.id)
    system.cancel_enrollment(first.enrollment_id, reason="restart", actor="admin")

    second = system.enroll(user_id="u-1", product_id=three.id)

    assert second.enrollment_id != first.enrollment_id
    assert system.get_enrollment(second.enrollment_id).status == EnrollmentStatus.PENDING_PAYMENT


# -- refusals: a typed error, nothing written, no gateway call -------------------------


def test_an_unknown_product_is_refused(system: PaymentSystem, fake: FakeGateway) -> None:
    """ProductNotFoundError names the id."""
    with refused(system, ProductNotFoundError, fake=fake, match="nope"):
        system.enroll(user_id="u-1", product_id="nope")


def test_an_inactive_product_is_refused(
    system: PaymentSystem, fake: FakeGateway, three: Product
) -> None:
    """A deactivated product sells no more."""
    system.deactivate_product(three.id)
    with refused(system, ProductInactiveError, fake=fake):
        system.enroll(user_id="u-1", product_id=three.id)


@pytest.mark.parametrize("paid", [False, True])
def test_a_second_open_enrollment_is_refused_naming_the_first(
    system: PaymentSystem, fake: FakeGateway, three: Product, paid: bool
) -> None:
    """Pending or active, the open enrollment is named by the error."""
    first = system.enroll(user_id="u-1", product_id=three.id)
    if paid:
        assert first.client_secret is not None
        fake.complete_payment(first.client_secret)
        fake.deliver(system)
    with refused(system, DuplicateEnrollmentError, fake=fake) as info:
        system.enroll(user_id="u-1", product_id=three.id)
    error = info.value
    assert isinstance(error, DuplicateEnrollmentError)
    assert error.existing_id == first.enrollment_id


def test_a_plan_that_is_not_offered_is_refused(
    system: PaymentSystem, fake: FakeGateway, three: Product
) -> None:
    """Only the default, the offered plans, matching rules and full payment may be chosen."""
    with refused(system, PlanNotOffered, fake=fake):
        system.enroll(user_id="u-1", product_id=three.id, plan=Installments(12))


def test_a_start_in_the_past_is_refused(
    system: PaymentSystem, fake: FakeGateway, three: Product
) -> None:
    """Yesterday is refused; today is the default."""
    with refused(system, InvalidInputError, fake=fake, match="in the past"):
        system.enroll(user_id="u-1", product_id=three.id, start=date(2027, 3, 14))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"user_id": ""},
        {"user_id": "   "},
        {"user_id": "u\x00"},
        {"user_id": 42},
        {"user_id": "u" * 201},
        {"product_id": ""},
        {"start": datetime(2027, 4, 1, tzinfo=START.tzinfo)},
        {"start": "2027-04-01"},
        {"metadata": ["not", "a", "mapping"]},
        {"metadata": {"k": 1}},
        {"metadata": {"": "empty key"}},
        {"metadata": {f"k{n}": "v" for n in range(MAX_METADATA_KEYS + 1)}},
    ],
    ids=lambda kw: next(iter(kw)),
)
def test_bad_arguments_are_refused_before_anything_is_written(
    system: PaymentSystem, fake: FakeGateway, three: Product, kwargs: dict[str, Any]
) -> None:
    """InvalidInputError for each malformed argument."""
    arguments: dict[str, Any] = {"user_id": "u-1", "product_id": three.id, **kwargs}
    with refused(system, InvalidInputError, fake=fake):
        system.enroll(**arguments)


def test_metadata_at_the_key_limit_is_accepted(system: PaymentSystem, three: Product) -> None:
    """Exactly MAX_METADATA_KEYS keys is allowed (the limit is not off by one)."""
    metadata = {f"k{n}": "v" for n in range(MAX_METADATA_KEYS)}
    result = system.enroll(user_id="u-1", product_id=three.id, metadata=metadata)
    assert len(system.get_enrollment(result.enrollment_id).metadata) == MAX_METADATA_KEYS


# -- properties -----------------------------------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    minor=st.integers(min_value=300, max_value=10_000_00),
    count=st.integers(min_value=1, max_value=12),
    days_ahead=st.integers(min_value=0, max_value=60),
)
def test_any_installment_schedule_sums_to_the_price_and_pays_its_first_item_now(
    minor: int, count: int, days_ahead: int
) -> None:
    """Whatever the price, count and start: items sum to the price; due today means one session."""
    clock = FrozenClock(START)
    fake = FakeGateway(clock=clock)
    system = PaymentSystem(store=InMemoryStore(), gateway=fake, clock=clock, ids=SequentialIds())
    price = Money(minor, "USD")
    product = system.register_product(
        product_type="course", product_id="p", name="P", price=price,
        payment_plan=Installments(count),
    )  # fmt: skip
    start = START.date() + timedelta(days=days_ahead)

    result = system.enroll(user_id="u", product_id=product.id, start=start)

    items = system.list_schedule_items(enrollment_id=result.enrollment_id)
    assert sum(i.amount.minor for i in items) == minor
    assert len(items) == count
    assert items[0].due == start
    due_now = days_ahead == 0
    assert result.requires_immediate_payment is due_now
    assert len(calls_of(fake, "start_payment")) == int(due_now)
    expected = ["enrollment.created"] if due_now else [
        "enrollment.created", "enrollment.activated", "access.granted",
    ]  # fmt: skip
    assert kinds(system.list_events()) == expected


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(price=eps.money(st.sampled_from(["USD", "JPY", "KWD"]), min_minor=100, max_minor=10**7))
def test_a_full_payment_session_asks_for_the_price_in_its_currency(price: Money) -> None:
    """Any currency, any positive price: one item and one session for exactly the price."""
    clock = FrozenClock(START)
    fake = FakeGateway(clock=clock)
    system = PaymentSystem(store=InMemoryStore(), gateway=fake, clock=clock, ids=SequentialIds())
    product = system.register_product(
        product_type="course", product_id="p", name="P", price=price, payment_plan=FullPayment()
    )

    result = system.enroll(user_id="u", product_id=product.id)

    (item,) = result.schedule
    assert item.amount == price
    (start,) = calls_of(fake, "start_payment")
    assert start.params["amount"] == price
