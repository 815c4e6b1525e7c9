"""Stripe Tax as a :class:`~enrollpay.ports.taxes.TaxCalculator`: its calculation API.

One ``POST /v1/tax/calculations`` per enrollment, through the official SDK
client the gateway uses: a line item per schedule payment (``amount`` in
Stripe's units, ``reference`` ``payment-<n>``, the system's
``tax_behavior`` and the product's ``tax_code``), the buyer's address as
``customer_details`` (``address_source=billing``), and ``line_items``
expanded so that each payment's ``amount_tax`` comes back with the answer.

Each line's rate is the sum of its tax breakdown's ``percentage_decimal``
(state, county and city taxes together) and its jurisdiction the country
and, where Stripe names one, the state. Payments of zero are not sent (Stripe
wants positive amounts) and carry no tax. A refusal (an address Stripe
cannot place, a tax code it does not know) raises
:class:`~enrollpay.errors_taxes.TaxCalculationError` with Stripe's error
code; no answer raises :class:`~enrollpay.errors_taxes.TaxServiceUnavailableError`.
A calculation is not a payment: it moves no money, so no idempotency key
is needed and asking twice is harmless.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from enrollpay.domain.money import Money, round_half_up
from enrollpay.domain.taxes import (
    MILLION,
    TaxAddress,
    TaxLine,
    TaxMode,
    TaxQuote,
    percent,
)
from enrollpay.errors import GatewayError, GatewayRequestError, GatewayUnavailableError
from enrollpay.errors_taxes import TaxCalculationError, TaxError, TaxServiceUnavailableError
from enrollpay.gateways.stripe.amounts import from_stripe_amount, to_stripe_amount
from enrollpay.gateways.stripe.calls import StripeCalls, StripeClient
from enrollpay.gateways.stripe.client import DEFAULT_NETWORK_RETRIES

__all__ = ["StripeTaxCalculator"]


def _address(address: TaxAddress) -> dict[str, str]:
    fields = {
        "country": address.country,
        "state": address.state,
        "postal_code": address.postal_code,
        "city": address.city,
        "line1": address.line1,
    }
    return {name: value for name, value in fields.items() if value is not None}


def _rate(breakdown: Sequence[Any], net: int, tax: int) -> int:
    """The line's rate in parts per million: its taxes' percentages added up."""
    try:
        return sum(
            percent(str(part["tax_rate_details"]["percentage_decimal"]))
            for part in breakdown
            if part.get("tax_rate_details")
        )
    except TaxError:
        # A percentage finer than 4 decimals: the effective rate of the line instead.
        return 0 if net == 0 else round_half_up(tax * MILLION, net)


def _jurisdiction(breakdown: Sequence[Any], address: TaxAddress) -> str:
    """``US-CA`` where Stripe names a state, else the country."""
    country = address.country
    for part in breakdown:
        place = part.get("jurisdiction") or {}
        country = str(place.get("country") or country).upper()
        if place.get("state"):
            return f"{country}-{str(place['state']).upper()}"
    return country


class StripeTaxCalculator:
    """Stripe Tax over a :class:`stripe.StripeClient` (build one with ``build_client``)."""

    def __init__(
        self, client: StripeClient, *, max_network_retries: int = DEFAULT_NETWORK_RETRIES
    ) -> None:
        self._calls = StripeCalls(
            client, max_network_retries=max_network_retries, payment_method_types=None
        )

    def __repr__(self) -> str:
        return "StripeTaxCalculator()"

    def quote(
        self,
        prices: Sequence[Money],
        *,
        address: TaxAddress,
        mode: TaxMode,
        tax_code: str | None = None,
    ) -> TaxQuote:
        """One tax line per price, as Stripe Tax calculates it for ``address``."""
        if not prices:
            raise TaxError("there is no price to tax")
        currency = prices[0].currency
        sent = [(n, price) for n, price in enumerate(prices, 1) if price.minor > 0]
        answered = self._calculate(sent, address=address, mode=mode, tax_code=tax_code)
        lines = []
        for n, price in enumerate(prices, 1):
            tax, rate, place = answered.get(n, (Money.zero(currency), 0, address.country))
            net = price if mode == "exclusive" else price - tax
            lines.append(TaxLine(net=net, tax=tax, ppm=rate, jurisdiction=place, mode=mode))
        return TaxQuote(tuple(lines), mode).check_prices(prices)

    def _calculate(
        self,
        sent: Sequence[tuple[int, Money]],
        *,
        address: TaxAddress,
        mode: TaxMode,
        tax_code: str | None,
    ) -> dict[int, tuple[Money, int, str]]:
        if not sent:
            return {}
        currency = sent[0][1].currency
        items: list[dict[str, Any]] = []
        for n, price in sent:
            item: dict[str, Any] = {
                "amount": to_stripe_amount(price),
                "reference": f"payment-{n}",
                "tax_behavior": mode,
            }
            if tax_code is not None:
                item["tax_code"] = tax_code
            items.append(item)
        params: Any = {
            "currency": currency.lower(),
            "line_items": items,
            "customer_details": {"address": _address(address), "address_source": "billing"},
            "expand": ["line_items"],
        }
        calls = self._calls
        try:
            answer = calls.call(
                "calculate tax",
                calls.client.v1.tax.calculations.create,
                params,
                options=calls.options(),
            )
        except GatewayUnavailableError as exc:
            raise TaxServiceUnavailableError(str(exc)) from exc
        except GatewayError as exc:
            code = exc.extra.get("code") if isinstance(exc, GatewayRequestError) else None
            raise TaxCalculationError(str(exc), code=code) from exc
        return self._read(answer, currency=currency, address=address, count=len(sent))

    @staticmethod
    def _read(
        answer: Any, *, currency: str, address: TaxAddress, count: int
    ) -> dict[int, tuple[Money, int, str]]:
        try:
            data = answer.to_dict() if hasattr(answer, "to_dict") else dict(answer)
            found: dict[int, tuple[Money, int, str]] = {}
            for line in data["line_items"]["data"]:
                n = int(str(line["reference"]).removeprefix("payment-"))
                amount, tax = int(line["amount"]), int(line["amount_tax"])
                net = amount if line["tax_behavior"] == "exclusive" else amount - tax
                breakdown = line.get("tax_breakdown") or []
                found[n] = (
                    from_stripe_amount(tax, currency),
                    _rate(breakdown, net, tax),
                    _jurisdiction(breakdown, address),
                )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise TaxCalculationError(
                f"Stripe's tax calculation could not be read ({type(exc).__name__})"
            ) from exc
        if len(found) != count:
            raise TaxCalculationError(f"Stripe taxed {len(found)} of {count} payments")
        return found
