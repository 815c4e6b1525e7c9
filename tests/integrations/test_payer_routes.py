"""The payer routes of the JSON API, over FastAPI, Flask and Django: payers, a statement, errors."""

from __future__ import annotations

from enrollpay import Installments, PaymentSystem
from enrollpay.domain.money import Money
from enrollpay.domain.payers import PayerShare
from enrollpay.integrations.payers_api import payer, statement

from .route_clients import Framework, RouteClient, route_client


def _client(framework: Framework, system: PaymentSystem) -> tuple[RouteClient, str]:
    """Two payers splitting a 300.00 course 70/30, the employer's first item paid by check."""
    system.add_payer(
        payer_id="acme", kind="employer", name="Acme Ltd", email="ap@acme.test",
        gateway_customer_id="cus_acme", payment_method_id="pm_acme",
    )  # fmt: skip
    system.add_payer(payer_id="mum", kind="parent", name="Maria", email="m@home.test")
    product = system.register_product(
        product_type="course", product_id="c-1", name="Course",
        price=Money.of("300", "USD"), payment_plan=Installments(3),
    )  # fmt: skip
    result = system.enroll(
        user_id="u-1",
        product_id=product.id,
        payers=[PayerShare("acme", 7000), PayerShare("mum", 3000)],
    )
    system.record_manual_payment(result.schedule[0].id, method="check", actor="admin")
    return route_client(framework, system), result.enrollment_id


def test_payers_and_a_statement_are_served_as_json(
    framework: Framework, system: PaymentSystem
) -> None:
    """The list, one payer (no method id shown), and the statement with its items and totals."""
    client, enrollment_id = _client(framework, system)
    with client:
        listed = client.get("/api/payers")
        one = client.get("/api/payers/acme")
        shown = client.get("/api/payers/acme/statement")
        in_euros = client.get("/api/payers/acme/statement", params={"currency": "EUR"})
    assert listed.status_code == one.status_code == shown.status_code == 200
    assert [p["id"] for p in listed.json()["payers"]] == ["acme", "mum"]
    assert one.json() == payer(system.get_payer("acme"))
    assert one.json()["has_payment_method"] is True
    assert "pm_acme" not in one.text
    body = shown.json()
    assert body == statement(system.payer_statement("acme"))
    (row,) = body["enrollments"]
    assert row["enrollment_id"] == enrollment_id
    assert [i["payer_id"] for i in row["items"]] == ["acme"] * 3
    (total,) = body["totals"]
    assert (total["paid"]["minor"], total["due"]["minor"], total["overdue"]["minor"]) == (
        7000,
        14000,
        0,
    )
    assert in_euros.json()["enrollments"] == []


def test_unknown_payers_and_bad_currencies_are_json_errors(
    framework: Framework, system: PaymentSystem
) -> None:
    """404 for a payer that does not exist; 422 for a currency that is not one."""
    client, _ = _client(framework, system)
    with client:
        missing = client.get("/api/payers/ghost")
        missing_statement = client.get("/api/payers/ghost/statement")
        bad = client.get("/api/payers/acme/statement", params={"currency": "XXQ"})
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
    assert missing_statement.status_code == 404
    assert (bad.status_code, bad.json()["error"]) == (422, "invalid_input")
