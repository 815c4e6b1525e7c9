"""Price lists through the facade, on every store (memory, SQLite, PostgreSQL).

A product sold in USD (its default), EUR and GBP: the student's currency
picks the explicit price, never a converted one; plans, plan rules and
coupons are judged in that currency; the enrollment, its schedule, the
gateway's charge, the payment, refunds and receipts are all in it; the
reports keep each currency apart.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from enrollpay import Deposit, FullPayment, Installments, Money, PaymentSystem, PlanRule
from enrollpay.domain.calendar import Interval
from enrollpay.domain.discounts import Coupon
from enrollpay.domain.records import Product
from enrollpay.errors import CurrencyMismatchError, PlanError, UnknownCurrencyError
from enrollpay.errors_discounts import CouponNotApplicableError
from enrollpay.errors_prices import CurrencyNotOffered, PlanCurrencyError, PriceListError
from enrollpay.testing import FakeGateway
from tests.service.conftest import usd
from tests.service.usecases.support import calls_of, refused


def eur(amount: str) -> Money:
    """Euros."""
    return Money.of(amount, "EUR")


def gbp(amount: str) -> Money:
    """Pounds."""
    return Money.of(amount, "GBP")


EUR_DEPOSIT = Installments(2, Interval.months(1), Deposit.fixed(eur("50.00")))


@pytest.fixture
def course(system: PaymentSystem) -> Product:
    """300.00 USD, 270.00 EUR or 240.00 GBP; three installments; a EUR-deposit plan offered."""
    return system.register_product(
        product_type="course",
        product_id="multi",
        name="Multi-currency course",
        price=usd("300.00"),
        prices=[gbp("240.00"), eur("270.00")],
        payment_plan=Installments(3),
        offered_plans=[EUR_DEPOSIT],
    )


def pay_first(system: PaymentSystem, fake: FakeGateway, user: str, currency: str | None) -> str:
    """Enroll ``user`` in ``currency`` and pay the first item on-session; the enrollment id."""
    product = system.find_product("course", "multi")
    result = system.enroll(user_id=user, product_id=product.id, currency=currency)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret)
    fake.deliver(system)
    return result.enrollment_id


# --- products -------------------------------------------------------------------------


def test_a_product_is_registered_listed_and_audited_with_its_price_list(
    system: PaymentSystem, course: Product
) -> None:
    """Ordered by currency, read back by id and in the listing; the audit entry names them."""
    assert course.prices == (eur("270.00"), gbp("240.00"))
    assert system.get_product(course.id) == course
    assert system.list_products() == [course]
    entry = system.audit_log(entity_type="product", entity_id=course.id)[-1]
    assert entry.action == "product.registered"
    assert entry.data["prices"] == [
        {"minor": 27000, "currency": "EUR"},
        {"minor": 24000, "currency": "GBP"},
    ]


def test_registering_again_replaces_the_price_list(system: PaymentSystem, course: Product) -> None:
    """A changed list is an update; the same list changes nothing (no new audit entry)."""

    def again(prices: list[Money]) -> Product:
        return system.register_product(
            product_type="course",
            product_id="multi",
            name="Multi-currency course",
            price=usd("300.00"),
            payment_plan=Installments(3),
            offered_plans=[EUR_DEPOSIT],
            prices=prices,
        )

    same = again([eur("270.00"), gbp("240.00")])
    assert same == course
    assert len(system.audit_log(entity_type="product", entity_id=course.id)) == 1
    changed = again([eur("280.00")])
    assert system.get_product(course.id).prices == (eur("280.00"),)
    assert changed.updated_at is not None
    assert system.audit_log(entity_type="product", entity_id=course.id)[-1].action == (
        "product.updated"
    )


@pytest.mark.parametrize(
    ("prices", "offered", "error"),
    [
        ([eur("1.00"), eur("2.00")], [], PriceListError),
        ([usd("1.00")], [], PriceListError),
        ([eur("0")], [], PriceListError),
        (["270.00 EUR"], [], PriceListError),
        # A plan fixed in a currency the product is not sold in.
        (
            [eur("270.00")],
            [Installments(2, Interval.months(1), Deposit.fixed(gbp("9")))],
            PlanCurrencyError,
        ),
        # A EUR deposit that does not fit the EUR price.
        ([eur("40.00")], [EUR_DEPOSIT], PlanError),
    ],
)
def test_a_bad_price_list_writes_nothing(
    system: PaymentSystem, prices: list[object], offered: list[Installments], error: type[Exception]
) -> None:
    """Typed errors before anything is stored."""
    with refused(system, error):
        system.register_product(
            product_type="course",
            product_id="bad",
            name="Bad",
            price=usd("300.00"),
            prices=prices,  # type: ignore[arg-type]
            offered_plans=offered,
        )


def test_checkout_plans_and_previews_are_per_currency(
    system: PaymentSystem, course: Product
) -> None:
    """The EUR plan is offered in EUR only; a preview is in the chosen currency's price."""
    assert system.eligible_plans(course.id) == (Installments(3), FullPayment())
    assert system.eligible_plans(course.id, currency="eur") == (
        Installments(3),
        EUR_DEPOSIT,
        FullPayment(),
    )
    lines = system.preview_schedule(
        course.id, Installments(3), start=date(2027, 4, 1), currency="GBP"
    )
    assert [line.amount for line in lines] == [gbp("80.00")] * 3
    deposit = system.preview_schedule(course.id, EUR_DEPOSIT, currency="EUR")
    assert [line.amount for line in deposit] == [eur("50.00"), eur("110.00"), eur("110.00")]
    with pytest.raises(PlanCurrencyError):
        system.preview_schedule(course.id, EUR_DEPOSIT, currency="USD")
    with pytest.raises(CurrencyNotOffered):
        system.eligible_plans(course.id, currency="JPY")


