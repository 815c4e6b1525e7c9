from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction
from typing import Any

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
    describe_plan,
    detect_plan,
    eligible_plans,
    parse_plan,
    plan_from_data,
    plan_to_data,
)
from enrollpay.domain.records import Product
from enrollpay.errors import (
    InvalidAmountError,
    InvalidInputError,
    PlanError,
    PlanNotOffered,
    UnknownCurrencyError,
)
from enrollpay.testing.strategies import plans

THREE_MONTHLY = Installments(3)
TWELVE_MONTHLY = Installments(12)
DEPOSIT_PLAN = Installments(3, Interval.months(1), Deposit.percent(20))


def usd(amount: str) -> Money:
    """Shorthand for US dollars."""
    return Money.of(amount, "USD")


def product(
    *,
    price: Money | None = None,
    product_type: str = "course",
    pinned: PaymentPlan | None = None,
    offered: tuple[PaymentPlan, ...] = (),
    auto: bool = True,
    ident: str = "prod_1",
    external_id: str = "course-101",
) -> Product:
    """A product with handy defaults: a 1200.00 USD course with auto-assignment on."""
    return Product(
        id=ident,
        product_type=product_type,
        product_id=external_id,
        name="Course",
        price=usd("1200.00") if price is None else price,
        auto_assign_payment_plan=auto,
        payment_plan=pinned,
        offered_plans=offered,
    )


# --- deposits -------------------------------------------------------------------------


def test_percent_deposit_rounds_half_up_to_the_minor_unit() -> None:
    """20% of 299.99 is 59.998, which rounds to 60.00."""
    assert Deposit.percent(20).amount_for(usd("299.99")) == usd("60.00")
    assert Deposit.percent("12.5").amount_for(usd("0.20")) == usd("0.03")
    assert Deposit.percent(Decimal("10")).amount_for(usd("0.14")) == usd("0.01")


def test_percent_deposit_rounds_to_the_granularity() -> None:
    """With granularity 100 (whole dollars), 20% of 299.00 (59.80) becomes 60.00."""
    assert Deposit.percent(20).amount_for(usd("299.00"), granularity=100) == usd("60.00")
    assert Deposit.percent(20).amount_for(usd("297.00"), granularity=100) == usd("59.00")


@given(
    st.decimals(min_value="0.0001", max_value="99.9999", places=4),
    st.integers(min_value=1, max_value=10**12),
    st.sampled_from([1, 5, 10, 100]),
)
def test_percent_deposit_is_the_exact_share_rounded_half_up(
    percent: Decimal, units: int, granularity: int
) -> None:
    """Exactly price * p / 100 / g rounded half up, times g; PlanError outside (0, price)."""
    price = Money(units * granularity, "USD")
    share = Fraction(percent) * price.minor / (100 * granularity)
    whole, rest = divmod(share.numerator, share.denominator)
    expected = (whole + (2 * rest >= share.denominator)) * granularity
    if 0 < expected < price.minor:
        assert Deposit.percent(percent).amount_for(price, granularity=granularity) == Money(
            expected, "USD"
        )
    else:
        with pytest.raises(PlanError, match="above zero and below the price"):
            Deposit.percent(percent).amount_for(price, granularity=granularity)


def test_fixed_deposit_is_taken_as_given() -> None:
    """A fixed deposit in the price's currency is the deposit."""
    assert Deposit.fixed(usd("50.00")).amount_for(usd("300.00")) == usd("50.00")


@pytest.mark.parametrize("percent", [0, 100, -5, 150, "0.00"])
def test_percent_deposit_is_strictly_between_0_and_100(percent: Any) -> None:
    """0% and 100% are not deposits."""
    with pytest.raises(PlanError, match="between 0 and 100"):
        Deposit.percent(percent)


def test_percent_deposit_refuses_bad_values() -> None:
    """Non-numbers and floats are refused as amounts are."""
    with pytest.raises(InvalidAmountError):
        Deposit.percent("twenty")
    with pytest.raises(TypeError):
        Deposit.percent(20.0)  # type: ignore[arg-type]  # the point of the test


