"""Taxes at enrollment, and the tax in each payment and refund.

A system configured with :class:`TaxSettings` (``SystemConfig(taxes=...)``)
taxes an enrollment given a tax address (``enroll(tax_address=...)``, or
the settings' ``default_address``). The calculator is asked *before* the
enrollment's transaction opens, for the schedule the enrollment would get
(:func:`quote_enrollment`), so no store transaction waits on a tax service;
inside the transaction the schedule is laid out again and must still have
the prices that were quoted (:func:`charged_lines`), or the enrollment is
refused with nothing written. Each item keeps its
:class:`~enrollpay.domain.taxes.TaxLine`: with ``exclusive`` prices the item
charges net + tax, with ``inclusive`` prices the amounts are unchanged and
the tax is inside them.

Payments and refunds carry the tax of the share of the item's gross they
move (:func:`~enrollpay.domain.taxes.tax_of_part`), counted after the
payments or refunds of that item before them; receipts and credit notes
print it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import attrs

from enrollpay.domain.money import Money
from enrollpay.domain.plans import PaymentPlan, Subscription
from enrollpay.domain.records import Payment, Refund, ScheduleItem
from enrollpay.domain.schedule import ScheduleLine
from enrollpay.domain.taxes import TAX_MODES, TaxAddress, TaxLine, TaxMode, TaxQuote, tax_of_part
from enrollpay.errors_taxes import TaxError
from enrollpay.ports import StoreTransaction
from enrollpay.ports.taxes import TaxCalculator

if TYPE_CHECKING:
    from enrollpay.service.context import Context

__all__ = [
    "TaxSettings",
    "charged_lines",
    "charged_price",
    "payment_tax",
    "quote_enrollment",
    "refund_tax",
    "taxed_items",
    "with_tax",
]


def _check_calculator(_instance: object, _attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, TaxCalculator):
        raise TaxError(f"calculator must be a TaxCalculator, got {type(value).__name__}")


def _check_mode(_instance: object, _attribute: attrs.Attribute[Any], value: object) -> None:
    if value not in TAX_MODES:
        raise TaxError(f"tax mode must be one of {list(TAX_MODES)}, got {value!r}")


@attrs.frozen
class TaxSettings:
    """How a system taxes enrollments.

    ``calculator`` knows the rates (:class:`~enrollpay.taxes.TableTaxCalculator`,
    :class:`~enrollpay.gateways.stripe.tax.StripeTaxCalculator`); ``mode`` says
    whether product prices include their tax (``"inclusive"``) or have it
    added (``"exclusive"``, the default); ``tax_code`` is the product's tax
    code for calculators that know kinds of product (Stripe: ``txcd_...``);
    ``default_address`` taxes an enrollment that names no address (None:
    such an enrollment is not taxed).
    """

    calculator: TaxCalculator = attrs.field(validator=_check_calculator)
    mode: TaxMode = attrs.field(default="exclusive", validator=_check_mode)
    tax_code: str | None = None
    default_address: TaxAddress | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(TaxAddress))
    )


def quote_enrollment(
    ctx: Context,
    address: TaxAddress | None,
    *,
    product_id: str,
    user_id: str,
    plan: PaymentPlan | None,
    coupon: str | None,
    scholarship: str | None,
    start: date,
    currency: str | None = None,
    split: bool = False,
) -> TaxQuote | None:
    """The tax of the schedule this enrollment would get (None: it is not taxed).

    ``currency`` picks the product's price as ``enroll`` does (see
    :mod:`enrollpay.domain.price_lists`). A schedule ``split`` between
    payers is not taxed yet: :class:`~enrollpay.errors_taxes.TaxError`.

    Raises :class:`~enrollpay.errors_taxes.TaxError` for an address on a
    system without taxes, or for a subscription (its periods are laid out
    as they come, and are not taxed yet).
    """
    settings = ctx.config.taxes
    if address is not None and not isinstance(address, TaxAddress):
        raise TaxError(f"tax_address must be a TaxAddress, got {type(address).__name__}")
    if settings is None:
        if address is not None:
            raise TaxError("this system has no tax calculator: configure SystemConfig(taxes=...)")
        return None
    where = address or settings.default_address
    if where is None:
        return None
    if split:  # the quote would be of the schedule before the payers' split
        raise TaxError("a schedule split between payers is not taxed yet")
    from enrollpay.service.discounts import preview_discount  # noqa: PLC0415 - import cycle

    preview = preview_discount(
        ctx,
        product_id,
        user_id=user_id,
        coupon=coupon,
        scholarship=scholarship,
        plan=plan,
        start=start,
        currency=currency,
    )
    if isinstance(preview.plan, Subscription):
        raise TaxError("subscriptions are not taxed: tax applies to schedules laid at enrollment")
    prices = [line.amount for line in preview.schedule]
    quote = settings.calculator.quote(
        prices, address=where, mode=settings.mode, tax_code=settings.tax_code
    )
    if not isinstance(quote, TaxQuote) or quote.mode != settings.mode:
        raise TaxError(f"the tax calculator answered {quote!r}, not a {settings.mode} TaxQuote")
    return quote.check_prices(prices)


def charged_lines(
    lines: Sequence[ScheduleLine], quote: TaxQuote | None, *, granularity: int = 1
) -> tuple[ScheduleLine, ...]:
    """The schedule as charged: each exclusive line raised by its tax (as quoted, or refused)."""
    if quote is None:
        return tuple(lines)
    quote.check_prices([line.amount for line in lines])
    charged = tuple(
        attrs.evolve(line, amount=tax.gross) for line, tax in zip(lines, quote.lines, strict=True)
    )
    for line in charged:
        if line.amount.minor % granularity:
            raise TaxError(
                f"payment {line.seq} with its tax is {line.amount}, which the gateway "
                f"cannot charge (it charges multiples of {granularity} minor units)"
            )
    return charged


def taxed_items(
    ctx: Context,
    enrollment_id: str,
    lines: Sequence[ScheduleLine],
    quote: TaxQuote | None,
    *,
    at: datetime,
) -> list[ScheduleItem]:
    """The new items of an enrollment's schedule, charged and carrying their tax as quoted."""
    if quote is not None:
        gateway = ctx.gateway
        currency = quote.total_net.currency
        granularity = 1 if gateway is None else gateway.amount_granularity(currency)
        lines = charged_lines(lines, quote, granularity=granularity)
    return with_tax([ctx.item_from_line(enrollment_id, line, at) for line in lines], quote)


