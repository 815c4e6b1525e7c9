"""The FastAPI example app, driven over HTTP through the seed's flow on the fake gateway."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from enrollpay import PaymentSystem
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway, FrozenClock, SignedWebhook
from tests.support.responses import Answer

ROOT = Path(__file__).resolve().parents[2]
ADMIN = {"X-Actor": "admin:alice"}
WEBHOOK = "/api/webhooks/stripe"
AppFactory = Callable[[PaymentSystem | None], FastAPI]

COURSE = {
    "product_type": "course",
    "product_id": "course-uuid",
    "product_name": "React Masterclass",
    "currency": "USD",
    "auto_assign_payment_plan": True,
    "payment_plan": "deposit=20%,installments=3",
}


def _no_float(text: str) -> float:
    pytest.fail(f"a JSON number with a fraction in a response: {text}")


def body(response: Answer) -> Any:
    """The JSON body, failing the test if any number in it has a fraction (a float)."""
    return json.loads(response.text, parse_float=_no_float)


def money(amount: str, minor: int, currency: str = "USD") -> dict[str, Any]:
    """The JSON form of an amount."""
    return {"amount": amount, "currency": currency, "minor": minor}


@pytest.fixture
def create_app(monkeypatch: pytest.MonkeyPatch) -> AppFactory:
    """The example's ``create_app`` (the checkout root goes on sys.path, as when run)."""
    monkeypatch.syspath_prepend(str(ROOT))
    from examples.fastapi_app.app import create_app  # noqa: PLC0415 - needs the path above

    return create_app


@pytest.fixture
def client(create_app: AppFactory, system: PaymentSystem) -> Iterator[TestClient]:
    """A test client of the example app over ``system``."""
    with TestClient(create_app(system)) as test_client:
        yield test_client


def register(client: TestClient, price: str = "299.99", **fields: Any) -> Answer:
    """POST a product with ``price`` written verbatim into the JSON (a number unless quoted)."""
    data = json.dumps({**COURSE, **fields})
    raw = data[:-1] + f', "price": {price}}}'
    return client.post(
        "/api/admin/payments/products",
        content=raw,
        headers={**ADMIN, "Content-Type": "application/json"},
    )


def enroll(client: TestClient, product_id: str, user_id: str = "user-uuid") -> Answer:
    """POST /api/enrollments."""
    return client.post("/api/enrollments", json={"product_id": product_id, "user_id": user_id})


def post_webhook(client: TestClient, hook: SignedWebhook) -> Answer:
    """Deliver a signed webhook as the gateway would."""
    return client.post(WEBHOOK, content=hook.payload, headers=dict(hook.headers))


