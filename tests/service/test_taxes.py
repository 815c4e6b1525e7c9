"""Taxes through the facade, on every store (memory, SQLite, PostgreSQL).

A table of rates taxes the schedule at enrollment; each item keeps its tax,
the first charge and every receipt carry it, and refunds (a cancellation's
proration or a partial refund) give back the tax of what they return.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from enrollpay import FullPayment, Installments, PayerShare, PaymentSystem, Subscription
from enrollpay.domain.calendar import Interval
from enrollpay.domain.discounts import Coupon
from enrollpay.domain.money import Money
from enrollpay.domain.records import Product
from enrollpay.domain.refunds import RefundPolicy
from enrollpay.domain.taxes import TaxAddress, TaxLine
from enrollpay.errors_taxes import TaxError, UnknownJurisdictionError
from enrollpay.ports import Store
from enrollpay.service.base import SystemConfig
from enrollpay.service.taxes import TaxSettings
from enrollpay.taxes import TableTaxCalculator
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds
from tests.service.conftest import usd
from tests.service.usecases.support import calls_of, everything, refused

CA = TaxAddress("US", state="CA")
TABLE = TableTaxCalculator({"US-CA": "7.25%", "US": "0%", "DE": "19%"})


def _system(store: Store, fake: FakeGateway, clock: FrozenClock, mode: str) -> PaymentSystem:
    taxes = TaxSettings(TABLE, mode=mode)  # type: ignore[arg-type]
    return PaymentSystem(
        store=store,
        gateway=fake,
        clock=clock,
        ids=SequentialIds(),
        config=SystemConfig(taxes=taxes),
    )


@pytest.fixture
def taxed(store: Store, fake: FakeGateway, clock: FrozenClock) -> Iterator[PaymentSystem]:
    """A system whose prices have tax added on top (exclusive)."""
    system = _system(store, fake, clock, "exclusive")
    yield system
    assert system.verify_audit_chain().ok


@pytest.fixture
def three(taxed: PaymentSystem) -> Product:
    """A 300.00 USD course on three monthly installments, refunded pro rata over 90 days."""
    return taxed.register_product(
        product_type="course",
        product_id="three",
        name="Three installments",
        price=usd("300.00"),
        payment_plan=Installments(3),
        refund_policy=RefundPolicy(cooling_off_days=0),
    )


def _pay_first(system: PaymentSystem, fake: FakeGateway, secret: str | None) -> None:
    assert secret is not None
    fake.complete_payment(secret)
    fake.deliver(system)


def test_exclusive_tax_is_added_to_each_item_and_charged(
    taxed: PaymentSystem, fake: FakeGateway, three: Product
) -> None:
    """7.25% on 3 x 100.00: each item charges 107.25, keeps its tax, and the receipt shows it."""
    result = taxed.enroll(user_id="u-1", product_id=three.id, tax_address=CA)
    tax = TaxLine(usd("100.00"), usd("7.25"), 72_500, "US-CA", "exclusive")
    assert [i.amount for i in result.schedule] == [usd("107.25")] * 3
    assert [i.tax for i in result.schedule] == [tax] * 3
    assert result.enrollment.price == usd("300.00")
    [start] = calls_of(fake, "start_payment")
    assert start.params["amount"] == usd("107.25")
    stored = taxed.payment_details(result.enrollment_id).items
    assert [i.tax for i in stored] == [tax] * 3
    log = taxed.audit_log(entity_id=result.enrollment_id)
    [created] = [e for e in log if e.action == "enrollment.created"]
    assert (created.data["tax"], created.data["tax_mode"]) == (
        {"minor": 2175, "currency": "USD"},
        "exclusive",
    )

    _pay_first(taxed, fake, result.client_secret)

    [receipt] = taxed.list_receipts(result.enrollment_id)
    [line] = receipt.lines
    assert (line.amount, line.net, line.tax) == (usd("107.25"), usd("100.00"), usd("7.25"))
    assert (line.tax_rate_ppm, line.tax_jurisdiction) == (72_500, "US-CA")
    text = taxed.view_receipt(receipt.id).text()
    assert "Net  $100.00" in text
    assert "Tax US-CA 7.25%  $7.25" in text
    assert "US-CA 7.25%" in taxed.receipt_html(receipt.id)


def test_inclusive_tax_leaves_the_amounts_and_is_shown_inside(
    store: Store, fake: FakeGateway, clock: FrozenClock
) -> None:
    """119.00 including German VAT: charged 119.00, of which 19.00 tax."""
    system = _system(store, fake, clock, "inclusive")
    product = system.register_product(
        product_type="course",
        product_id="de",
        name="Kurs",
        price=Money.of("119.00", "USD"),
        payment_plan=FullPayment(),
    )
    result = system.enroll(user_id="u-1", product_id=product.id, tax_address=TaxAddress.of("DE"))
    [item] = result.schedule
    assert item.amount == usd("119.00")
    assert item.tax == TaxLine(usd("100.00"), usd("19.00"), 190_000, "DE", "inclusive")
    [start] = calls_of(fake, "start_payment")
    assert start.params["amount"] == usd("119.00")


def test_the_tax_of_a_discounted_schedule_is_on_the_discounted_prices(
    taxed: PaymentSystem, three: Product
) -> None:
    """25% off 300.00: 75.00 an item, taxed 5.44/5.44/5.43 (16.31 in all, the cent rounding)."""
    taxed.create_coupon(Coupon("SPRING", percent_off=2500))
    result = taxed.enroll(user_id="u-1", product_id=three.id, coupon="SPRING", tax_address=CA)
    taxes = [i.tax.tax for i in result.schedule if i.tax is not None]
    assert sum(t.minor for t in taxes) == 1631
    assert taxes == [usd("5.43"), usd("5.44"), usd("5.44")]
    assert [i.amount for i in result.schedule] == [usd("80.43"), usd("80.44"), usd("80.44")]


def test_without_an_address_nothing_is_taxed(taxed: PaymentSystem, three: Product) -> None:
    """A system with taxes still enrolls untaxed when no address is named (and no default)."""
    result = taxed.enroll(user_id="u-1", product_id=three.id)
    assert [i.amount for i in result.schedule] == [usd("100.00")] * 3
    assert all(i.tax is None for i in result.schedule)


def test_a_default_address_taxes_every_enrollment(
    store: Store, fake: FakeGateway, clock: FrozenClock
) -> None:
    """``default_address`` applies when the enrollment names none."""
    settings = TaxSettings(TABLE, default_address=TaxAddress.of("DE"))
    system = PaymentSystem(
        store=store, gateway=fake, clock=clock, config=SystemConfig(taxes=settings)
    )
    product = system.register_product(
        product_type="course", product_id="p", name="P", price=usd("10.00")
    )
    result = system.enroll(user_id="u-1", product_id=product.id)
    assert [i.amount for i in result.schedule] == [usd("11.90")]


def test_untaxable_enrollments_are_refused_with_nothing_written(
    taxed: PaymentSystem, fake: FakeGateway, three: Product, store: Store, clock: FrozenClock
) -> None:
    """Unknown place, subscription, address without taxes configured: typed, nothing written."""
    with refused(taxed, UnknownJurisdictionError, fake=fake, match="FR"):
        taxed.enroll(user_id="u-1", product_id=three.id, tax_address=TaxAddress.of("FR"))
    monthly = taxed.register_product(
        product_type="course",
        product_id="monthly",
        name="Monthly",
        price=usd("30.00"),
        payment_plan=Subscription(Interval.months(1)),
    )
    with refused(taxed, TaxError, fake=fake, match="subscriptions"):
        taxed.enroll(user_id="u-1", product_id=monthly.id, tax_address=CA)
    with refused(taxed, TaxError, fake=fake, match="TaxAddress"):
        taxed.enroll(user_id="u-1", product_id=three.id, tax_address="US-CA")  # type: ignore[arg-type]
    system = PaymentSystem(store=store, gateway=fake, clock=clock)
    course = system.register_product(
        product_type="course", product_id="c", name="C", price=usd("10.00")
    )
    with refused(system, TaxError, match="no tax calculator"):
        system.enroll(user_id="u-1", product_id=course.id, tax_address=CA)


def test_a_partial_refund_gives_back_its_share_of_the_tax(
    taxed: PaymentSystem, fake: FakeGateway, three: Product
) -> None:
    """Refunding 53.62 then 53.63 of a 107.25 payment: 3.62 then 3.63 of tax, 7.25 in all."""
    result = taxed.enroll(user_id="u-1", product_id=three.id, tax_address=CA)
    _pay_first(taxed, fake, result.client_secret)
    [payment] = taxed.payment_details(result.enrollment_id).payments
    taxed.refund_payment(payment.id, usd("53.62"), actor="admin")
    taxed.refund_payment(payment.id, usd("53.63"), actor="admin")
    notes = [r for r in taxed.list_receipts(result.enrollment_id) if r.kind == "credit_note"]
    assert [(n.lines[0].amount, n.lines[0].tax) for n in notes] == [
        (usd("53.62"), usd("3.62")),
        (usd("53.63"), usd("3.63")),
    ]
    assert "Tax US-CA 7.25%  $3.62" in taxed.view_receipt(notes[0].id).text()


def test_a_cancellation_prorates_the_taxed_price(
    taxed: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three: Product
) -> None:
    """Paid 107.25 of 321.75, cancelled after 30 days: the earned share is of the taxed price."""
    result = taxed.enroll(user_id="u-1", product_id=three.id, tax_address=CA)
    _pay_first(taxed, fake, result.client_secret)
    clock.advance(timedelta(days=30))
    quote = taxed.quote_cancellation(result.enrollment_id)
    days = quote.total_days
    assert quote.used_days == 30
    earned = (32175 * 30 * 2 + days) // (2 * days)
    assert quote.refund == usd("107.25") - Money(earned, "USD")
    done = taxed.cancel_enrollment(result.enrollment_id, reason="moving", actor="admin")
    [note] = [r for r in taxed.list_receipts(result.enrollment_id) if r.kind == "credit_note"]
    [line] = note.lines
    assert line.amount == done.refund_total == quote.refund
    expected_tax = (725 * line.amount.minor * 2 + 10725) // (2 * 10725)
    assert line.tax == Money(expected_tax, "USD")


class _RepricingCalculator:
    """A table calculator that, while it is asked, sees the product's price change (a race)."""

    def __init__(self) -> None:
        self.system: PaymentSystem | None = None

    def quote(self, prices: Any, *, address: Any, mode: Any, tax_code: Any = None) -> Any:
        assert self.system is not None
        self.system.register_product(
            product_type="course", product_id="p", name="P", price=usd("120.00")
        )
        return TABLE.quote(prices, address=address, mode=mode, tax_code=tax_code)


