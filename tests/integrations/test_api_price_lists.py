"""The JSON API with price lists: ``GET /plans?currency=`` and a product's ``prices``."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from enrollpay import Deposit, Installments, Money, PaymentSystem
from enrollpay.domain.calendar import Interval
from enrollpay.domain.discounts import Coupon
from enrollpay.domain.records import Product
from enrollpay.integrations.api import plans_answer
from enrollpay.integrations.fastapi import api_router

EUR_DEPOSIT = Installments(2, Interval.months(1), Deposit.fixed(Money.of("60.00", "EUR")))


@pytest.fixture
def course(system: PaymentSystem) -> Product:
    """300.00 USD or 270.00 EUR; three installments by default; a EUR-deposit plan offered."""
    return system.register_product(
        product_type="course",
        product_id="react-101",
        name="React",
        price=Money.of("300.00", "USD"),
        prices=[Money.of("270.00", "EUR")],
        payment_plan=Installments(3),
        offered_plans=[EUR_DEPOSIT],
    )


def eur(amount: str, minor: int) -> dict[str, Any]:
    """The JSON of a EUR amount."""
    return {"amount": amount, "currency": "EUR", "minor": minor}


def test_plans_in_a_currency_are_priced_at_its_explicit_price(
    system: PaymentSystem, course: Product
) -> None:
    """currency=eur: the EUR price, EUR schedules and totals, the EUR-only plan offered."""
    answer = plans_answer(system, {"product": course.id, "currency": "eur"})

    assert answer.status == 200
    assert (answer.body["currency"], answer.body["price"]) == ("EUR", eur("270.00", 27000))
    assert answer.body["product"]["prices"] == [eur("270.00", 27000)]
    three, deposit, full = answer.body["plans"]
    assert three["default"] is True
    assert [line["amount"] for line in three["schedule"]] == [eur("90.00", 9000)] * 3
    assert three["total"] == eur("270.00", 27000)
    assert deposit["plan"]["kind"] == "installments"
    assert [line["amount"]["minor"] for line in deposit["schedule"]] == [6000, 10500, 10500]
    assert full["total"] == eur("270.00", 27000)


def test_plans_without_a_currency_stay_in_the_default_one(
    system: PaymentSystem, course: Product
) -> None:
    """No currency: USD, and the EUR-deposit plan is not offered."""
    answer = plans_answer(system, {"product": course.id})
    assert answer.body["currency"] == "USD"
    assert answer.body["price"]["minor"] == 30000
    assert [option["total"]["currency"] for option in answer.body["plans"]] == ["USD", "USD"]


def test_a_coupon_in_a_currency_uses_its_amount_there(
    system: PaymentSystem, course: Product
) -> None:
    """A coupon with a USD amount only does not apply in EUR, and says why."""
    system.create_coupon(Coupon("TEN", amounts_off=[Money.of("10", "USD")]))
    answer = plans_answer(system, {"product": course.id, "currency": "EUR", "coupon": "TEN"})
    assert answer.status == 200
    first = answer.body["plans"][0]
    assert first["discount"]["applies"] is False
    assert "does not apply: currency" in first["discount"]["message"]
    assert first["total"] == eur("270.00", 27000)


def test_a_currency_the_product_is_not_sold_in_is_422(
    system: PaymentSystem, course: Product
) -> None:
    """JPY: the product has no price in it; a non-code too. Both 422 with a JSON error."""
    answer = plans_answer(system, {"product": course.id, "currency": "JPY"})
    assert (answer.status, answer.body["error"]) == (422, "invalid_input")
    assert "offered in USD, EUR" in answer.body["message"]
    bad = plans_answer(system, {"product": course.id, "currency": "euro"})
    assert (bad.status, bad.body["error"]) == (422, "invalid_input")


def test_the_fastapi_router_passes_the_currency_through(
    system: PaymentSystem, course: Product
) -> None:
    """Over HTTP: ?currency=EUR answers what plans_answer answers."""
    app = FastAPI()
    app.include_router(api_router(system), prefix="/api")
    with TestClient(app) as client:
        reply = client.get("/api/plans", params={"product": course.id, "currency": "EUR"})
    assert reply.status_code == 200
    assert reply.json() == plans_answer(system, {"product": course.id, "currency": "EUR"}).body
    assert reply.json()["price"] == eur("270.00", 27000)
