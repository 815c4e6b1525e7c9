"""Use cases on products and plan rules: register, update, deactivate, rules, offers, previews."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from enrollpay import (
    Deposit,
    FullPayment,
    Installments,
    Interval,
    Money,
    PaymentSystem,
    PlanRule,
    RefundPolicy,
    Subscription,
)
from enrollpay.domain.records import Product
from enrollpay.errors import (
    InvalidInputError,
    MoneyTypeError,
    PlanError,
    ProductInactiveError,
    ProductNotFoundError,
)
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds
from tests.service.conftest import START, usd
from tests.service.usecases.support import Outbox, audited, refused


def test_registering_a_product_stores_it_with_its_defaults(
    system: PaymentSystem, outbox: Outbox
) -> None:
    """An internal id, a one-year service period, active; audited; no domain event."""
    product = system.register_product(
        product_type="course", product_id="react", name="React", price=usd("299.99")
    )

    assert product.id.startswith("prod_")
    assert (product.product_type, product.product_id, product.name, product.price) == (
        "course",
        "react",
        "React",
        usd("299.99"),
    )
    assert (product.active, product.service_period, product.payment_plan) == (
        True,
        Interval.years(1),
        None,
    )
    assert (product.created_at, product.updated_at) == (START, START)
    assert system.get_product(product.id) == product
    assert system.find_product("course", "react") == product
    assert system.list_products() == [product]
    (entry,) = audited(system, product.id, "product.registered")
    assert entry.data["price"] == {"minor": 29999, "currency": "USD"}
    assert outbox.new() == []


def test_registering_the_same_product_again_unchanged_writes_nothing(
    system: PaymentSystem, course: Product
) -> None:
    """Idempotent: the same record back, no new audit entry."""
    audit = system.audit_log()

    again = system.register_product(
        product_type="course", product_id="course-uuid", name="React Masterclass",
        price=usd("299.99"), auto_assign_payment_plan=True,
    )  # fmt: skip

    assert again == course
    assert system.audit_log() == audit


def test_an_update_keeps_the_id_and_leaves_existing_enrollments_alone(
    system: PaymentSystem, clock: FrozenClock, three: Product
) -> None:
    """A new price: same id, ``product.updated``; an enrollment keeps the price it was sold at."""
    enrolled = system.enroll(user_id="u-1", product_id=three.id)
    clock.advance(days=1)

    updated = system.register_product(
        product_type="course", product_id="three", name="Three installments",
        price=usd("360.00"), payment_plan=Installments(3),
    )  # fmt: skip

    assert (updated.id, updated.price, updated.updated_at) == (
        three.id,
        usd("360.00"),
        clock.now(),
    )
    assert updated.created_at == three.created_at
    assert [e.action for e in system.audit_log(entity_id=three.id)] == [
        "product.registered",
        "product.updated",
    ]
    assert system.get_enrollment(enrolled.enrollment_id).price == usd("300.00")
    assert sum(
        (i.amount for i in system.list_schedule_items(enrollment_id=enrolled.enrollment_id)),
        usd("0"),
    ) == usd("300.00")
    later = system.enroll(user_id="u-2", product_id=three.id)
    assert [i.amount for i in later.schedule] == [usd("120.00")] * 3


def test_deactivating_stops_new_enrollments_only(
    system: PaymentSystem, fake: FakeGateway, three: Product
) -> None:
    """Inactive: no new enrollment; the existing one is untouched; a second call is a no-op."""
    enrolled = system.enroll(user_id="u-1", product_id=three.id)
    before = system.payment_details(enrolled.enrollment_id)

    product = system.deactivate_product(three.id, actor="admin")
    audit = system.audit_log()
    again = system.deactivate_product(three.id, actor="admin")

    assert not product.active
    assert again == product
    assert system.audit_log() == audit
    assert [e.actor for e in audited(system, three.id, "product.deactivated")] == ["admin"]
    assert system.list_products(active=True) == []
    assert system.list_products(active=False) == [product]
    assert system.payment_details(enrolled.enrollment_id).items == before.items
    with refused(system, ProductInactiveError, fake=fake):
        system.enroll(user_id="u-2", product_id=three.id)


def test_reactivating_by_registering_again_sells_again(
    system: PaymentSystem, three: Product
) -> None:
    """register_product with active=True turns it back on."""
    system.deactivate_product(three.id)
    system.register_product(
        product_type="course", product_id="three", name="Three installments",
        price=usd("300.00"), payment_plan=Installments(3), active=True,
    )  # fmt: skip
    assert system.enroll(user_id="u-1", product_id=three.id).enrollment_id


def test_plan_rules_are_replaced_as_a_whole_and_audited(
    system: PaymentSystem, outbox: Outbox
) -> None:
    """The new list replaces the old; the audit entry names the rules."""
    system.set_plan_rules([PlanRule(plan=Installments(2), name="two")])
    rules = [
        PlanRule(plan=Installments(4), name="four", priority=5),
        PlanRule(plan=FullPayment(), name="full", priority=50),
    ]

    system.set_plan_rules(rules, actor="admin")

    assert system.list_plan_rules() == rules
    entries = audited(system, "*", "plan_rules.replaced")
    assert [e.data["rules"] for e in entries] == [["two"], ["four", "full"]]
    assert entries[-1].actor == "admin"
    assert outbox.new() == []


def test_eligible_plans_put_the_default_first_and_always_offer_full_payment(
    system: PaymentSystem,
) -> None:
    """Default (pinned plan), offered plans, matching rules, then full payment; no duplicates."""
    product = system.register_product(
        product_type="course", product_id="o", name="O", price=usd("600.00"),
        payment_plan=Installments(3), offered_plans=[Installments(6), Installments(3)],
    )  # fmt: skip
    system.set_plan_rules(
        [
            PlanRule(plan=Installments(2), product_types={"course"}),
            PlanRule(plan=Installments(12), product_types={"membership"}),
        ]
    )

    assert system.eligible_plans(product.id) == (
        Installments(3),
        Installments(6),
        Installments(2),
        FullPayment(),
    )


def test_a_schedule_preview_writes_nothing(system: PaymentSystem, three: Product) -> None:
    """The lines of a plan from a start date; the store is as it was."""
    before = system.list_schedule_items()
    audit = system.audit_log()

    lines = system.preview_schedule(
        three.id, Installments(2, deposit=Deposit.percent(10)), start=date(2027, 4, 1)
    )

    assert [(line.kind, line.due, line.amount) for line in lines] == [
        ("deposit", date(2027, 4, 1), usd("30.00")),
        ("installment", date(2027, 5, 1), usd("135.00")),
        ("installment", date(2027, 6, 1), usd("135.00")),
    ]
    assert system.list_schedule_items() == before
    assert system.audit_log() == audit


def test_a_preview_defaults_to_today_and_honours_the_gateways_minimum(
    clock: FrozenClock,
) -> None:
    """The fake's minimum charge shapes the preview like a real schedule."""
    fake = FakeGateway(clock=clock, minimums={"USD": usd("50.00")})
    system = PaymentSystem(store=InMemoryStore(), gateway=fake, clock=clock, ids=SequentialIds())
    product = system.register_product(
        product_type="c", product_id="c", name="C", price=usd("100.00")
    )

    lines = system.preview_schedule(product.id, FullPayment())

    assert [(line.due, line.amount) for line in lines] == [(START.date(), usd("100.00"))]
    with pytest.raises(PlanError):
        system.preview_schedule(product.id, Installments(4))  # 25.00 each is below the minimum


