"""Price lists: explicit prices per currency, the choice of one, plans in that currency."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollpay.domain.calendar import Interval
from enrollpay.domain.money import Money
from enrollpay.domain.plans import (
    Deposit,
    FullPayment,
    Installments,
    PaymentPlan,
    PlanRule,
    Subscription,
)
from enrollpay.domain.price_lists import (
    PricedProduct,
    check_plan_currency,
    currencies,
    plan_currency,
    plan_for,
    plans_for,
    price_in,
    priced,
)
from enrollpay.domain.records import Product
from enrollpay.domain.schedule import build_schedule
from enrollpay.errors import PlanError, PlanNotOffered, UnknownCurrencyError
from enrollpay.errors_prices import CurrencyNotOffered, PlanCurrencyError, PriceListError
from enrollpay.testing.strategies import currencies as currency_codes
from enrollpay.testing.strategies import intervals, money

USD_PRICE = Money.of("500.00", "USD")
EUR_PRICE = Money.of("450.00", "EUR")
GBP_PRICE = Money.of("400.00", "GBP")


def course(
    *,
    prices: tuple[Money, ...] = (EUR_PRICE, GBP_PRICE),
    pinned: PaymentPlan | None = None,
    offered: tuple[PaymentPlan, ...] = (),
    auto: bool = False,
) -> Product:
    """A 500.00 USD course also priced in EUR and GBP."""
    return Product(
        id="prod_1",
        product_type="course",
        product_id="c-1",
        name="Course",
        price=USD_PRICE,
        prices=prices,
        payment_plan=pinned,
        offered_plans=offered,
        auto_assign_payment_plan=auto,
    )


# --- the list itself ------------------------------------------------------------------


def test_a_product_keeps_its_extra_prices_ordered_by_currency() -> None:
    """However given, the list is a tuple ordered by currency; equal lists compare equal."""
    product = course(prices=(GBP_PRICE, EUR_PRICE))
    assert product.prices == (EUR_PRICE, GBP_PRICE)
    assert product == course(prices=(EUR_PRICE, GBP_PRICE))
    assert currencies(product) == ("USD", "EUR", "GBP")
    assert course(prices=()).prices == ()


@pytest.mark.parametrize(
    ("prices", "message"),
    [
        ((EUR_PRICE, Money.of("460.00", "EUR")), "one price per currency; EUR twice"),
        ((Money.of("499.00", "USD"),), "repeats the default currency USD"),
        ((Money(0, "EUR"),), "must be positive"),
        ((Money(-100, "EUR"),), "must be positive"),
        ((EUR_PRICE, "450.00 GBP"), "holds Money, got str"),
        ((450,), "holds Money, got int"),
    ],
)
def test_a_malformed_price_list_is_refused_by_name(
    prices: tuple[object, ...], message: str
) -> None:
    """Repeated currencies, the default repeated, zero or negative, not Money: typed errors."""
    with pytest.raises(PriceListError, match=message):
        course(prices=prices)  # type: ignore[arg-type]


# --- choosing the price ---------------------------------------------------------------


def test_price_in_answers_the_explicit_price_of_each_currency() -> None:
    """None is the default price; each listed currency its own amount; codes in any case."""
    product = course()
    assert price_in(product) == USD_PRICE
    assert price_in(product, None) == USD_PRICE
    assert price_in(product, "USD") == USD_PRICE
    assert price_in(product, "eur") == EUR_PRICE
    assert price_in(product, " GBP ") == GBP_PRICE


def test_a_currency_without_a_price_is_refused_never_converted() -> None:
    """CurrencyNotOffered names the product, the currency and what is offered."""
    with pytest.raises(CurrencyNotOffered) as caught:
        price_in(course(), "jpy")
    assert caught.value.product_id == "prod_1"
    assert caught.value.currency == "JPY"
    assert caught.value.offered == ("USD", "EUR", "GBP")
    assert "offered in USD, EUR, GBP" in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_an_unknown_currency_code_is_an_unknown_currency() -> None:
    """A code that is no currency at all is UnknownCurrencyError, not CurrencyNotOffered."""
    with pytest.raises(UnknownCurrencyError):
        price_in(course(), "XYZ1")


def test_priced_product_is_the_product_at_the_chosen_price() -> None:
    """Every plan-detection attribute comes from the product; the price is the chosen one."""
    plan = Installments(3)
    product = course(pinned=plan, offered=(FullPayment(),), auto=True)
    view = priced(product, "EUR")
    assert view == PricedProduct(product, EUR_PRICE)
    assert (view.id, view.product_id, view.product_type) == ("prod_1", "c-1", "course")
    assert view.payment_plan == plan
    assert view.offered_plans == (FullPayment(),)
    assert view.auto_assign_payment_plan is True
    assert priced(product).price == USD_PRICE


# --- plans in a currency --------------------------------------------------------------

EUR_DEPOSIT = Installments(3, Interval.months(1), Deposit.fixed(Money.of("100.00", "EUR")))
USD_DEPOSIT = Installments(3, Interval.months(1), Deposit.fixed(Money.of("100.00", "USD")))
PERCENT_DEPOSIT = Installments(3, Interval.months(1), Deposit.percent(20))
EUR_SUBSCRIPTION = Subscription(Interval.months(1), amount=Money.of("50.00", "EUR"), cycles=9)


@pytest.mark.parametrize(
    ("plan", "expected"),
    [
        (FullPayment(), None),
        (Installments(3), None),
        (PERCENT_DEPOSIT, None),
        (EUR_DEPOSIT, "EUR"),
        (USD_DEPOSIT, "USD"),
        (EUR_SUBSCRIPTION, "EUR"),
        (Subscription(Interval.months(1)), None),
    ],
)
def test_plan_currency_is_the_currency_of_its_fixed_money(
    plan: PaymentPlan, expected: str | None
) -> None:
    """Only fixed deposits and fixed subscription amounts tie a plan to a currency."""
    assert plan_currency(plan) == expected


def test_a_plan_with_fixed_money_in_another_currency_is_refused() -> None:
    """PlanCurrencyError (a PlanError) says both currencies; neutral plans pass anywhere."""
    check_plan_currency(EUR_DEPOSIT, "EUR")
    check_plan_currency(PERCENT_DEPOSIT, "GBP")
    with pytest.raises(PlanCurrencyError) as caught:
        check_plan_currency(EUR_DEPOSIT, "USD")
    assert (caught.value.plan_currency, caught.value.currency) == ("EUR", "USD")
    assert isinstance(caught.value, PlanError)
    assert "100.00 EUR deposit" in str(caught.value)


def test_plan_for_detects_at_the_chosen_price() -> None:
    """A rule with a currency or price bounds judges the price in the chosen currency."""
    rules = [
        PlanRule(Installments(6), currency="EUR", priority=1),
        PlanRule(Installments(2), min_price=Money.of("300.00", "GBP"), priority=2),
    ]
    product = course(auto=True)
    assert plan_for(product, rules, currency="EUR") == (priced(product, "EUR"), Installments(6))
    assert plan_for(product, rules, currency="GBP")[1] == Installments(2)
    assert plan_for(product, rules)[1] == FullPayment()


def test_plan_for_refuses_fixed_money_in_another_currency() -> None:
    """A requested or pinned plan fixed in EUR cannot be used in USD; in EUR it can."""
    offered = course(offered=(EUR_DEPOSIT,))
    assert plan_for(offered, [], currency="EUR", requested=EUR_DEPOSIT)[1] == EUR_DEPOSIT
    with pytest.raises(PlanCurrencyError):
        plan_for(offered, [], currency="USD", requested=EUR_DEPOSIT)
    pinned = course(pinned=EUR_SUBSCRIPTION)
    assert plan_for(pinned, [], currency="EUR")[1] == EUR_SUBSCRIPTION
    with pytest.raises(PlanCurrencyError):
        plan_for(pinned, [], currency="GBP")


def test_plan_for_still_refuses_a_plan_the_product_does_not_offer() -> None:
    """The currency check comes first, then detect_plan's own offer check."""
    with pytest.raises(PlanNotOffered):
        plan_for(course(), [], currency="EUR", requested=Installments(7))


