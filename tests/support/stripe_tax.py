"""Stripe Tax's calculation API for the local Stripe stand-in (``FakeStripe``).

``POST /v1/tax/calculations`` answers a ``tax.calculation`` as Stripe
documents it: ``amount_total``, ``tax_amount_exclusive`` and
``tax_amount_inclusive``, ``customer_details`` as sent, and, when
``expand[]=line_items`` asks for them, the line items with ``amount``,
``amount_tax``, ``reference``, ``tax_behavior``, ``tax_code`` and a
``tax_breakdown`` per tax (jurisdiction, ``tax_rate_details`` with its
``percentage_decimal``, ``taxability_reason``, ``taxable_amount``).

Rates come from :attr:`StripeTax.tax_rates` (by ``country`` or
``country-state``, a list of (level, percentage) per place: California is
a state tax and a district tax). A place with no rates is
``not_collecting`` (zero tax, no rate details), as for an account not
registered there. A US address without a postal code is refused with
``customer_tax_location_invalid``, as Stripe does; so is an unknown
country. Each tax of a line is rounded half up to the minor unit, on the
line's amount (exclusive) or on its amount less all its taxes (inclusive).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

__all__ = ["DEFAULT_TAX_RATES", "StripeTax"]

#: Rates by place: (jurisdiction level, percentage as Stripe writes it).
DEFAULT_TAX_RATES: dict[str, list[tuple[str, str]]] = {
    "DE": [("country", "19.0")],
    "FR": [("country", "20.0")],
    "US-CA": [("state", "6.0"), ("district", "1.25")],
    "US-NY": [("state", "4.0"), ("city", "4.875")],
}
_COUNTRIES = frozenset({"DE", "FR", "GB", "JP", "US", "CA"})


class StripeTax:
    """The tax half of the stand-in; :class:`FakeStripe` provides the rest."""

    livemode: bool
    #: Rates the stand-in applies, by ``country`` or ``country-state``.
    tax_rates: dict[str, list[tuple[str, str]]]
    tax_calculations: dict[str, dict[str, Any]]

    def new_id(self, prefix: str) -> str:  # pragma: no cover - FakeStripe's
        raise NotImplementedError

    def now(self) -> int:  # pragma: no cover - FakeStripe's
        raise NotImplementedError

    def _refuse(  # pragma: no cover - FakeStripe's
        self, message: str, *, param: str | None = None, code: str | None = None
    ) -> Exception:
        raise NotImplementedError

    def _create_tax_calculation(self, params: dict[str, Any]) -> dict[str, Any]:
        details = params.get("customer_details") or {}
        address = details.get("address") or {}
        country = str(address.get("country") or "").upper()
        if country not in _COUNTRIES or (country == "US" and not address.get("postal_code")):
            raise self._refuse(
                "We could not determine the customer's tax location based on the provided "
                "customer address.",
                param="customer_details[address]",
                code="customer_tax_location_invalid",
            )
        state = str(address.get("state") or "").upper()
        place = f"{country}-{state}" if state else country
        rates = self.tax_rates.get(place, self.tax_rates.get(country, []))
        lines = [
            self._tax_line(item, rates, country=country, state=state)
            for item in params.get("line_items") or []
        ]
        if not lines:
            raise self._refuse("Missing required param: line_items.", param="line_items")
        exclusive = sum(li["amount_tax"] for li in lines if li["tax_behavior"] == "exclusive")
        inclusive = sum(li["amount_tax"] for li in lines if li["tax_behavior"] == "inclusive")
        calc_id = self.new_id("taxcalc")
        calculation: dict[str, Any] = {
            "id": calc_id,
            "object": "tax.calculation",
            "amount_total": sum(li["amount"] for li in lines) + exclusive,
            "currency": str(params.get("currency", "")).lower(),
            "customer": None,
            "customer_details": {
                "address": address,
                "address_source": details.get("address_source"),
                "ip_address": None,
                "tax_ids": [],
                "taxability_override": "none",
            },
            "expires_at": self.now() + 90 * 86400,
            "livemode": self.livemode,
            "shipping_cost": None,
            "tax_amount_exclusive": exclusive,
            "tax_amount_inclusive": inclusive,
            "tax_breakdown": [],
            "tax_date": self.now(),
        }
        self.tax_calculations[calc_id] = {**calculation, "lines": lines}
        if "line_items" in (params.get("expand") or []):
            url = f"/v1/tax/calculations/{calc_id}/line_items"
            calculation["line_items"] = {
                "object": "list",
                "data": lines,
                "has_more": False,
                "url": url,
            }
        return calculation

    def _tax_line(
        self, item: dict[str, Any], rates: list[tuple[str, str]], *, country: str, state: str
    ) -> dict[str, Any]:
        try:
            amount = int(item["amount"])
        except (KeyError, ValueError):
            raise self._refuse("Invalid integer: amount", param="line_items[amount]") from None
        if amount < 0:
            raise self._refuse("Invalid amount: must be positive", param="line_items[amount]")
        behavior = item.get("tax_behavior", "exclusive")
        total_rate = sum(Decimal(percentage) for _, percentage in rates)
        base = (
            Decimal(amount)
            if behavior == "exclusive"
            else Decimal(amount) * 100 / (100 + total_rate)
        )
        breakdown = []
        for level, percentage in rates:
            tax = int((base * Decimal(percentage) / 100).quantize(Decimal(1), ROUND_HALF_UP))
            breakdown.append(
                {
                    "amount": tax,
                    "jurisdiction": {
                        "country": country,
                        "display_name": state or country,
                        "level": level,
                        "state": state or None,
                    },
                    "sourcing": "destination",
                    "tax_rate_details": {
                        "display_name": "VAT" if level == "country" else "Sales Tax",
                        "percentage_decimal": percentage,
                        "tax_type": "vat" if level == "country" else "sales_tax",
                    },
                    "taxability_reason": "standard_rated",
                    "taxable_amount": int(base.quantize(Decimal(1), ROUND_HALF_UP)),
                }
            )
        if not rates:
            breakdown.append(
                {
                    "amount": 0,
                    "jurisdiction": {
                        "country": country,
                        "display_name": country,
                        "level": "country",
                        "state": None,
                    },
                    "sourcing": "destination",
                    "tax_rate_details": None,
                    "taxability_reason": "not_collecting",
                    "taxable_amount": 0,
                }
            )
        return {
            "id": self.new_id("tax_li"),
            "object": "tax.calculation_line_item",
            "amount": amount,
            "amount_tax": sum(part["amount"] for part in breakdown),
            "livemode": self.livemode,
            "metadata": {},
            "product": None,
            "quantity": int(item.get("quantity", 1)),
            "reference": item.get("reference"),
            "tax_behavior": behavior,
            "tax_code": item.get("tax_code", "txcd_10000000"),
            "tax_breakdown": breakdown,
        }