def test_deposit_is_either_percent_or_fixed() -> None:
    """Both or neither is a PlanError."""
    with pytest.raises(PlanError, match="either"):
        Deposit()
    with pytest.raises(PlanError, match="either"):
        Deposit(percent_value=Decimal(20), fixed_amount=usd("10.00"))


@pytest.mark.parametrize("amount", [Money(0, "USD"), Money(-100, "USD")])
def test_fixed_deposit_must_be_positive(amount: Money) -> None:
    """A zero or negative fixed deposit is a PlanError."""
    with pytest.raises(PlanError, match="positive"):
        Deposit.fixed(amount)


def test_fixed_deposit_must_be_money() -> None:
    """A number is not a fixed deposit."""
    with pytest.raises(PlanError, match="is Money"):
        Deposit.fixed(Decimal(50))  # type: ignore[arg-type]  # the point of the test


def test_fixed_deposit_must_match_the_price_currency_and_granularity() -> None:
    """A EUR deposit on a USD price, or one off the granularity, is a PlanError."""
    with pytest.raises(PlanError, match="not in the price currency"):
        Deposit.fixed(Money.of("50", "EUR")).amount_for(usd("300.00"))
    with pytest.raises(PlanError, match="multiple"):
        Deposit.fixed(usd("50.01")).amount_for(usd("300.00"), granularity=5)


@pytest.mark.parametrize(
    ("deposit", "price"),
    [
        (Deposit.fixed(usd("300.00")), usd("300.00")),
        (Deposit.fixed(usd("400.00")), usd("300.00")),
        (Deposit.percent(1), usd("0.01")),
        (Deposit.percent(99), usd("0.01")),
    ],
)
def test_deposit_must_be_above_zero_and_below_the_price(deposit: Deposit, price: Money) -> None:
    """A deposit that rounds to 0 or reaches the price is a PlanError."""
    with pytest.raises(PlanError, match="above zero and below the price"):
        deposit.amount_for(price)


# --- plan values ----------------------------------------------------------------------


def test_plan_defaults() -> None:
    """Installments default to monthly without deposit; subscriptions to open-ended."""
    assert THREE_MONTHLY.interval == Interval.months(1)
    assert THREE_MONTHLY.deposit is None
    plan = Subscription(Interval.months(1))
    assert (plan.amount, plan.cycles, plan.trial_days) == (None, None, 0)
    assert (FullPayment.kind, Installments.kind, Subscription.kind) == (
        "full",
        "installments",
        "subscription",
    )


@pytest.mark.parametrize("count", [0, -1, True, 2.0])
def test_installment_count_must_be_a_positive_int(count: Any) -> None:
    """Installments(0) and friends are PlanErrors."""
    with pytest.raises(PlanError, match="count"):
        Installments(count)


@pytest.mark.parametrize(("field", "value"), [("cycles", 0), ("cycles", True), ("trial_days", -1)])
def test_subscription_fields_are_validated(field: str, value: Any) -> None:
    """Subscription cycles are None or positive; trial_days are a non-negative int."""
    with pytest.raises(PlanError, match=field):
        Subscription(Interval.months(1), **{field: value})


def test_subscription_trial_must_be_an_int() -> None:
    """trial_days of True is refused."""
    with pytest.raises(PlanError, match="trial_days"):
        Subscription(Interval.months(1), trial_days=True)


# --- rules ----------------------------------------------------------------------------


def test_rule_without_conditions_matches_everything_active() -> None:
    """A bare active rule matches any product; an inactive one matches none."""
    assert PlanRule(THREE_MONTHLY).matches(product())
    assert not PlanRule(THREE_MONTHLY, active=False).matches(product())


def test_rule_product_types() -> None:
    """product_types lists the types matched; a bare string is one type."""
    rule = PlanRule(THREE_MONTHLY, product_types=["course", "program"])
    assert rule.matches(product(product_type="program"))
    assert not rule.matches(product(product_type="membership"))
    single = PlanRule(THREE_MONTHLY, product_types="course")
    assert single.product_types == frozenset({"course"})
    assert not single.matches(product(product_type="c"))


def test_rule_price_range_is_inclusive() -> None:
    """min_price and max_price both match at the bound."""
    rule = PlanRule(THREE_MONTHLY, min_price=usd("500.00"), max_price=usd("2000.00"))
    assert rule.matches(product(price=usd("500.00")))
    assert rule.matches(product(price=usd("2000.00")))
    assert not rule.matches(product(price=usd("499.99")))
    assert not rule.matches(product(price=usd("2000.01")))