def test_plans_for_leaves_out_plans_fixed_in_another_currency() -> None:
    """Each currency's checkout offers its own fixed plans and the neutral ones."""
    product = course(offered=(EUR_DEPOSIT, USD_DEPOSIT, PERCENT_DEPOSIT))
    assert plans_for(product, [], currency="EUR") == (FullPayment(), EUR_DEPOSIT, PERCENT_DEPOSIT)
    assert plans_for(product, []) == (FullPayment(), USD_DEPOSIT, PERCENT_DEPOSIT)
    assert plans_for(product, [], currency="GBP") == (FullPayment(), PERCENT_DEPOSIT)


# --- properties -----------------------------------------------------------------------


@st.composite
def price_lists(draw: st.DrawFn) -> Product:
    """A product in one to four currencies, each with a price of 1.00 to 100000.00 units."""
    codes = draw(st.lists(currency_codes(), min_size=1, max_size=4, unique=True))
    amounts = [draw(money(code, min_minor=100, max_minor=10**7)) for code in codes]
    return Product("prod_p", "course", "c-p", "P", amounts[0], prices=tuple(amounts[1:]))


@st.composite
def neutral_plans(draw: st.DrawFn) -> PaymentPlan:
    """Plans without fixed money (they fit every currency)."""
    kind = draw(st.sampled_from(("full", "installments", "deposit", "subscription")))
    if kind == "full":
        return FullPayment()
    count = draw(st.integers(1, 24))
    if kind == "installments":
        return Installments(count, draw(intervals()))
    if kind == "deposit":
        percent = draw(st.integers(1, 99))
        return Installments(count, draw(intervals()), Deposit.percent(percent))
    return Subscription(draw(intervals()), cycles=count)


