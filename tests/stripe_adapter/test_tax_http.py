"""StripeTaxCalculator over HTTP: the calculation Stripe documents, its answer read, its refusals.

The official SDK talks to the local stand-in, which answers
``POST /v1/tax/calculations`` as Stripe does (see :mod:`tests.support.stripe_tax`).
"""

from __future__ import annotations

import pytest

from enrollpay import FullPayment, Installments, Money, PaymentSystem
from enrollpay.domain.taxes import TaxAddress, TaxLine
from enrollpay.errors_taxes import TaxCalculationError, TaxServiceUnavailableError
from enrollpay.gateways.stripe import StripeTaxCalculator
from enrollpay.service.base import SystemConfig
from enrollpay.service.taxes import TaxSettings
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FrozenClock
from tests.support.stripe_server import StripeServer

CALCULATIONS = "/v1/tax/calculations"
SF = TaxAddress("US", state="CA", postal_code="94103", city="San Francisco", line1="1 Main St")


def usd(amount: str) -> Money:
    """Dollars."""
    return Money.of(amount, "USD")


@pytest.fixture
def taxes(server: StripeServer) -> StripeTaxCalculator:
    """A calculator on a real SDK client talking to the stand-in."""
    return StripeTaxCalculator(server.client())


def test_a_calculation_sends_line_items_and_the_address_as_stripe_documents(
    server: StripeServer, taxes: StripeTaxCalculator
) -> None:
    """One line item per payment with amount, reference, behaviour and code; line_items expanded."""
    taxes.quote([usd("100.00"), usd("50.00")], address=SF, mode="exclusive",
                tax_code="txcd_20060000")  # fmt: skip
    (request,) = server.requests_to("POST", CALCULATIONS)
    form = {name: values[0] for name, values in request.form.items()}
    assert form == {
        "currency": "usd",
        "line_items[0][amount]": "10000",
        "line_items[0][reference]": "payment-1",
        "line_items[0][tax_behavior]": "exclusive",
        "line_items[0][tax_code]": "txcd_20060000",
        "line_items[1][amount]": "5000",
        "line_items[1][reference]": "payment-2",
        "line_items[1][tax_behavior]": "exclusive",
        "line_items[1][tax_code]": "txcd_20060000",
        "customer_details[address][country]": "US",
        "customer_details[address][state]": "CA",
        "customer_details[address][postal_code]": "94103",
        "customer_details[address][city]": "San Francisco",
        "customer_details[address][line1]": "1 Main St",
        "customer_details[address_source]": "billing",
        "expand[0]": "line_items",
    }


def test_exclusive_lines_add_each_payments_tax_at_the_combined_rate(
    taxes: StripeTaxCalculator,
) -> None:
    """California: 6% state + 1.25% district = 7.25%, 7.25 on 100.00 and 3.63 on 50.00."""
    quote = taxes.quote([usd("100.00"), usd("50.00")], address=SF, mode="exclusive")
    assert quote.lines == (
        TaxLine(usd("100.00"), usd("7.25"), 72_500, "US-CA", "exclusive"),
        TaxLine(usd("50.00"), usd("3.63"), 72_500, "US-CA", "exclusive"),
    )


def test_inclusive_lines_keep_the_amounts_and_zero_payments_are_not_sent(
    server: StripeServer, taxes: StripeTaxCalculator
) -> None:
    """German VAT inside 119.00; a free payment has no tax and is not sent to Stripe."""
    quote = taxes.quote([usd("119.00"), usd("0")], address=TaxAddress.of("DE"), mode="inclusive")
    assert quote.lines == (
        TaxLine(usd("100.00"), usd("19.00"), 190_000, "DE", "inclusive"),
        TaxLine(usd("0"), usd("0"), 0, "DE", "inclusive"),
    )
    (request,) = server.requests_to("POST", CALCULATIONS)
    assert request.param("line_items[1][amount]") is None
    assert taxes.quote([usd("0")], address=SF, mode="inclusive").total_tax == usd("0")
    assert len(server.requests_to("POST", CALCULATIONS)) == 1


def test_a_place_stripe_does_not_collect_in_is_taxed_zero(
    server: StripeServer, taxes: StripeTaxCalculator
) -> None:
    """No registration in Japan: Stripe says not_collecting, so the tax is zero at no rate."""
    quote = taxes.quote([usd("10.00")], address=TaxAddress.of("JP"), mode="exclusive")
    assert quote.lines == (TaxLine(usd("10.00"), usd("0"), 0, "JP", "exclusive"),)


def test_an_address_stripe_cannot_place_is_a_typed_refusal(taxes: StripeTaxCalculator) -> None:
    """A US address without a postal code: customer_tax_location_invalid, as Stripe answers."""
    with pytest.raises(TaxCalculationError) as refused:
        taxes.quote([usd("10.00")], address=TaxAddress.of("US-CA"), mode="exclusive")
    assert refused.value.code == "customer_tax_location_invalid"
    assert "customer_details[address]" in str(refused.value)


def test_stripe_down_is_unavailable_and_an_unreadable_answer_is_refused(
    server: StripeServer, taxes: StripeTaxCalculator
) -> None:
    """5xx after the retries: TaxServiceUnavailableError; an answer without lines: refused."""
    server.reply(500, method="POST", path=CALCULATIONS, times=3)
    with pytest.raises(TaxServiceUnavailableError):
        taxes.quote([usd("10.00")], address=SF, mode="exclusive")
    assert len(server.requests_to("POST", CALCULATIONS)) == 3
    server.reply(200, {"id": "taxcalc_1", "object": "tax.calculation"}, method="POST",
                 path=CALCULATIONS)  # fmt: skip
    with pytest.raises(TaxCalculationError, match="could not be read"):
        taxes.quote([usd("10.00")], address=SF, mode="exclusive")


def test_enrolling_with_stripe_tax_stores_each_items_tax(
    server: StripeServer, taxes: StripeTaxCalculator, clock: FrozenClock
) -> None:
    """The facade with Stripe Tax: 3 x 100.00 in New York (8.875%) charges 108.88 each."""
    system = PaymentSystem(
        store=InMemoryStore(),
        gateway=server.gateway(),
        clock=clock,
        config=SystemConfig(taxes=TaxSettings(taxes, tax_code="txcd_20060000")),
    )
    product = system.register_product(
        product_type="course", product_id="p", name="P", price=usd("300.00"),
        payment_plan=Installments(3),
    )  # fmt: skip
    nyc = TaxAddress("US", state="NY", postal_code="10001")
    result = system.enroll(user_id="u-1", product_id=product.id, tax_address=nyc)
    assert [i.amount for i in result.schedule] == [usd("108.88")] * 3
    assert {i.tax.ppm for i in result.schedule if i.tax is not None} == {88_750}
    (intent,) = server.requests_to("POST", "/v1/payment_intents")
    assert intent.param("amount") == "10888"
    with pytest.raises(TaxCalculationError):
        system.enroll(user_id="u-2", product_id=product.id, tax_address=TaxAddress.of("US"))
    assert len(system.list_enrollments()) == 1
    full = system.register_product(
        product_type="course", product_id="q", name="Q", price=usd("10.00"),
        payment_plan=FullPayment(),
    )  # fmt: skip
    assert system.enroll(user_id="u-3", product_id=full.id).schedule[0].tax is None