def with_tax(items: Sequence[ScheduleItem], quote: TaxQuote | None) -> list[ScheduleItem]:
    """``items`` each with its tax line (unchanged without a quote)."""
    if quote is None:
        return list(items)
    return [attrs.evolve(item, tax=line) for item, line in zip(items, quote.lines, strict=True)]


def charged_price(price: Money, items: Sequence[ScheduleItem]) -> Money:
    """What an enrollment priced ``price`` charges: with the tax added on exclusive items."""
    added = sum(i.tax.tax.minor for i in items if i.tax is not None and i.tax.mode == "exclusive")
    return price if not added else price + Money(added, price.currency)


def payment_tax(tx: StoreTransaction, payment: Payment, item: ScheduleItem) -> Money | None:
    """The tax in ``payment`` (stored in this transaction), after the item's earlier payments."""
    if item.tax is None:
        return None
    before = sum(
        p.amount.minor
        for p in tx.payments_of(payment.enrollment_id)
        if p.item_id == item.id and p.id != payment.id
    )
    return tax_of_part(item.tax, before=Money(before, item.amount.currency), amount=payment.amount)


def refund_tax(
    tx: StoreTransaction, refund: Refund, payment: Payment
) -> tuple[TaxLine, Money] | None:
    """The tax line of the item a refund gives back from, and the tax in the refund.

    None: the item was not taxed. Counted after the item's refunds whose
    credit notes were issued before this one (the order money went back
    in, even for refunds done in one transaction), so the tax given back
    never exceeds the tax the item's payments collected.
    """
    item = tx.get_item(payment.item_id)
    if item is None or item.tax is None:
        return None
    of_item = {p.id for p in tx.payments_of(payment.enrollment_id) if p.item_id == item.id}
    before = sum(
        note.total.minor
        for note in tx.receipts_of(refund.enrollment_id)
        if note.kind == "credit_note" and note.payment_id in of_item and note.refund_id != refund.id
    )
    part = tax_of_part(item.tax, before=Money(before, refund.amount.currency), amount=refund.amount)
    return item.tax, part
