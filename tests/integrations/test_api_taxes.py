"""The API's schedule JSON shows each taxed item's net, rate and tax; untaxed items as before."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import attrs

from enrollpay import Money, PaymentSystem
from enrollpay.domain.taxes import TaxAddress
from enrollpay.integrations.api import item, payment_details_answer
from enrollpay.service.base import SystemConfig
from enrollpay.service.taxes import TaxSettings
from enrollpay.storage.memory import InMemoryStore
from enrollpay.taxes import TableTaxCalculator
from enrollpay.testing import FakeGateway, FrozenClock

from .test_api import usd


def test_a_taxed_schedule_item_shows_its_tax_in_the_payment_details() -> None:
    """Net 100.00 + 7.25 tax at US-CA 7.25% = 107.25 charged, in the details answer."""
    clock = FrozenClock(datetime(2027, 3, 15, 9, tzinfo=UTC))
    system = PaymentSystem(
        store=InMemoryStore(),
        gateway=FakeGateway(clock=clock),
        clock=clock,
        config=SystemConfig(taxes=TaxSettings(TableTaxCalculator({"US-CA": "7.25%"}))),
    )
    product = system.register_product(
        product_type="course", product_id="p", name="P", price=Money.of("100.00", "USD")
    )
    result = system.enroll(user_id="u-1", product_id=product.id, tax_address=TaxAddress.of("US-CA"))
    answer = payment_details_answer(system, result.enrollment_id)
    assert answer.status == 200
    [shown] = json.loads(json.dumps(answer.body))["schedules"]
    assert shown["amount"] == usd("107.25", 10725)
    assert shown["tax"] == {
        "net": usd("100.00", 10000),
        "tax": usd("7.25", 725),
        "gross": usd("107.25", 10725),
        "rate": "7.25%",
        "rate_ppm": 72_500,
        "jurisdiction": "US-CA",
        "mode": "exclusive",
    }
    assert "tax" not in item(attrs.evolve(result.schedule[0], tax=None))