def test_the_seed_flow_end_to_end_over_http(
    client: TestClient, fake: FakeGateway, system: PaymentSystem
) -> None:
    """Register, enroll, pay, webhook (twice), manual payment, reschedule, pause, stats, cancel."""
    product = register(client, "299.99")
    assert product.status_code == 200
    product_json = body(product)
    assert product_json["price"] == money("299.99", 29999)
    assert product_json["payment_plan"]["description"] == (
        "20% deposit + 3 installments every 1 month"
    )

    created = enroll(client, product_json["id"])
    assert created.status_code == 201
    enrollment = body(created)
    enrollment_id = enrollment["enrollment_id"]
    assert enrollment["requires_immediate_payment"] is True
    assert enrollment["stripe_client_secret"]
    assert enrollment["status"] == "pending_payment"
    assert enrollment["payment_plan"]["kind"] == "installments"
    assert [(s["kind"], s["amount"]["amount"], s["due_date"]) for s in enrollment["schedules"]] == [
        ("deposit", "60.00", "2027-03-15"),
        ("installment", "80.00", "2027-04-15"),
        ("installment", "80.00", "2027-05-15"),
        ("installment", "79.99", "2027-06-15"),
    ]
    schedule_ids = [s["id"] for s in enrollment["schedules"]]

    # The student pays with the client secret; the gateway's webhook arrives, then again.
    fake.complete_payment(enrollment["stripe_client_secret"])
    (hook,) = fake.take_events()
    first = post_webhook(client, hook)
    again = post_webhook(client, hook)
    assert (first.status_code, body(first)) == (
        200,
        {"result": "processed", "event_id": hook.event_id},
    )
    assert (again.status_code, body(again)) == (
        200,
        {"result": "duplicate", "event_id": hook.event_id},
    )

    details = body(client.get(f"/api/enrollments/{enrollment_id}/payment"))
    assert details["enrollment"]["status"] == "active"
    assert details["enrollment"]["has_access"] is True
    assert details["paid"] == money("60.00", 6000)
    assert details["outstanding"] == money("239.99", 23999)
    assert [p["payment_method"] for p in details["payments"]] == ["gateway"]
    assert details["next_due"]["id"] == schedule_ids[1]

    listed = body(client.get("/api/enrollments", params={"user_id": "user-uuid"}))
    assert [e["id"] for e in listed["enrollments"]] == [enrollment_id]
    none = body(client.get("/api/enrollments", params={"user_id": "user-uuid", "status": "paused"}))
    assert none == {"enrollments": []}

    recorded = client.post(
        f"/api/admin/payments/schedules/{schedule_ids[1]}/record-payment",
        json={
            "payment_method": "bank_transfer",
            "transaction_reference": "TXN-12345",
            "notes": "Received via wire",
        },
        headers=ADMIN,
    )
    assert recorded.status_code == 201
    payment = body(recorded)
    assert payment["amount"] == money("80.00", 8000)
    assert (payment["payment_method"], payment["transaction_reference"]) == (
        "bank_transfer",
        "TXN-12345",
    )
    assert payment["recorded_by"] == "admin:alice"

    moved = client.post(
        f"/api/admin/payments/schedules/{schedule_ids[2]}/reschedule",
        json={"due_date": "2027-05-20"},
        headers=ADMIN,
    )
    assert (moved.status_code, body(moved)["due_date"]) == (200, "2027-05-20")

    paused = client.post(f"/api/admin/enrollments/{enrollment_id}/pause", json={}, headers=ADMIN)
    assert body(paused)["status"] == "paused"
    resumed = client.post(f"/api/admin/enrollments/{enrollment_id}/resume", headers=ADMIN)
    assert body(resumed)["status"] == "active"

    stats = body(client.get("/api/admin/payments/stats", headers=ADMIN))
    assert stats["collected"] == {"USD": money("140.00", 14000)}
    assert stats["outstanding"] == {"USD": money("159.99", 15999)}
    assert stats["enrollments_by_status"]["active"] == 1

    revenue = body(client.get("/api/admin/payments/reports/revenue", headers=ADMIN))
    assert [(r["period"], r["gross"]) for r in revenue["rows"]] == [
        ("2027-03-01", money("140.00", 14000))
    ]

    cancelled = client.post(
        f"/api/admin/enrollments/{enrollment_id}/cancel",
        json={"reason": "Student requested", "refund_amount": 100.00},
        headers=ADMIN,
    )
    assert cancelled.status_code == 200
    result = body(cancelled)
    assert result["enrollment"]["status"] == "cancelled"
    assert result["refund_total"] == money("100.00", 10000)
    # Most recent payment first: the 80.00 transfer, then 20.00 of the card payment.
    assert [(r["method"], r["amount"]["amount"], r["status"]) for r in result["refunds"]] == [
        ("manual", "80.00", "succeeded"),
        ("gateway", "20.00", "succeeded"),
    ]
    assert result["cancelled_schedules"] == 2
    refund_hooks = fake.take_events()
    assert [post_webhook(client, h).status_code for h in refund_hooks] == [200] * len(refund_hooks)

    final = body(client.get(f"/api/enrollments/{enrollment_id}/payment"))
    assert final["refunded"] == money("100.00", 10000)
    assert system.verify_audit_chain().ok


def test_prices_keep_every_digit_the_client_sent(client: TestClient) -> None:
    """A JSON number is read as a Decimal, a decimal string is accepted, both exact."""
    as_number = body(register(client, "12345678901234567.89", product_id="big"))
    as_string = body(register(client, '"0.10"', product_id="dime"))
    whole = body(register(client, "300", product_id="whole"))

    assert as_number["price"] == money("12345678901234567.89", 1234567890123456789)
    assert as_string["price"] == money("0.10", 10)
    assert whole["price"] == money("300.00", 30000)