# --- enrolling ------------------------------------------------------------------------


def test_enrolling_in_a_currency_charges_its_explicit_price(
    system: PaymentSystem, fake: FakeGateway, course: Product
) -> None:
    """Enrollment, items, the gateway's payment, the payment and its receipt: all in EUR."""
    enrollment_id = pay_first(system, fake, "u-1", "eur")
    enrollment = system.get_enrollment(enrollment_id)
    assert enrollment.price == eur("270.00")
    items = system.list_schedule_items(enrollment_id=enrollment_id)
    assert [i.amount for i in items] == [eur("90.00")] * 3
    [started] = calls_of(fake, "start_payment")
    assert started.params["amount"] == eur("90.00")
    [payment] = system.payment_details(enrollment_id).payments
    assert payment.amount == eur("90.00")
    receipt = system.receipt_for_payment(payment.id)
    assert receipt is not None
    assert receipt.total == eur("90.00")
    entry = system.audit_log(entity_type="enrollment", entity_id=enrollment_id)[0]
    assert entry.data["list_price"] == {"minor": 27000, "currency": "EUR"}


def test_refunds_are_in_the_enrollments_currency(
    system: PaymentSystem, fake: FakeGateway, course: Product
) -> None:
    """A EUR payment refunds in EUR; a refund in the default USD is refused."""
    enrollment_id = pay_first(system, fake, "u-1", "EUR")
    [payment] = system.payment_details(enrollment_id).payments
    with refused(system, CurrencyMismatchError):
        system.refund_payment(payment.id, usd("10.00"), actor="admin")
    refund = system.refund_payment(payment.id, eur("10.00"), actor="admin")
    assert refund.amount == eur("10.00")
    [call] = calls_of(fake, "refund")
    assert call.params["amount"] == eur("10.00")


def test_no_currency_is_the_default_price(system: PaymentSystem, course: Product) -> None:
    """currency=None (or the default's code) enrolls at 300.00 USD."""
    plain = system.enroll(user_id="u-1", product_id=course.id)
    assert plain.enrollment.price == usd("300.00")
    named = system.enroll(user_id="u-2", product_id=course.id, currency="USD")
    assert named.enrollment.price == usd("300.00")


def test_a_currency_the_product_is_not_sold_in_is_refused(
    system: PaymentSystem, fake: FakeGateway, course: Product
) -> None:
    """JPY: CurrencyNotOffered naming what is offered; a non-currency: UnknownCurrencyError."""
    with refused(system, CurrencyNotOffered, fake=fake) as caught:
        system.enroll(user_id="u-1", product_id=course.id, currency="JPY")
    assert caught.value.offered == ("USD", "EUR", "GBP")  # type: ignore[attr-defined]
    with refused(system, UnknownCurrencyError, fake=fake):
        system.enroll(user_id="u-1", product_id=course.id, currency="EURO")


def test_a_plan_fixed_in_another_currency_is_refused(
    system: PaymentSystem, fake: FakeGateway, course: Product
) -> None:
    """The EUR-deposit plan in GBP: PlanCurrencyError; in EUR it schedules the fixed deposit."""
    with refused(system, PlanCurrencyError, fake=fake):
        system.enroll(user_id="u-1", product_id=course.id, currency="GBP", plan=EUR_DEPOSIT)
    result = system.enroll(user_id="u-1", product_id=course.id, currency="EUR", plan=EUR_DEPOSIT)
    assert [i.amount for i in result.schedule] == [eur("50.00"), eur("110.00"), eur("110.00")]