def test_prices_that_change_after_the_quote_refuse_the_enrollment(
    store: Store, fake: FakeGateway, clock: FrozenClock
) -> None:
    """The price changes between the quote and the transaction: TaxError, nothing enrolled."""
    racing = _RepricingCalculator()
    system = PaymentSystem(
        store=store, gateway=fake, clock=clock, config=SystemConfig(taxes=TaxSettings(racing))
    )
    racing.system = system
    product = system.register_product(
        product_type="course", product_id="p", name="P", price=usd("100.00")
    )
    with pytest.raises(TaxError, match="does not match the price"):
        system.enroll(user_id="u-1", product_id=product.id, tax_address=CA)
    assert system.list_enrollments() == []
    assert calls_of(fake, "start_payment") == []


def test_refunds_of_one_item_in_one_cancellation_give_back_exactly_its_tax(
    store: Store, clock: FrozenClock
) -> None:
    """Paid 53.62 + 53.63 by hand, all refunded at once: the credit notes' taxes sum to 7.25."""
    system = PaymentSystem(store=store, clock=clock, config=SystemConfig(taxes=TaxSettings(TABLE)))
    product = system.register_product(
        product_type="course", product_id="p", name="P", price=usd("100.00"),
        payment_plan=FullPayment(),
    )  # fmt: skip
    result = system.enroll(user_id="u-1", product_id=product.id, tax_address=CA)
    [item] = result.schedule
    assert item.amount == usd("107.25")
    for amount, method in (("53.62", "cash"), ("53.63", "check")):
        system.record_manual_payment(item.id, method=method, actor="desk", amount=usd(amount))  # type: ignore[arg-type]
    receipts = [r for r in system.list_receipts(result.enrollment_id) if r.kind == "receipt"]
    assert sorted(r.lines[0].tax.minor for r in receipts if r.lines[0].tax) == [362, 363]
    system.cancel_enrollment(
        result.enrollment_id, reason="moving", actor="admin", refund_amount=usd("107.25")
    )
    notes = [r for r in system.list_receipts(result.enrollment_id) if r.kind == "credit_note"]
    assert len(notes) == 2
    taxes = [n.lines[0].tax for n in notes]
    assert all(t is not None for t in taxes)
    assert sum(t.minor for t in taxes if t is not None) == 725