def test_rule_price_bounds_only_match_their_currency() -> None:
    """A USD bound never matches (nor raises on) a EUR price."""
    eur = product(price=Money.of("1200", "EUR"))
    assert not PlanRule(THREE_MONTHLY, min_price=usd("1.00")).matches(eur)
    assert not PlanRule(THREE_MONTHLY, max_price=usd("9999.00")).matches(eur)


def test_rule_currency_is_normalised_and_checked() -> None:
    """currency='eur' matches EUR prices only; unknown codes are refused."""
    rule = PlanRule(THREE_MONTHLY, currency="eur")
    assert rule.currency == "EUR"
    assert rule.matches(product(price=Money.of("10", "EUR")))
    assert not rule.matches(product())
    with pytest.raises(UnknownCurrencyError):
        PlanRule(THREE_MONTHLY, currency="XYZ")


def test_rule_product_ids_match_either_id() -> None:
    """product_ids matches the product's id or its external product_id."""
    by_id = PlanRule(THREE_MONTHLY, product_ids=["prod_1"])
    by_external = PlanRule(THREE_MONTHLY, product_ids="course-101")
    assert by_id.matches(product())
    assert by_external.matches(product())
    assert not by_id.matches(product(ident="prod_2", external_id="course-102"))


def test_rule_needs_every_condition() -> None:
    """One failing condition among several is enough to miss."""
    rule = PlanRule(THREE_MONTHLY, product_types="course", currency="USD", product_ids="other")
    assert not rule.matches(product())


# --- detection ------------------------------------------------------------------------


def test_detect_falls_back_to_full_payment() -> None:
    """Without pin, rules or auto-assignment the plan is full payment."""
    assert detect_plan(product(), []) == FullPayment()
    assert detect_plan(product(auto=False), [PlanRule(THREE_MONTHLY)]) == FullPayment()
    assert detect_plan(product(), [PlanRule(THREE_MONTHLY, currency="EUR")]) == FullPayment()


def test_detect_uses_the_pinned_plan_before_rules() -> None:
    """A product's own payment_plan wins over every rule."""
    pinned = product(pinned=TWELVE_MONTHLY)
    assert detect_plan(pinned, [PlanRule(THREE_MONTHLY, priority=1)]) == TWELVE_MONTHLY


def test_detect_tries_rules_by_ascending_priority() -> None:
    """Priority 1 beats priority 10 whatever the order given."""
    rules = [PlanRule(TWELVE_MONTHLY, priority=10), PlanRule(THREE_MONTHLY, priority=1)]
    assert detect_plan(product(), rules) == THREE_MONTHLY


def test_detect_breaks_priority_ties_by_given_order() -> None:
    """Equal priorities keep the order they were given in."""
    first, second = PlanRule(TWELVE_MONTHLY, priority=5), PlanRule(THREE_MONTHLY, priority=5)
    assert detect_plan(product(), [first, second]) == TWELVE_MONTHLY
    assert detect_plan(product(), [second, first]) == THREE_MONTHLY


def test_detect_skips_rules_that_do_not_match() -> None:
    """A higher-priority rule that does not match gives way to the next."""
    rules = [
        PlanRule(TWELVE_MONTHLY, priority=1, product_types="program"),
        PlanRule(THREE_MONTHLY, priority=2),
    ]
    assert detect_plan(product(), rules) == THREE_MONTHLY


def test_detect_honours_an_eligible_requested_plan() -> None:
    """The caller may ask for an offered plan, a matching rule's plan or full payment."""
    offered = product(offered=(DEPOSIT_PLAN,), pinned=TWELVE_MONTHLY)
    rules = [PlanRule(THREE_MONTHLY)]
    assert detect_plan(offered, rules, requested=DEPOSIT_PLAN) == DEPOSIT_PLAN
    assert detect_plan(offered, rules, requested=THREE_MONTHLY) == THREE_MONTHLY
    assert detect_plan(offered, rules, requested=FullPayment()) == FullPayment()
    assert detect_plan(offered, rules, requested=TWELVE_MONTHLY) == TWELVE_MONTHLY


