"""Payment plan kinds, deposits, plan rules and automatic plan detection."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Protocol, TypeAlias

import attrs

from enrollpay.domain.calendar import Interval
from enrollpay.domain.money import Money, _to_decimal, round_half_up
from enrollpay.errors import InvalidInputError, PlanError, PlanNotOffered

__all__ = [
    "Deposit",
    "FullPayment",
    "Installments",
    "PaymentPlan",
    "PlanRule",
    "PlanSubject",
    "Subscription",
    "describe_plan",
    "detect_plan",
    "eligible_plans",
    "parse_plan",
    "plan_from_data",
    "plan_to_data",
]


def _check_percent(_instance: object, _attribute: object, value: Decimal | None) -> None:
    if value is not None and not Decimal(0) < value < Decimal(100):
        raise PlanError(f"deposit percent must be between 0 and 100 exclusive, got {value}")


def _opt_decimal(value: object) -> Decimal | None:
    return None if value is None else _to_decimal(value)


@attrs.frozen
class Deposit:
    """An up-front part of the price: a percentage of it or a fixed amount."""

    percent_value: Decimal | None = attrs.field(
        default=None, converter=_opt_decimal, validator=_check_percent
    )
    fixed_amount: Money | None = None

    def __attrs_post_init__(self) -> None:
        if (self.percent_value is None) == (self.fixed_amount is None):
            raise PlanError("a deposit is either a percent or a fixed amount")
        if self.fixed_amount is not None and self.fixed_amount.minor <= 0:
            raise PlanError(f"a fixed deposit must be positive, got {self.fixed_amount}")

    @classmethod
    def percent(cls, p: Decimal | str | int) -> Deposit:
        """``p`` percent of the price, rounded half-up to the minor unit."""
        return cls(percent_value=_to_decimal(p))

    @classmethod
    def fixed(cls, amount: Money) -> Deposit:
        """A fixed amount, in the price's currency."""
        if not isinstance(amount, Money):
            raise PlanError(f"a fixed deposit is Money, got {type(amount).__name__}")
        return cls(fixed_amount=amount)

    def amount_for(self, price: Money, *, granularity: int = 1) -> Money:
        """The deposit on ``price``: ``round_half_up(price * p / 100 / g) * g``."""
        if self.fixed_amount is not None:
            deposit = self.fixed_amount
            if deposit.currency != price.currency:
                raise PlanError(f"deposit {deposit} is not in the price currency {price.currency}")
            if deposit.minor % granularity:
                raise PlanError(f"deposit {deposit} is not a multiple of {granularity} minor units")
        else:
            assert self.percent_value is not None  # noqa: S101 - guaranteed by post-init
            # p = n/d exactly, so the share is n * price / (d * 100 * g); round_half_up
            # depends only on the ratio, so it need not be reduced first.
            numerator, denominator = self.percent_value.as_integer_ratio()
            deposit = Money(
                round_half_up(numerator * price.minor, denominator * 100 * granularity)
                * granularity,
                price.currency,
            )
        if not 0 < deposit.minor < price.minor:
            raise PlanError(f"deposit {deposit} must be above zero and below the price {price}")
        return deposit


@attrs.frozen
class FullPayment:
    """The whole price, due on the enrollment date."""

    kind: ClassVar[str] = "full"


