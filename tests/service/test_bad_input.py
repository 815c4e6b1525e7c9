"""Bad input raises the documented error and writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from enrollpay import FullPayment, Installments, Money, PaymentSystem, Subscription
from enrollpay.domain.calendar import Interval
from enrollpay.domain.records import Product
from enrollpay.errors import (
    CurrencyMismatchError,
    DuplicateEnrollmentError,
    EnrollmentNotFoundError,
    InvalidInputError,
    InvalidStateError,
    ItemNotPayableError,
    MoneyTypeError,
    OverpaymentError,
    PlanError,
    PlanNotOffered,
    ProductInactiveError,
    ProductNotFoundError,
    ScheduleItemNotFoundError,
    WebhookSignatureError,
)
from enrollpay.testing import FakeGateway
from tests.service.conftest import state_of, usd


@pytest.fixture
def paid_item(system: PaymentSystem, fake: FakeGateway, course: Product) -> tuple[str, str]:
    """(enrollment id, id of its paid full-payment item)."""
    result = system.enroll(user_id="u-paid", product_id=course.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret)
    fake.deliver(system)
    return result.enrollment_id, result.schedule[0].id


@pytest.fixture
def open_item(system: PaymentSystem, course: Product) -> str:
    """The id of an unpaid second installment."""
    product = system.register_product(
        product_type="course",
        product_id="c-2",
        name="Two",
        price=usd("100.00"),
        payment_plan=Installments(2),
    )
    return system.enroll(user_id="u-open", product_id=product.id).schedule[1].id


def bad(value: object) -> Any:
    """Pass a wrongly typed value past the type checker, as untyped callers can."""
    return value


Call = Callable[[PaymentSystem, Product, tuple[str, str], str], Any]

CASES: list[tuple[str, Call, type[Exception]]] = [
    (
        "unknown product",
        lambda s, c, p, i: s.enroll(user_id="u", product_id="nope"),
        ProductNotFoundError,
    ),
    (
        "duplicate enrollment",
        lambda s, c, p, i: s.enroll(user_id="u-paid", product_id=c.id),
        DuplicateEnrollmentError,
    ),
    (
        "plan not offered",
        lambda s, c, p, i: s.enroll(user_id="u", product_id=c.id, plan=Installments(7)),
        PlanNotOffered,
    ),
    (
        "start in the past",
        lambda s, c, p, i: s.enroll(user_id="u", product_id=c.id, start=date(2020, 1, 1)),
        InvalidInputError,
    ),
    ("empty user id", lambda s, c, p, i: s.enroll(user_id=" ", product_id=c.id), InvalidInputError),
    (
        "oversized user id",
        lambda s, c, p, i: s.enroll(user_id="u" * 5000, product_id=c.id),
        InvalidInputError,
    ),
    (
        "float price",
        lambda s, c, p, i: s.register_product(
            product_type="course", product_id="f", name="F", price=bad(19.99)
        ),
        MoneyTypeError,
    ),
    (
        "zero price",
        lambda s, c, p, i: s.register_product(
            product_type="course", product_id="z", name="Z", price=usd("0")
        ),
        InvalidInputError,
    ),
    (
        "plan below one cent per item",
        lambda s, c, p, i: s.register_product(
            product_type="course",
            product_id="t",
            name="T",
            price=Money(3, "USD"),
            payment_plan=Installments(4),
        ),
        PlanError,
    ),
    (
        "manual payment on a paid item",
        lambda s, c, p, i: s.record_manual_payment(p[1], method="cash", actor="admin"),
        ItemNotPayableError,
    ),
    (
        "overpayment",
        lambda s, c, p, i: s.record_manual_payment(
            i, method="cash", actor="admin", amount=usd("50.01")
        ),
        OverpaymentError,
    ),
    (
        "float manual amount",
        lambda s, c, p, i: s.record_manual_payment(
            i, method="cash", actor="admin", amount=bad(10.5)
        ),
        MoneyTypeError,
    ),
    (
        "decimal manual amount",
        lambda s, c, p, i: s.record_manual_payment(
            i, method="cash", actor="admin", amount=bad(Decimal("10.50"))
        ),
        MoneyTypeError,
    ),
    (
        "wrong currency",
        lambda s, c, p, i: s.record_manual_payment(
            i, method="cash", actor="admin", amount=Money.of("10", "EUR")
        ),
        CurrencyMismatchError,
    ),
    (
        "negative amount",
        lambda s, c, p, i: s.record_manual_payment(
            i, method="cash", actor="admin", amount=usd("-1")
        ),
        InvalidInputError,
    ),
    (
        "unknown method",
        lambda s, c, p, i: s.record_manual_payment(i, method=bad("bitcoin"), actor="admin"),
        InvalidInputError,
    ),
    (
        "unknown item",
        lambda s, c, p, i: s.record_manual_payment("itm_nope", method="cash", actor="admin"),
        ScheduleItemNotFoundError,
    ),
    (
        "reschedule into the past",
        lambda s, c, p, i: s.reschedule(i, date(2027, 3, 14), actor="admin"),
        InvalidInputError,
    ),
    (
        "reschedule a paid item",
        lambda s, c, p, i: s.reschedule(p[1], date(2027, 5, 1), actor="admin"),
        InvalidStateError,
    ),
    (
        "cancel unknown enrollment",
        lambda s, c, p, i: s.cancel_enrollment("enr_nope", reason="x", actor="admin"),
        EnrollmentNotFoundError,
    ),
    (
        "float refund",
        lambda s, c, p, i: s.cancel_enrollment(
            p[0], reason="x", actor="admin", refund_amount=bad(5.0)
        ),
        MoneyTypeError,
    ),
    ("missing actor", lambda s, c, p, i: s.waive_item(i, actor=""), InvalidInputError),
    (
        "bad signature",
        lambda s, c, p, i: s.handle_webhook(b'{"id":"evt_1"}', {"Stripe-Signature": "t=1,v1=00"}),
        WebhookSignatureError,
    ),
    ("no signature", lambda s, c, p, i: s.handle_webhook(b"{}", {}), WebhookSignatureError),
    (
        "naive now",
        lambda s, c, p, i: s.collect_due(now=__import__("datetime").datetime(2027, 3, 15)),
        InvalidInputError,
    ),
    (
        "subscription plan in another currency",
        lambda s, c, p, i: s.register_product(
            product_type="course",
            product_id="s",
            name="S",
            price=usd("10"),
            payment_plan=Subscription(Interval.months(1), amount=Money.of("5", "EUR")),
        ),
        PlanError,
    ),
]


@pytest.mark.parametrize(
    ("call", "error"), [(c, e) for _, c, e in CASES], ids=[name for name, _, _ in CASES]
)
def test_bad_input_raises_and_writes_nothing(
    system: PaymentSystem,
    course: Product,
    paid_item: tuple[str, str],
    open_item: str,
    call: Call,
    error: type[Exception],
) -> None:
    """Each refused call raises its typed error and leaves the store and audit log as they were."""
    before = state_of(system)

    with pytest.raises(error):
        call(system, course, paid_item, open_item)

    assert state_of(system) == before


def test_inactive_products_cannot_be_enrolled(system: PaymentSystem, course: Product) -> None:
    """A deactivated product refuses new enrollments."""
    system.deactivate_product(course.id)
    before = state_of(system)
    with pytest.raises(ProductInactiveError):
        system.enroll(user_id="u", product_id=course.id)
    assert state_of(system) == before


def test_duplicate_enrollment_names_the_existing_one(
    system: PaymentSystem, paid_item: tuple[str, str], course: Product
) -> None:
    """The duplicate error carries the id of the enrollment that already exists."""
    with pytest.raises(DuplicateEnrollmentError) as info:
        system.enroll(user_id="u-paid", product_id=course.id)
    assert info.value.existing_id == paid_item[0]


def test_registering_a_product_is_an_idempotent_upsert(
    system: PaymentSystem, course: Product
) -> None:
    """Registering the same (type, id) again updates it in place, and only when changed."""
    again = system.register_product(
        product_type="course",
        product_id="course-uuid",
        name="React Masterclass",
        price=usd("299.99"),
        auto_assign_payment_plan=True,
    )
    renamed = system.register_product(
        product_type="course",
        product_id="course-uuid",
        name="React Masterclass 2",
        price=usd("349.00"),
        payment_plan=FullPayment(),
    )

    assert again == course
    assert renamed.id == course.id
    assert (renamed.name, renamed.price) == ("React Masterclass 2", usd("349.00"))
    assert len(system.list_products()) == 1
    actions = [e.action for e in system.audit_log(entity_id=course.id)]
    assert actions == ["product.registered", "product.updated"]
