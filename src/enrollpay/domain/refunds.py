"""Refund policies and pure refund quotes with the line items that explain them."""

from __future__ import annotations

from datetime import date
from typing import Literal

import attrs

from enrollpay.domain.money import Money, round_half_up
from enrollpay.errors import CurrencyMismatchError, InvalidInputError

__all__ = ["RefundLine", "RefundPolicy", "RefundQuote", "quote_refund"]

Proration = Literal["time", "none"]


def _non_negative_days(_instance: object, _attribute: object, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError(f"cooling_off_days must be a non-negative int, got {value!r}")


def _proration(_instance: object, _attribute: object, value: object) -> None:
    if value not in ("time", "none"):
        raise InvalidInputError(f"proration must be 'time' or 'none', got {value!r}")


def _opt_non_negative_money(
    _instance: object, attribute: attrs.Attribute[Money], value: object
) -> None:
    if value is None:
        return
    if not isinstance(value, Money):
        raise InvalidInputError(f"{attribute.name} must be Money, got {type(value).__name__}")
    if value.minor < 0:
        raise InvalidInputError(f"{attribute.name} must not be negative, got {value}")


@attrs.frozen
class RefundPolicy:
    """How much of what was paid comes back when an enrollment is cancelled.

    - cancelled within ``cooling_off_days`` of the service start (inclusive):
      everything paid is refunded;
    - ``proration="none"``: nothing is refunded after the window;
    - ``proration="time"``: the school keeps what the elapsed time earned,
      at least ``non_refundable``, plus ``admin_fee``.
    """

    cooling_off_days: int = attrs.field(default=14, validator=_non_negative_days)
    proration: Proration = attrs.field(default="time", validator=_proration)
    non_refundable: Money | None = attrs.field(default=None, validator=_opt_non_negative_money)
    admin_fee: Money | None = attrs.field(default=None, validator=_opt_non_negative_money)


@attrs.frozen
class RefundLine:
    """One line of a quote: a machine ``code``, a human ``label`` and an amount."""

    code: str
    label: str
    amount: Money


@attrs.frozen
class RefundQuote:
    """The refund for a cancellation and the arithmetic behind it."""

    refund: Money
    retained: Money
    earned: Money
    paid: Money
    basis: Literal["cooling_off", "prorated", "no_proration"]
    used_days: int
    total_days: int
    lines: tuple[RefundLine, ...]


def quote_refund(
    policy: RefundPolicy,
    *,
    price: Money,
    paid: Money,
    service_start: date,
    service_end: date,
    cancelled_on: date,
) -> RefundQuote:
    """Quote the refund of a cancellation on ``cancelled_on``.

    With ``used_days = clamp((cancelled_on - service_start).days, 0, total_days)``
    and ``total_days = (service_end - service_start).days``::

        earned   = round_half_up(price * used_days / total_days)
        retained = min(price, max(earned, non_refundable) + admin_fee)
        refund   = clamp(paid - retained, 0, paid)

    Within the cooling-off window (``cancelled_on <= service_start +
    cooling_off_days``) the refund is everything paid. With
    ``proration="none"`` the refund after the window is zero.
    """
    currency = price.currency
    for name, value in (
        ("paid", paid),
        ("non_refundable", policy.non_refundable),
        ("admin_fee", policy.admin_fee),
    ):
        if value is not None and value.currency != currency:
            raise CurrencyMismatchError(currency, value.currency)
        if value is not None and value.minor < 0:
            raise InvalidInputError(f"{name} must not be negative, got {value}")
    if price.minor <= 0:
        raise InvalidInputError(f"price must be positive, got {price}")
    total_days = (service_end - service_start).days
    if total_days <= 0:
        raise InvalidInputError(
            f"service_end {service_end} must be after service_start {service_start}"
        )
    elapsed = (cancelled_on - service_start).days
    used_days = min(max(elapsed, 0), total_days)
    zero = Money.zero(currency)
    earned = Money(round_half_up(price.minor * used_days, total_days), currency)
    lines = [RefundLine("paid", "Paid so far", paid)]

    if elapsed <= policy.cooling_off_days:
        lines.append(
            RefundLine(
                "cooling_off", f"Cancelled within {policy.cooling_off_days} days: full refund", paid
            )
        )
        return RefundQuote(
            paid,
            zero,
            earned,
            paid,
            "cooling_off",
            used_days,
            total_days,
            (*lines, RefundLine("refund", "Refund", paid)),
        )

    if policy.proration == "none":
        lines.append(RefundLine("no_proration", "No refund after the cooling-off period", paid))
        return RefundQuote(
            zero,
            paid,
            earned,
            paid,
            "no_proration",
            used_days,
            total_days,
            (*lines, RefundLine("refund", "Refund", zero)),
        )

    lines.append(RefundLine("earned", f"Used {used_days} of {total_days} days", earned))
    kept = earned
    if policy.non_refundable is not None and policy.non_refundable > earned:
        kept = policy.non_refundable
        lines.append(RefundLine("non_refundable", "Non-refundable minimum", policy.non_refundable))
    if policy.admin_fee is not None and policy.admin_fee.minor:
        kept = kept + policy.admin_fee
        lines.append(RefundLine("admin_fee", "Administration fee", policy.admin_fee))
    retained = kept.min(price)
    refund = Money(min(max(paid.minor - retained.minor, 0), paid.minor), currency)
    lines.append(RefundLine("retained", "Retained", retained))
    lines.append(RefundLine("refund", "Refund", refund))
    return RefundQuote(
        refund, retained, earned, paid, "prorated", used_days, total_days, tuple(lines)
    )