def _check_count(_instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PlanError(f"{attribute.name} must be a positive int, got {value!r}")


def _check_opt_count(instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    if value is not None:
        _check_count(instance, attribute, value)


def _check_trial(_instance: object, _attribute: object, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PlanError(f"trial_days must be a non-negative int, got {value!r}")


@attrs.frozen
class Installments:
    """``count`` installments one ``interval`` apart, optionally after a deposit."""

    kind: ClassVar[str] = "installments"
    count: int = attrs.field(validator=_check_count)
    interval: Interval = Interval.months(1)  # noqa: RUF009 - Interval is frozen, sharing is safe
    deposit: Deposit | None = None


@attrs.frozen
class Subscription:
    """One charge per period; ``cycles=None`` runs until cancelled."""

    kind: ClassVar[str] = "subscription"
    interval: Interval
    amount: Money | None = None
    cycles: int | None = attrs.field(default=None, validator=_check_opt_count)
    trial_days: int = attrs.field(default=0, validator=_check_trial)


PaymentPlan: TypeAlias = FullPayment | Installments | Subscription


class PlanSubject(Protocol):
    """What plan detection needs to know about a product."""

    @property
    def id(self) -> str: ...  # noqa: D102
    @property
    def product_id(self) -> str: ...  # noqa: D102
    @property
    def product_type(self) -> str: ...  # noqa: D102
    @property
    def price(self) -> Money: ...  # noqa: D102
    @property
    def payment_plan(self) -> PaymentPlan | None: ...  # noqa: D102
    @property
    def offered_plans(self) -> tuple[PaymentPlan, ...]: ...  # noqa: D102
    @property
    def auto_assign_payment_plan(self) -> bool: ...  # noqa: D102


def _opt_frozenset(value: Iterable[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return frozenset([value])
    return frozenset(value)


def _opt_currency(value: str | None) -> str | None:
    return None if value is None else Money.zero(value).currency


@attrs.frozen
class PlanRule:
    """Offer ``plan`` to products that meet every condition that is set.

    Rules are tried by ascending ``priority`` (1 before 10); ties keep the
    order they were given in. Price bounds are inclusive and only match
    products priced in the bound's currency.
    """

    plan: PaymentPlan
    name: str = ""
    priority: int = 100
    product_types: frozenset[str] | None = attrs.field(default=None, converter=_opt_frozenset)
    min_price: Money | None = None
    max_price: Money | None = None
    currency: str | None = attrs.field(default=None, converter=_opt_currency)
    product_ids: frozenset[str] | None = attrs.field(default=None, converter=_opt_frozenset)
    active: bool = True

    def matches(self, product: PlanSubject) -> bool:
        """True when every condition set on the rule holds for ``product``."""
        price = product.price
        checks = (
            self.active,
            self.product_types is None or product.product_type in self.product_types,
            self.currency is None or price.currency == self.currency,
            self.min_price is None
            or (self.min_price.currency == price.currency and price >= self.min_price),
            self.max_price is None
            or (self.max_price.currency == price.currency and price <= self.max_price),
            self.product_ids is None
            or product.id in self.product_ids
            or product.product_id in self.product_ids,
        )
        return all(checks)


def _rules_in_order(rules: Sequence[PlanRule]) -> list[PlanRule]:
    return [rule for _, rule in sorted(enumerate(rules), key=lambda p: (p[1].priority, p[0]))]


def detect_plan(
    product: PlanSubject, rules: Sequence[PlanRule], requested: PaymentPlan | None = None
) -> PaymentPlan:
    """Choose the plan for a new enrollment.

    In order: the ``requested`` plan (must be one of :func:`eligible_plans`,
    else :class:`PlanNotOffered`); the product's pinned plan; with
    ``auto_assign_payment_plan``, the first matching rule; else full payment.
    """
    if requested is not None:
        if requested not in eligible_plans(product, rules):
            raise PlanNotOffered(f"{describe_plan(requested)} is not offered for {product.id!r}")
        return requested
    if product.payment_plan is not None:
        return product.payment_plan
    if product.auto_assign_payment_plan:
        for rule in _rules_in_order(rules):
            if rule.matches(product):
                return rule.plan
    return FullPayment()


def eligible_plans(product: PlanSubject, rules: Sequence[PlanRule]) -> tuple[PaymentPlan, ...]:
    """Every plan a checkout page may offer, the default choice first.

    The default (what :func:`detect_plan` picks unasked), then the product's
    offered plans, then the plans of every matching rule, then full payment,
    which is always allowed; duplicates removed.
    """
    candidates: list[PaymentPlan] = [detect_plan(product, rules)]
    candidates.extend(product.offered_plans)
    candidates.extend(rule.plan for rule in _rules_in_order(rules) if rule.matches(product))
    candidates.append(FullPayment())
    unique: list[PaymentPlan] = []
    for plan in candidates:
        if plan not in unique:
            unique.append(plan)
    return tuple(unique)


# --- describing and storing plans -------------------------------------------


def describe_plan(plan: PaymentPlan) -> str:
    """A short English description: ``"20% deposit + 3 installments every 1 month"``."""
    if isinstance(plan, FullPayment):
        return "full payment"
    if isinstance(plan, Installments):
        text = f"{plan.count} installments every {plan.interval}"
        if plan.deposit is not None:
            if plan.deposit.fixed_amount is not None:
                text = f"{plan.deposit.fixed_amount} deposit + {text}"
            else:
                text = f"{plan.deposit.percent_value}% deposit + {text}"
        return text
    text = f"subscription every {plan.interval}"
    if plan.amount is not None:
        text += f" at {plan.amount}"
    if plan.cycles is not None:
        text += f" for {plan.cycles} cycles"
    if plan.trial_days:
        text += f" after a {plan.trial_days}-day trial"
    return text


def _money_data(value: Money | None) -> dict[str, Any] | None:
    return None if value is None else {"minor": value.minor, "currency": value.currency}


def _money_from(data: Any) -> Money | None:
    return None if data is None else Money(int(data["minor"]), str(data["currency"]))


def plan_to_data(plan: PaymentPlan) -> dict[str, Any]:
    """A JSON-ready dict that :func:`plan_from_data` turns back into ``plan``."""
    if isinstance(plan, FullPayment):
        return {"kind": "full"}
    if isinstance(plan, Installments):
        deposit: dict[str, Any] | None = None
        if plan.deposit is not None:
            deposit = {
                "percent": None
                if plan.deposit.percent_value is None
                else str(plan.deposit.percent_value),
                "fixed": _money_data(plan.deposit.fixed_amount),
            }
        return {
            "kind": "installments",
            "count": plan.count,
            "interval": [plan.interval.unit, plan.interval.count],
            "deposit": deposit,
        }
    return {
        "kind": "subscription",
        "interval": [plan.interval.unit, plan.interval.count],
        "amount": _money_data(plan.amount),
        "cycles": plan.cycles,
        "trial_days": plan.trial_days,
    }


def plan_from_data(data: dict[str, Any]) -> PaymentPlan:
    """Inverse of :func:`plan_to_data`."""
    kind = data.get("kind")
    if kind == "full":
        return FullPayment()
    if kind == "installments":
        raw = data.get("deposit")
        deposit = None
        if raw is not None:
            fixed = _money_from(raw.get("fixed"))
            deposit = Deposit.fixed(fixed) if fixed is not None else Deposit.percent(raw["percent"])
        unit, count = data["interval"]
        return Installments(int(data["count"]), Interval(unit, int(count)), deposit)
    if kind == "subscription":
        unit, count = data["interval"]
        return Subscription(
            Interval(unit, int(count)),
            amount=_money_from(data.get("amount")),
            cycles=data.get("cycles"),
            trial_days=int(data.get("trial_days", 0)),
        )
    raise PlanError(f"unknown plan kind {kind!r}")


def parse_plan(text: str, currency: str) -> PaymentPlan:
    """Parse a plan spec such as ``"deposit=20%,installments=3,every=1 month"``.

    Keys: ``full``; ``installments=N``; ``subscription``; ``every=INTERVAL``;
    ``deposit=P%`` or ``deposit=AMOUNT``; ``amount=AMOUNT``; ``cycles=N``;
    ``trial=DAYS``. Amounts are in major units of ``currency``.
    """
    fields: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, _, value = part.partition("=")
        fields[key.strip().lower()] = value.strip()
    known = {
        "full",
        "installments",
        "subscription",
        "every",
        "deposit",
        "amount",
        "cycles",
        "trial",
    }
    unknown = sorted(set(fields) - known)
    if unknown:
        raise InvalidInputError(f"unknown plan field(s): {', '.join(unknown)}")
    interval = Interval.parse(fields["every"]) if "every" in fields else Interval.months(1)
    try:
        if "installments" in fields:
            deposit = None
            if "deposit" in fields:
                raw = fields["deposit"]
                deposit = (
                    Deposit.percent(raw.rstrip("%").strip())
                    if raw.endswith("%")
                    else Deposit.fixed(Money.of(raw, currency))
                )
            return Installments(int(fields["installments"]), interval, deposit)
        if "subscription" in fields:
            amount = Money.of(fields["amount"], currency) if "amount" in fields else None
            cycles = int(fields["cycles"]) if "cycles" in fields else None
            trial = int(fields.get("trial", "0"))
            return Subscription(interval, amount=amount, cycles=cycles, trial_days=trial)
    except (ValueError, InvalidOperation) as exc:
        if isinstance(exc, InvalidInputError):
            raise
        raise InvalidInputError(f"bad plan spec {text!r}: {exc}") from None
    if "full" in fields or not fields:
        return FullPayment()
    raise InvalidInputError(f"plan spec {text!r} names no plan kind")