@pytest.mark.parametrize(
    ("price", "status", "code"),
    [
        ("299.999", 422, "amount_precision"),
        ('"12.5.0"', 422, "invalid_amount"),
        ("true", 422, "invalid_input"),
        ("[1]", 422, "invalid_input"),
        ("NaN", 400, "bad_json"),
        ("null", 422, "invalid_input"),
    ],
)
def test_bad_prices_are_refused_not_rounded(
    client: TestClient, system: PaymentSystem, price: str, status: int, code: str
) -> None:
    """Too many decimals, garbage, booleans and NaN are 4xx; nothing is registered."""
    response = register(client, price)

    assert (response.status_code, body(response)["error"]) == (status, code)
    assert system.list_products() == []


def test_request_errors_are_json_4xx(client: TestClient) -> None:
    """Bad JSON is 400; unknown fields, bad currency, dates and filters are 422."""
    product_id = body(register(client))["id"]
    bad_json = client.post("/api/enrollments", content=b"{nope", headers=ADMIN)
    not_object = client.post("/api/enrollments", json=[1, 2])
    typo = client.post(
        "/api/enrollments", json={"product_id": product_id, "user_id": "u", "userId": "u"}
    )
    currency = register(client, "10", product_id="eur", currency="EURO")
    past = client.post(
        "/api/enrollments",
        json={"product_id": product_id, "user_id": "u", "start_date": "2020-01-01"},
    )
    bad_date = client.post(
        "/api/enrollments",
        json={"product_id": product_id, "user_id": "u", "start_date": "soon"},
    )
    status = client.get("/api/enrollments", params={"user_id": "u", "status": "sleeping"})
    no_user = client.get("/api/enrollments")
    period = client.get("/api/admin/payments/reports/revenue?by=year", headers=ADMIN)
    months = client.get("/api/admin/payments/reports/forecast?months=-1", headers=ADMIN)

    assert [(r.status_code, body(r)["error"]) for r in (bad_json, not_object)] == [
        (400, "bad_json"),
        (400, "bad_json"),
    ]
    assert [
        r.status_code for r in (typo, currency, past, bad_date, status, no_user, period, months)
    ] == [422] * 8
    assert "userId" in body(typo)["message"]
    assert body(currency)["error"] == "unknown_currency"


def test_plans_and_payment_details_over_http(client: TestClient, fake: FakeGateway) -> None:
    """GET /api/plans lists the automatic plan, then paying in full; details say has_access."""
    product_id = body(register(client))["id"]

    offer = client.get("/api/plans", params={"product": product_id})
    enrolled = body(enroll(client, product_id))
    before = body(client.get(f"/api/enrollments/{enrolled['enrollment_id']}/payment"))
    fake.complete_payment(enrolled["stripe_client_secret"])
    for hook in fake.take_events():
        post_webhook(client, hook)
    after = body(client.get(f"/api/enrollments/{enrolled['enrollment_id']}/payment"))

    assert offer.status_code == 200
    option, alternative = body(offer)["plans"]
    assert (option["default"], alternative["default"]) == (True, False)
    assert alternative["schedule"] == [
        {"seq": 1, "kind": "full", "due_date": "2027-03-15", "amount": money("299.99", 29999)}
    ]
    assert [(line["kind"], line["due_date"], line["amount"]) for line in option["schedule"]] == [
        ("deposit", "2027-03-15", money("60.00", 6000)),
        ("installment", "2027-04-15", money("80.00", 8000)),
        ("installment", "2027-05-15", money("80.00", 8000)),
        ("installment", "2027-06-15", money("79.99", 7999)),
    ]
    assert option["total"] == money("299.99", 29999)
    assert (before["has_access"], before["paid_through"]) == (False, None)
    assert (after["has_access"], after["paid_through"]) == (True, "2027-03-15")
    assert client.get("/api/plans").status_code == 422


