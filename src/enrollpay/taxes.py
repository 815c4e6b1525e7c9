"""The table-driven tax calculator: a rate per jurisdiction, kept by the school.

>>> from enrollpay.domain.money import Money
>>> from enrollpay.domain.taxes import TaxAddress
>>> table = TableTaxCalculator({"DE": "19%", "US-CA": "7.25%", "US": "0%"})
>>> quote = table.quote([Money(10000, "EUR")], address=TaxAddress.of("DE"), mode="exclusive")
>>> str(quote.total_tax)
'19.00 EUR'

An address is looked up by ``country-state`` first (``US-CA``), then by
country. A place the table does not know raises
:class:`~enrollpay.errors_taxes.UnknownJurisdictionError`, unless the table
is built with ``unknown=`` a rate for every other place (``"0%"``: no tax
collected there).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from enrollpay.domain.money import Money
from enrollpay.domain.taxes import TaxAddress, TaxMode, TaxQuote, TaxRate, percent, quote_at_rate
from enrollpay.errors_taxes import TaxError, UnknownJurisdictionError

__all__ = ["TableTaxCalculator"]


def _ppm(value: str | int) -> int:
    """A rate given as text (``"19%"``) or as parts per million (``190000``)."""
    return percent(value) if isinstance(value, str) else TaxRate("XX", value).ppm


class TableTaxCalculator:
    """A :class:`~enrollpay.ports.taxes.TaxCalculator` over a table of rates by jurisdiction.

    ``rates`` maps a jurisdiction (``"DE"``, ``"US-CA"``) to its rate, as a
    percentage text (``"8.875%"``) or whole parts per million (``88750``).
    ``unknown``: the rate of every place not in the table (None: such a
    place is refused).
    """

    def __init__(self, rates: Mapping[str, str | int], *, unknown: str | int | None = None) -> None:
        if not isinstance(rates, Mapping):
            raise TaxError(f"rates must map jurisdictions to rates, got {type(rates).__name__}")
        table = [TaxRate(code, _ppm(rate)) for code, rate in rates.items()]
        self._rates = {rate.jurisdiction: rate for rate in table}
        if len(self._rates) != len(table):
            raise TaxError("a jurisdiction appears twice in the tax table")
        self._unknown = None if unknown is None else _ppm(unknown)

    def __repr__(self) -> str:
        return f"TableTaxCalculator({len(self._rates)} jurisdictions)"

    def rate_for(self, address: TaxAddress) -> TaxRate:
        """The rate that applies at ``address`` (most precise jurisdiction first)."""
        for code in address.jurisdictions:
            found = self._rates.get(code)
            if found is not None:
                return found
        if self._unknown is None:
            raise UnknownJurisdictionError(address.jurisdictions)
        return TaxRate(address.jurisdictions[0], self._unknown)

    def quote(
        self,
        prices: Sequence[Money],
        *,
        address: TaxAddress,
        mode: TaxMode,
        tax_code: str | None = None,
    ) -> TaxQuote:
        """The tax lines of ``prices`` at the rate of ``address`` (one rate, any ``tax_code``)."""
        return quote_at_rate(prices, self.rate_for(address), mode)