# -- refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"product_type": ""}, InvalidInputError),
        ({"product_id": "x" * 201}, InvalidInputError),
        ({"name": "n" * 501}, InvalidInputError),
        ({"name": "bad\x00name"}, InvalidInputError),
        ({"price": 10.0}, MoneyTypeError),
        ({"price": Money(0, "USD")}, InvalidInputError),
        ({"price": Money(-1, "USD")}, InvalidInputError),
        ({"payment_plan": "monthly"}, PlanError),
        ({"payment_plan": Installments(3, deposit=Deposit.fixed(usd("20.00")))}, PlanError),
        (
            {"offered_plans": [Subscription(Interval.months(1), amount=Money.of("5", "EUR"))]},
            PlanError,
        ),
    ],
    ids=[
        "type",
        "long-id",
        "long-name",
        "nul",
        "float",
        "zero",
        "negative",
        "plan-text",
        "deposit-above-price",
        "foreign-subscription",
    ],
)
def test_a_bad_product_is_refused_and_nothing_written(
    system: PaymentSystem, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    """The typed error; no product, no audit entry."""
    arguments: dict[str, Any] = {
        "product_type": "course",
        "product_id": "p",
        "name": "P",
        "price": usd("10.00"),
        **kwargs,
    }
    with refused(system, error):
        system.register_product(**arguments)


def test_rules_that_are_not_rules_are_refused(system: PaymentSystem) -> None:
    """InvalidInputError; the old rules stay."""
    system.set_plan_rules([PlanRule(plan=Installments(2))])
    with refused(system, InvalidInputError):
        system.set_plan_rules([PlanRule(plan=Installments(3)), Installments(4)])  # type: ignore[list-item]


@pytest.mark.parametrize("lookup", ["get", "deactivate", "eligible", "preview"])
def test_an_unknown_product_is_refused(system: PaymentSystem, lookup: str) -> None:
    """ProductNotFoundError from every lookup by id."""
    with refused(system, ProductNotFoundError):
        if lookup == "get":
            system.get_product("prod_missing")
        elif lookup == "deactivate":
            system.deactivate_product("prod_missing")
        elif lookup == "eligible":
            system.eligible_plans("prod_missing")
        else:
            system.preview_schedule("prod_missing", FullPayment())


def test_an_unknown_host_id_is_refused(system: PaymentSystem, three: Product) -> None:
    """find_product names the pair it looked for."""
    with refused(system, ProductNotFoundError, match="course:nope"):
        system.find_product("course", "nope")


def test_a_refund_policy_on_the_product_is_kept(system: PaymentSystem) -> None:
    """Stored as given, for cancellations to use."""
    policy = RefundPolicy(cooling_off_days=7, proration="none")
    product = system.register_product(
        product_type="c", product_id="c", name="C", price=usd("10.00"), refund_policy=policy
    )
    assert system.get_product(product.id).refund_policy == policy