def test_a_price_in_another_currency_is_taxed_in_that_currency(
    taxed: PaymentSystem, three: Product
) -> None:
    """Price lists and taxes together: the quote is of the EUR schedule, 19% on 270.00 EUR."""
    taxed.register_product(
        product_type="course",
        product_id="three",
        name="Three installments",
        price=usd("300.00"),
        prices=[Money.of("270.00", "EUR")],
        payment_plan=Installments(3),
        refund_policy=RefundPolicy(cooling_off_days=0),
    )
    result = taxed.enroll(
        user_id="u-1", product_id=three.id, currency="EUR", tax_address=TaxAddress.of("DE")
    )
    assert [i.tax.tax for i in result.schedule if i.tax is not None] == [
        Money.of("17.10", "EUR")
    ] * 3
    assert [i.amount for i in result.schedule] == [Money.of("107.10", "EUR")] * 3
    assert result.enrollment.price == Money.of("270.00", "EUR")


def test_a_schedule_split_between_payers_is_not_taxed_yet(
    taxed: PaymentSystem, three: Product
) -> None:
    """Payers and a tax address together: TaxError, nothing written (the quote is pre-split)."""
    taxed.add_payer(payer_id="acme", kind="employer", name="Acme", email="pay@acme.test")
    taxed.add_payer(payer_id="mum", kind="parent", name="Maria", email="maria@home.test")
    shares = [PayerShare("acme", 7000), PayerShare("mum", 3000)]
    before = everything(taxed)
    with pytest.raises(TaxError, match="split between payers is not taxed yet"):
        taxed.enroll(user_id="u-1", product_id=three.id, payers=shares, tax_address=CA)
    assert everything(taxed) == before
