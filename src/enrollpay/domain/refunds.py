"""Refund policies and pure refund quotes with the line items that explain them."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

import attrs

from enrollpay.domain.money import Money, round_half_up
from enrollpay.errors import CurrencyMismatchError, InvalidInputError

__all__ = ["RefundLine", "RefundPolicy", "RefundQuote", "quote_refund"]

Proration = Literal["time", "none"]
Basis = Literal["cooling_off", "prorated", "no_proration"]


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

    - cancelled within ``cooling_off_days`` days of service (inclusive;
      paused days do not count): everything paid is refunded;
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
    """The refund for a cancellation and the arithmetic behind it.

    ``paused_days`` are the days of the service the enrollment spent paused
    (not used); ``service_end`` is the end they moved the service to.
    """

    refund: Money
    retained: Money
    earned: Money
    paid: Money
    basis: Basis
    used_days: int
    total_days: int
    lines: tuple[RefundLine, ...]
    paused_days: int
    service_end: date


def quote_refund(
    policy: RefundPolicy,
    *,
    price: Money,
    paid: Money,
    service_start: date,
    service_end: date,
    cancelled_on: date,
    paused_days: int = 0,
) -> RefundQuote:
    """Quote the refund of a cancellation on ``cancelled_on``.

    ``service_end`` is the end of the service as sold; ``paused_days`` are
    the days between ``service_start`` and ``cancelled_on`` the enrollment
    spent paused. Paused days are not used days, and they move the end of
    the service later by as many days. With
    ``service_days = (cancelled_on - service_start).days - paused_days``,
    ``total_days = (service_end - service_start).days`` and
    ``used_days = clamp(service_days, 0, total_days)``::

        earned   = round_half_up(price * used_days / total_days)
        retained = min(price, max(earned, non_refundable) + admin_fee)
        refund   = clamp(paid - retained, 0, paid)

    Within the cooling-off window (``service_days <= cooling_off_days``:
    the window counts days of service, so a pause does not use it up) the
    refund is everything paid. With ``proration="none"`` the refund after
    the window is zero.

    ``price`` is what the student pays: after a discount, the discounted
    price, so the school earns a share of what was charged, not of the list
    price. The refund is never more than ``paid``.
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
    # A free enrollment (a 100% discount) is priced at zero: nothing was
    # paid and nothing comes back. Anything else is priced above zero.
    if price.minor < 0 or (price.minor == 0 and paid.minor):
        raise InvalidInputError(
            f"price must be positive (zero only when nothing was paid), got {price}"
        )
    if isinstance(paused_days, bool) or not isinstance(paused_days, int) or paused_days < 0:
        raise InvalidInputError(f"paused_days must be a non-negative int, got {paused_days!r}")
    total_days = (service_end - service_start).days
    if total_days <= 0:
        raise InvalidInputError(
            f"service_end {service_end} must be after service_start {service_start}"
        )
    service_days = (cancelled_on - service_start).days - paused_days
    used_days = min(max(service_days, 0), total_days)
    moved_end = service_end + timedelta(days=paused_days)
    zero = Money.zero(currency)
    earned = Money(round_half_up(price.minor * used_days, total_days), currency)
    lines = [RefundLine("paid", "Paid so far", paid)]
    if paused_days:
        # Explains, moves no money: the paused days are left out of used_days.
        label = f"Paused {paused_days} days, not counted as used: service ends {moved_end}"
        lines.append(RefundLine("paused", label, zero))

    def quoted(refund: Money, retained: Money, basis: Basis) -> RefundQuote:
        return RefundQuote(
            refund=refund,
            retained=retained,
            earned=earned,
            paid=paid,
            basis=basis,
            used_days=used_days,
            total_days=total_days,
            lines=(*lines, RefundLine("refund", "Refund", refund)),
            paused_days=paused_days,
            service_end=moved_end,
        )

    if service_days <= policy.cooling_off_days:
        lines.append(
            RefundLine(
                "cooling_off", f"Cancelled within {policy.cooling_off_days} days: full refund", paid
            )
        )
        return quoted(paid, zero, "cooling_off")

    if policy.proration == "none":
        lines.append(RefundLine("no_proration", "No refund after the cooling-off period", paid))
        return quoted(zero, paid, "no_proration")

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
    return quoted(refund, retained, "prorated")