def test_detect_refuses_a_plan_nobody_offers() -> None:
    """A requested plan outside eligible_plans is PlanNotOffered (a PlanError)."""
    rules = [PlanRule(TWELVE_MONTHLY, currency="EUR")]
    with pytest.raises(PlanNotOffered, match="3 installments every 1 month"):
        detect_plan(product(), rules, requested=THREE_MONTHLY)
    with pytest.raises(PlanError):
        detect_plan(product(), rules, requested=TWELVE_MONTHLY)


def test_eligible_plans_lists_the_default_first_without_duplicates() -> None:
    """Default, offered plans, matching rules' plans, then full payment, each once."""
    rules = [
        PlanRule(DEPOSIT_PLAN, priority=5),
        PlanRule(THREE_MONTHLY, priority=1),
        PlanRule(Installments(6), currency="EUR"),
        PlanRule(TWELVE_MONTHLY, priority=7),
    ]
    subject = product(offered=(TWELVE_MONTHLY, Installments(2), THREE_MONTHLY))
    assert eligible_plans(subject, rules) == (
        THREE_MONTHLY,
        TWELVE_MONTHLY,
        Installments(2),
        DEPOSIT_PLAN,
        FullPayment(),
    )


def test_eligible_plans_is_at_least_full_payment() -> None:
    """A product with nothing configured offers only full payment."""
    assert eligible_plans(product(auto=False), []) == (FullPayment(),)


def test_eligible_plans_starts_with_the_pinned_plan() -> None:
    """The pinned plan is the default, so it comes first."""
    subject = product(pinned=TWELVE_MONTHLY, auto=False)
    assert eligible_plans(subject, [PlanRule(THREE_MONTHLY)]) == (
        TWELVE_MONTHLY,
        THREE_MONTHLY,
        FullPayment(),
    )


@given(plans())
def test_detect_always_returns_an_eligible_plan(plan: PaymentPlan) -> None:
    """Whatever is pinned, detection's choice is the first eligible plan."""
    subject = product(pinned=plan)
    assert detect_plan(subject, []) == plan
    assert eligible_plans(subject, [])[0] == plan
    assert detect_plan(subject, [], requested=plan) == plan


# --- describing -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plan", "text"),
    [
        (FullPayment(), "full payment"),
        (THREE_MONTHLY, "3 installments every 1 month"),
        (DEPOSIT_PLAN, "20% deposit + 3 installments every 1 month"),
        (
            Installments(4, Interval.weeks(2), Deposit.fixed(usd("50.00"))),
            "50.00 USD deposit + 4 installments every 2 weeks",
        ),
        (Subscription(Interval.months(1)), "subscription every 1 month"),
        (
            Subscription(Interval.years(1), amount=usd("99.00"), cycles=3, trial_days=14),
            "subscription every 1 year at 99.00 USD for 3 cycles after a 14-day trial",
        ),
    ],
)
def test_describe_plan(plan: PaymentPlan, text: str) -> None:
    """Plans describe themselves in short English."""
    assert describe_plan(plan) == text


# --- storing --------------------------------------------------------------------------


def test_plan_to_data_shapes() -> None:
    """Each plan kind stores as a small JSON-ready dict."""
    assert plan_to_data(FullPayment()) == {"kind": "full"}
    assert plan_to_data(DEPOSIT_PLAN) == {
        "kind": "installments",
        "count": 3,
        "interval": ["month", 1],
        "deposit": {"percent": "20", "fixed": None},
    }
    assert plan_to_data(Subscription(Interval.weeks(2), amount=Money(500, "USD"), cycles=4)) == {
        "kind": "subscription",
        "interval": ["week", 2],
        "amount": {"minor": 500, "currency": "USD"},
        "cycles": 4,
        "trial_days": 0,
    }


@given(plans())
def test_plan_data_round_trips_through_json(plan: PaymentPlan) -> None:
    """plan_from_data(json(plan_to_data(p))) == p for every plan."""
    data = json.loads(json.dumps(plan_to_data(plan)))
    assert plan_from_data(data) == plan


def test_plan_from_data_defaults_trial_days() -> None:
    """Old subscription data without trial_days reads as no trial."""
    data = {"kind": "subscription", "interval": ["month", 1]}
    assert plan_from_data(data) == Subscription(Interval.months(1))


