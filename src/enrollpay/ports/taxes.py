"""The tax port: what the tax of a schedule is, for a buyer at an address.

A :class:`TaxCalculator` is asked once per enrollment, before anything is
written, for the tax lines of the schedule's amounts (one per item, in
order). Adapters: :class:`enrollpay.taxes.TableTaxCalculator` (a table of
rates by jurisdiction) and
:class:`enrollpay.gateways.stripe.tax.StripeTaxCalculator` (Stripe Tax's
calculation API). A calculator that cannot answer raises
:class:`~enrollpay.errors_taxes.TaxCalculationError` (or
:class:`~enrollpay.errors_taxes.UnknownJurisdictionError`), and the
enrollment is refused with nothing written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from enrollpay.domain.money import Money
from enrollpay.domain.taxes import TaxAddress, TaxMode, TaxQuote

__all__ = ["TaxCalculator"]


@runtime_checkable
class TaxCalculator(Protocol):
    """Quotes the tax of a schedule."""

    def quote(
        self,
        prices: Sequence[Money],
        *,
        address: TaxAddress,
        mode: TaxMode,
        tax_code: str | None = None,
    ) -> TaxQuote:
        """One tax line per price, in order.

        ``prices`` are net when ``mode`` is ``exclusive`` (the tax is added)
        and gross when it is ``inclusive`` (the tax is inside);
        ``tax_code`` names the kind of product where the calculator knows
        kinds (Stripe's ``txcd_...`` codes), else it is ignored.
        """
        ...