@given(price_lists(), neutral_plans(), st.data())
def test_a_schedule_sums_to_the_chosen_currencys_price_and_stays_in_it(
    product: Product, plan: PaymentPlan, data: st.DataObject
) -> None:
    """Whichever currency is chosen, every line is in it and a finite plan sums to its price."""
    code = data.draw(st.sampled_from(currencies(product)))
    view, chosen = plan_for(product, [], currency=code, requested=None)
    assert view.price.currency == code
    assert view.price in (product.price, *product.prices)
    price = view.price
    lines = build_schedule(plan, price, date(2026, 1, 31))
    assert {line.amount.currency for line in lines} == {code}
    if isinstance(plan, Subscription):
        assert sum(line.amount.minor for line in lines) == price.minor * len(lines)
    else:
        assert sum(line.amount.minor for line in lines) == price.minor
    assert chosen == FullPayment()


@given(price_lists(), st.data())
def test_fixed_plans_are_usable_exactly_in_their_own_currency(
    product: Product, data: st.DataObject
) -> None:
    """A plan fixed in currency X: plan_for gives it in X, refuses it in every other one."""
    codes = currencies(product)
    fixed_in = data.draw(st.sampled_from(codes))
    price = price_in(product, fixed_in)
    amount = data.draw(money(fixed_in, min_minor=1, max_minor=price.minor - 1))
    plan = Installments(2, Interval.months(1), Deposit.fixed(amount))
    product = Product(
        "prod_p", "course", "c-p", "P", product.price, prices=product.prices, offered_plans=(plan,)
    )
    for code in codes:
        if code == fixed_in:
            _, chosen = plan_for(product, [], currency=code, requested=plan)
            lines = build_schedule(chosen, price_in(product, code), date(2026, 3, 1))
            assert {line.amount.currency for line in lines} == {code}
            assert sum(line.amount.minor for line in lines) == price_in(product, code).minor
            assert plan in plans_for(product, [], currency=code)
        else:
            with pytest.raises(PlanCurrencyError):
                plan_for(product, [], currency=code, requested=plan)
            assert plan not in plans_for(product, [], currency=code)