def test_a_trial_answers_its_setup_secret_and_starts_when_the_card_is_saved(
    client: TestClient, fake: FakeGateway
) -> None:
    """POST /api/enrollments on a trial: setup_client_secret, pending; the webhook starts it."""
    product_id = body(register(client, "29.00", payment_plan="subscription,trial=14"))["id"]

    created = enroll(client, product_id)
    enrolled = body(created)
    path = f"/api/enrollments/{enrolled['enrollment_id']}/payment"
    before = body(client.get(path))
    fake.complete_setup(enrolled["setup_client_secret"], payment_method="pm_card_visa")
    hooks = [post_webhook(client, hook).status_code for hook in fake.take_events()]
    after = body(client.get(path))

    assert created.status_code == 201
    assert (enrolled["status"], enrolled["requires_immediate_payment"]) == (
        "pending_payment",
        False,
    )
    assert enrolled["stripe_client_secret"] is None
    assert enrolled["setup_client_secret"].startswith("seti_")
    assert (before["enrollment"]["awaiting_payment_method"], before["has_access"]) == (True, False)
    assert hooks == [200]
    assert (after["enrollment"]["status"], after["has_access"]) == ("active", True)
    assert after["enrollment"]["awaiting_payment_method"] is False


def test_unknown_ids_are_404(client: TestClient) -> None:
    """Unknown products, enrollments, schedules and reports answer 404 with a JSON body."""
    responses = [
        enroll(client, "prod_missing"),
        client.get("/api/enrollments/enr_missing/payment"),
        client.post(
            "/api/admin/enrollments/enr_missing/cancel", json={"reason": "x"}, headers=ADMIN
        ),
        client.post(
            "/api/admin/enrollments/enr_missing/cancel",
            json={"reason": "x", "refund_amount": "1.00"},
            headers=ADMIN,
        ),
        client.post(
            "/api/admin/payments/schedules/itm_missing/record-payment",
            json={"payment_method": "cash", "amount": "5.00"},
            headers=ADMIN,
        ),
        client.post("/api/admin/enrollments/enr_missing/pause", headers=ADMIN),
        client.get("/api/admin/payments/reports/profit", headers=ADMIN),
    ]

    assert [r.status_code for r in responses] == [404] * len(responses)
    assert {body(r)["error"] for r in responses} == {"not_found"}


def test_duplicate_enrollment_is_409_naming_the_existing_one(client: TestClient) -> None:
    """Enrolling twice in one product answers 409 with the existing enrollment's id."""
    product_id = body(register(client))["id"]
    first = body(enroll(client, product_id))

    again = enroll(client, product_id)

    assert again.status_code == 409
    assert body(again)["error"] == "duplicate_enrollment"
    assert body(again)["existing_enrollment_id"] == first["enrollment_id"]


def test_state_conflicts_and_money_limits(client: TestClient) -> None:
    """Paying a paid item or resuming an active enrollment is 409; refunds beyond paid are 422."""
    product_id = body(register(client, payment_plan=None, auto_assign_payment_plan=False))["id"]
    created = body(enroll(client, product_id))
    enrollment_id = created["enrollment_id"]
    pay = f"/api/admin/payments/schedules/{created['schedules'][0]['id']}/record-payment"

    over = client.post(pay, json={"payment_method": "cash", "amount": "300.00"}, headers=ADMIN)
    bad_method = client.post(pay, json={"payment_method": "bitcoin"}, headers=ADMIN)
    paid = client.post(pay, json={"payment_method": "cash"}, headers=ADMIN)
    paid_again = client.post(pay, json={"payment_method": "cash"}, headers=ADMIN)
    resume = client.post(f"/api/admin/enrollments/{enrollment_id}/resume", headers=ADMIN)
    too_much = client.post(
        f"/api/admin/enrollments/{enrollment_id}/cancel",
        json={"reason": "x", "refund_amount": "299.991"},
        headers=ADMIN,
    )
    beyond = client.post(
        f"/api/admin/enrollments/{enrollment_id}/cancel",
        json={"reason": "x", "refund_amount": 300},
        headers=ADMIN,
    )
    cancelled = client.post(
        f"/api/admin/enrollments/{enrollment_id}/cancel", json={"reason": "x"}, headers=ADMIN
    )
    twice = client.post(
        f"/api/admin/enrollments/{enrollment_id}/cancel", json={"reason": "x"}, headers=ADMIN
    )

    assert (over.status_code, body(over)["error"]) == (422, "overpayment")
    assert (bad_method.status_code, body(bad_method)["error"]) == (422, "invalid_input")
    assert paid.status_code == 201
    assert (paid_again.status_code, body(paid_again)["error"]) == (409, "item_not_payable")
    assert (resume.status_code, body(resume)["error"]) == (409, "invalid_state")
    assert (too_much.status_code, body(too_much)["error"]) == (422, "amount_precision")
    assert (beyond.status_code, body(beyond)["error"]) == (422, "refund_exceeds_paid")
    assert cancelled.status_code == 200
    assert (twice.status_code, body(twice)["error"]) == (409, "invalid_state")


