"""The demo school's catalogue: its products, plan rules and refund policy."""

from __future__ import annotations

import attrs

from enrollpay.domain.calendar import Interval
from enrollpay.domain.money import Money
from enrollpay.domain.plans import Deposit, FullPayment, Installments, PlanRule, Subscription
from enrollpay.domain.refunds import RefundPolicy
from enrollpay.service.system import PaymentSystem

__all__ = ["ADMIN", "CATALOG", "INSTALLMENT_PRODUCTS", "ProductSpec", "register_catalogue"]

#: Who the demo's administrative actions are recorded as.
ADMIN = "admin@school.example"


@attrs.frozen
class ProductSpec:
    """A product of the demo school's catalogue."""

    key: str
    product_type: str
    name: str
    price: Money
    weight: int
    payment_plan: FullPayment | Installments | Subscription | None = None
    service_period: Interval = Interval.months(6)  # noqa: RUF009 - Interval is frozen


_COURSE_REFUNDS = RefundPolicy(
    cooling_off_days=14, proration="time", admin_fee=Money.of("25.00", "USD")
)

#: Plans: the two dearer courses get theirs from plan rules, the cheap one
#: falls through to full payment, and the membership pins a subscription.
CATALOG: tuple[ProductSpec, ...] = (
    ProductSpec("python-foundations", "course", "Python Foundations", Money.of("199", "USD"), 3),
    ProductSpec("react-masterclass", "course", "React Masterclass", Money.of("299.99", "USD"), 3),
    ProductSpec(
        "data-science-bootcamp", "course", "Data Science Bootcamp", Money.of("1200", "USD"), 2
    ),
    ProductSpec(
        "design-club",
        "membership",
        "Design Club Berlin",
        Money.of("29", "EUR"),
        2,
        payment_plan=Subscription(Interval.months(1), trial_days=14),
        service_period=Interval.months(1),
    ),
)
_RULES = (
    PlanRule(
        plan=Installments(4),
        name="bootcamps: 4 monthly installments",
        priority=10,
        min_price=Money.of("1000", "USD"),
    ),
    PlanRule(
        plan=Installments(3, deposit=Deposit.percent(20)),
        name="courses from $250: 20% deposit + 3 installments",
        priority=20,
        product_types="course",
        min_price=Money.of("250", "USD"),
    ),
)
INSTALLMENT_PRODUCTS = ("react-masterclass", "data-science-bootcamp")


def register_catalogue(system: PaymentSystem) -> dict[str, str]:
    """Register the catalogue and its plan rules; the products' ids by key."""
    system.set_plan_rules(list(_RULES), actor=ADMIN)
    ids = {}
    for spec in CATALOG:
        product = system.register_product(
            product_type=spec.product_type,
            product_id=spec.key,
            name=spec.name,
            price=spec.price,
            auto_assign_payment_plan=spec.payment_plan is None,
            payment_plan=spec.payment_plan,
            refund_policy=_COURSE_REFUNDS if spec.product_type == "course" else None,
            service_period=spec.service_period,
            actor=ADMIN,
        )
        ids[spec.key] = product.id
    return ids