def test_plan_rules_judge_the_price_in_the_chosen_currency(system: PaymentSystem) -> None:
    """A rule for GBP and one for prices of at least 250.00 EUR pick per currency."""
    product = system.register_product(
        product_type="course",
        product_id="auto",
        name="Auto",
        price=usd("300.00"),
        prices=[eur("270.00"), gbp("240.00")],
        auto_assign_payment_plan=True,
    )
    system.set_plan_rules(
        [
            PlanRule(Installments(4), currency="GBP", priority=1),
            PlanRule(Installments(2), min_price=eur("250.00"), priority=2),
        ]
    )
    assert system.enroll(user_id="u-1", product_id=product.id, currency="GBP").payment_plan == (
        Installments(4)
    )
    assert system.enroll(user_id="u-2", product_id=product.id, currency="EUR").payment_plan == (
        Installments(2)
    )
    assert system.enroll(user_id="u-3", product_id=product.id).payment_plan == FullPayment()


def test_a_fixed_coupon_applies_only_with_an_amount_in_the_chosen_currency(
    system: PaymentSystem, fake: FakeGateway, course: Product
) -> None:
    """A USD-only fixed coupon is refused in EUR (reason currency); a EUR amount applies."""
    system.create_coupon(Coupon("DOLLARS", amounts_off=[usd("30.00")]))
    system.create_coupon(Coupon("BOTH", amounts_off=[usd("30.00"), eur("27.00")]))
    with refused(system, CouponNotApplicableError, fake=fake) as caught:
        system.enroll(user_id="u-1", product_id=course.id, currency="EUR", coupon="DOLLARS")
    assert caught.value.reason == "currency"  # type: ignore[attr-defined]
    result = system.enroll(user_id="u-1", product_id=course.id, currency="EUR", coupon="BOTH")
    assert result.enrollment.list_price == eur("270.00")
    assert result.enrollment.price == eur("243.00")
    assert result.enrollment.discount == eur("27.00")
    assert system.preview_discount(course.id, coupon="BOTH", currency="EUR").applied.price == (
        eur("243.00")
    )
    with pytest.raises(CouponNotApplicableError, match="currency"):
        system.preview_discount(course.id, coupon="BOTH", currency="GBP")


# --- reports --------------------------------------------------------------------------


def test_reports_keep_each_currency_of_one_product_apart(
    system: PaymentSystem, fake: FakeGateway, course: Product
) -> None:
    """Two USD and one EUR enrollment in one product: every report has per-currency rows."""
    first_usd = pay_first(system, fake, "u-1", None)
    pay_first(system, fake, "u-2", "USD")
    first_eur = pay_first(system, fake, "u-3", "EUR")
    [eur_payment] = system.payment_details(first_eur).payments
    system.refund_payment(eur_payment.id, eur("15.00"), actor="admin")
    fake.deliver(system)

    revenue = system.revenue_report(by="month")
    assert [(r.currency, r.gross, r.refunded, r.net, r.payments) for r in revenue] == [
        ("EUR", eur("90.00"), eur("15.00"), eur("75.00"), 1),
        ("USD", usd("200.00"), usd("0"), usd("200.00"), 2),
    ]

    products = system.product_report()
    assert [(r.product_id, r.currency) for r in products] == [
        (course.id, "EUR"),
        (course.id, "USD"),
    ]
    eur_row, usd_row = products
    assert (eur_row.enrollments, eur_row.gross, eur_row.refunded, eur_row.net) == (
        1,
        eur("90.00"),
        eur("15.00"),
        eur("75.00"),
    )
    assert (usd_row.enrollments, usd_row.gross, usd_row.refunded, usd_row.net) == (
        2,
        usd("200.00"),
        usd("0"),
        usd("200.00"),
    )
    assert (eur_row.plan_mix, usd_row.plan_mix) == ({"installments": 1}, {"installments": 2})
    assert (eur_row.dispute_rate, usd_row.withheld) == (Decimal(0), usd("0"))

    status = system.status_report()
    owed = {(r.status.value, r.currency): (r.count, r.outstanding) for r in status.items}
    assert owed[("paid", "EUR")] == (1, eur("0"))
    assert owed[("paid", "USD")] == (2, usd("0"))
    assert owed[("scheduled", "EUR")] == (2, eur("180.00"))
    assert owed[("scheduled", "USD")] == (4, usd("400.00"))

    forecast = system.forecast_report(date_from=date(2027, 4, 1), months=2)
    assert [(r.month, r.currency, r.items, r.amount) for r in forecast] == [
        (date(2027, 4, 1), "EUR", 1, eur("90.00")),
        (date(2027, 4, 1), "USD", 2, usd("200.00")),
        (date(2027, 5, 1), "EUR", 1, eur("90.00")),
        (date(2027, 5, 1), "USD", 2, usd("200.00")),
    ]
    assert system.get_enrollment(first_usd).price == usd("300.00")


def test_an_unsold_product_reports_one_row_in_its_default_currency(
    system: PaymentSystem, course: Product
) -> None:
    """A price list adds no empty rows: nothing sold, one row in USD with zeros."""
    [row] = system.product_report()
    assert (row.product_id, row.currency, row.enrollments, row.gross) == (
        course.id,
        "USD",
        0,
        usd("0"),
    )