@pytest.mark.parametrize("data", [{}, {"kind": "loan"}])
def test_plan_from_data_refuses_unknown_kinds(data: dict[str, Any]) -> None:
    """Data without a known kind is a PlanError."""
    with pytest.raises(PlanError, match="unknown plan kind"):
        plan_from_data(data)


# --- parsing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "plan"),
    [
        ("deposit=20%,installments=3,every=1 month", DEPOSIT_PLAN),
        ("installments=3", THREE_MONTHLY),
        (" Installments = 4 , every = 2 weeks ", Installments(4, Interval.weeks(2))),
        (
            "installments=2,deposit=100",
            Installments(2, Interval.months(1), Deposit.fixed(usd("100.00"))),
        ),
        ("deposit=12.5 %,installments=2", Installments(2, deposit=Deposit.percent("12.5"))),
        ("full", FullPayment()),
        ("", FullPayment()),
        (" , ", FullPayment()),
        ("subscription", Subscription(Interval.months(1))),
        (
            "subscription,every=1 year,amount=99.00,cycles=3,trial=14",
            Subscription(Interval.years(1), amount=usd("99.00"), cycles=3, trial_days=14),
        ),
    ],
)
def test_parse_plan(text: str, plan: PaymentPlan) -> None:
    """Plan specs parse into the plan they spell."""
    assert parse_plan(text, "USD") == plan


def test_parse_plan_reads_amounts_in_the_given_currency() -> None:
    """Fixed deposits and amounts are major units of the currency passed in."""
    plan = parse_plan("installments=2,deposit=5000", "jpy")
    assert plan == Installments(2, deposit=Deposit.fixed(Money(5000, "JPY")))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("installments=3,colour=red", "unknown plan field"),
        ("every=1 month", "names no plan kind"),
        ("deposit=20%", "names no plan kind"),
        ("installments=three", "bad plan spec"),
        ("installments", "bad plan spec"),
        ("subscription,cycles=x", "bad plan spec"),
        ("subscription,trial=1.5", "bad plan spec"),
        ("every=fortnightly,installments=2", "not an interval unit"),
    ],
)
def test_parse_plan_refuses_bad_specs(text: str, message: str) -> None:
    """Malformed specs raise InvalidInputError naming the problem."""
    with pytest.raises(InvalidInputError, match=message):
        parse_plan(text, "USD")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("installments=0", PlanError),
        ("subscription,cycles=0", PlanError),
        ("subscription,trial=-1", PlanError),
        ("installments=2,deposit=100%", PlanError),
        ("installments=2,deposit=1.001", InvalidAmountError),
        ("installments=2,deposit=abc%", InvalidAmountError),
        ("subscription,amount=9.999", InvalidAmountError),
    ],
)
def test_parse_plan_passes_domain_errors_through(text: str, error: type[Exception]) -> None:
    """Errors that already say what is wrong reach the caller unchanged."""
    with pytest.raises(error) as info:
        parse_plan(text, "USD")
    assert "bad plan spec" not in str(info.value)


@given(plans())
def test_parse_plan_round_trips_a_spec_written_from_plan_fields(plan: PaymentPlan) -> None:
    """A spec written from a plan's fields parses back to the same plan."""
    parts: list[str] = []
    currency = "USD"
    if isinstance(plan, FullPayment):
        parts.append("full")
    elif isinstance(plan, Installments):
        parts += [f"installments={plan.count}", f"every={plan.interval}"]
        if plan.deposit is not None and plan.deposit.fixed_amount is not None:
            currency = plan.deposit.fixed_amount.currency
            parts.append(f"deposit={plan.deposit.fixed_amount.amount}")
        elif plan.deposit is not None:
            parts.append(f"deposit={plan.deposit.percent_value}%")
    else:
        parts += ["subscription", f"every={plan.interval}", f"trial={plan.trial_days}"]
        if plan.amount is not None:
            currency = plan.amount.currency
            parts.append(f"amount={plan.amount.amount}")
        if plan.cycles is not None:
            parts.append(f"cycles={plan.cycles}")
    assert parse_plan(",".join(parts), currency) == plan