def test_admin_routes_need_an_actor_and_respect_the_policy(
    create_app: AppFactory, fake: FakeGateway, clock: FrozenClock
) -> None:
    """No X-Actor is 401; an actor the authorize hook refuses is 403 and changes nothing."""
    system = PaymentSystem(
        store=InMemoryStore(),
        gateway=fake,
        clock=clock,
        authorize=lambda actor, _action, _target: actor.startswith("admin:"),
    )
    with TestClient(create_app(system)) as client:
        product_id = body(register(client))["id"]
        enrollment_id = body(enroll(client, product_id))["enrollment_id"]

        anonymous = client.post(f"/api/admin/enrollments/{enrollment_id}/pause", json={})
        stranger = client.post(
            f"/api/admin/enrollments/{enrollment_id}/pause",
            json={},
            headers={"X-Actor": "student:bob"},
        )
        stats = client.get("/api/admin/payments/stats")

    assert (anonymous.status_code, body(anonymous)["error"]) == (401, "unauthenticated")
    assert (stranger.status_code, body(stranger)["error"]) == (403, "permission_denied")
    assert stats.status_code == 401
    assert system.get_enrollment(enrollment_id).status == "pending_payment"


def test_forged_and_malformed_webhooks_are_400_and_change_nothing(
    client: TestClient, fake: FakeGateway, system: PaymentSystem
) -> None:
    """A wrong secret, a tampered body, no signature or a signed non-JSON body: generic 400."""
    result = body(enroll(client, body(register(client))["id"]))
    enrollment_id = result["enrollment_id"]
    fake.complete_payment(result["stripe_client_secret"])
    (genuine,) = fake.take_events()
    forged = fake.webhook("payment_intent.succeeded", {"id": "pi_x"}, secret="whsec_guess")
    tampered = genuine.payload.replace(b'"amount":6000', b'"amount":1')
    garbage = b"not json at all"
    assert tampered != genuine.payload

    answers = [
        post_webhook(client, forged),
        client.post(WEBHOOK, content=tampered, headers=dict(genuine.headers)),
        client.post(WEBHOOK, content=genuine.payload),
        client.post(WEBHOOK, content=garbage, headers=fake.sign(garbage)),
    ]

    assert [(a.status_code, body(a)) for a in answers] == [(400, {"error": "invalid webhook"})] * 4
    assert system.payment_details(enrollment_id).paid.minor == 0
    assert post_webhook(client, genuine).status_code == 200
    assert system.payment_details(enrollment_id).paid.minor == 6000


def test_a_failing_webhook_is_500_and_the_redelivery_is_applied(
    create_app: AppFactory, fake: FakeGateway, clock: FrozenClock
) -> None:
    """A crash before commit answers 500 (the gateway retries); the retry is processed once."""
    crashes = ["webhook_before_commit"]

    def fault(point: str) -> None:
        if point in crashes:
            crashes.remove(point)
            raise RuntimeError("database went away")

    system = PaymentSystem(store=InMemoryStore(), gateway=fake, clock=clock, faults=fault)
    with TestClient(create_app(system)) as client:
        result = body(enroll(client, body(register(client))["id"]))
        fake.complete_payment(result["stripe_client_secret"])
        (hook,) = fake.take_events()

        failed = post_webhook(client, hook)
        retried = post_webhook(client, hook)

    assert (failed.status_code, body(failed)) == (500, {"error": "internal error"})
    assert body(retried)["result"] == "processed"
    assert system.payment_details(result["enrollment_id"]).paid.minor == 6000


def test_default_app_uses_sqlite_from_the_environment_and_manual_payments(
    create_app: AppFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without Stripe keys: SQLite store, no gateway, manual payments work, webhooks 503."""
    monkeypatch.setenv("ENROLLPAY_DATABASE_URL", f"sqlite:///{tmp_path / 'app.db'}")
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)

    with TestClient(create_app(None)) as client:
        product_id = body(register(client, payment_plan=None, auto_assign_payment_plan=False))["id"]
        created = body(enroll(client, product_id))
        paid = client.post(
            f"/api/admin/payments/schedules/{created['schedules'][0]['id']}/record-payment",
            json={"payment_method": "cash", "amount": "299.99"},
            headers=ADMIN,
        )
        details = body(client.get(f"/api/enrollments/{created['enrollment_id']}/payment"))
        webhook = client.post(WEBHOOK, content=b"{}", headers={"Stripe-Signature": "t=1,v1=x"})

    assert created["stripe_client_secret"] is None
    assert created["requires_immediate_payment"] is True
    assert paid.status_code == 201
    assert details["enrollment"]["status"] == "completed"
    assert (tmp_path / "app.db").exists()
    assert webhook.status_code == 503


def test_reports_answer_json_rows(client: TestClient, fake: FakeGateway) -> None:
    """Every report renders (money as strings, ratios as strings); unknown report is 404."""
    product_id = body(register(client))["id"]
    result = body(enroll(client, product_id))
    fake.complete_payment(result["stripe_client_secret"])
    for hook in fake.take_events():
        post_webhook(client, hook)

    reports = {
        name: client.get(f"/api/admin/payments/reports/{name}", headers=ADMIN)
        for name in ("revenue", "status", "products", "aging", "forecast", "recovery")
    }

    assert {name: r.status_code for name, r in reports.items()} == dict.fromkeys(reports, 200)
    products = body(reports["products"])["rows"]
    assert [(p["name"], p["gross"]["amount"], p["refund_rate"]) for p in products] == [
        ("React Masterclass", "60.00", "0.0000")
    ]
    forecast = body(reports["forecast"])["rows"]
    assert [(r["month"], r["amount"]["amount"]) for r in forecast] == [
        ("2027-04-01", "80.00"),
        ("2027-05-01", "80.00"),
        ("2027-06-01", "79.99"),
    ]
    assert body(reports["status"])["enrollments"]["active"] == 1


def test_worker_collects_due_installments(
    client: TestClient, fake: FakeGateway, clock: FrozenClock, system: PaymentSystem
) -> None:
    """The example worker charges the installment due today and reports it."""
    from examples.fastapi_app.worker import run_once  # noqa: PLC0415 - path set by the fixture

    result = body(enroll(client, body(register(client))["id"]))
    fake.complete_payment(result["stripe_client_secret"])
    fake.deliver(system)
    clock.set(datetime(2027, 4, 15, 9, 0, tzinfo=UTC))

    line = run_once(system)

    assert line.startswith("collect: charged=1 succeeded=1 failed=0")
    assert len(fake.charges) == 2


def test_worker_dispatches_events_to_the_lms_registry(
    client: TestClient, fake: FakeGateway, clock: FrozenClock, system: PaymentSystem
) -> None:
    """After collecting, the worker hands the outbox to the example's registry: the LMS grants."""
    from examples.fastapi_app.events import lms_events  # noqa: PLC0415 - path set by the fixture
    from examples.fastapi_app.worker import run_once  # noqa: PLC0415
    from examples.lms import Lms  # noqa: PLC0415

    product = body(register(client))
    result = body(enroll(client, product["id"]))
    fake.complete_payment(result["stripe_client_secret"])
    fake.deliver(system)
    lms = Lms()
    events = lms_events(system, lms)
    pending = len(system.list_events(delivered=False))

    line = run_once(system, events)

    assert line.endswith(f"; events: {pending} delivered")
    student = system.get_enrollment(result["enrollment_id"]).user_id
    assert lms.members == {(student, product["product_id"])}
    assert run_once(system, events).endswith("; events: 0 delivered")
