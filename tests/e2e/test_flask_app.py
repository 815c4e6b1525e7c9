"""The Flask example: payments in the app's configured database, the webhook view, the CLI."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from enrollpay import Installments, Money, PaymentSystem
from enrollpay.integrations.flask import get_system
from enrollpay.storage.memory import InMemoryStore
from enrollpay.storage.sql import SqlStore
from enrollpay.testing import FakeGateway, FrozenClock

ROOT = Path(__file__).resolve().parents[2]
AppFactory = Callable[[Mapping[str, Any] | None, PaymentSystem | None], Flask]


@pytest.fixture
def create_app(monkeypatch: pytest.MonkeyPatch) -> AppFactory:
    """The example's ``create_app``, with no Stripe keys in the environment."""
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)
    from examples.flask_app.app import create_app  # noqa: PLC0415 - needs the path above

    return create_app


def test_payments_live_in_the_apps_configured_database(
    create_app: AppFactory, tmp_path: Path
) -> None:
    """SQLALCHEMY_DATABASE_URI holds the payment tables; no keys: manual payments, webhook 503."""
    database = tmp_path / "shop.db"
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}"}, None)
    system = get_system(app)
    course = system.register_product(
        product_type="course", product_id="c-1", name="Course", price=Money.of("49.00", "USD")
    )
    client = app.test_client()

    created = client.post("/enrollments", json={"product_id": course.id, "user_id": "u-1"})
    body = created.get_json()
    system.record_manual_payment(body["schedules"][0]["id"], method="cash", actor="admin:alice")
    details = client.get(f"/enrollments/{body['enrollment_id']}/payment").get_json()
    webhook = client.post("/webhooks/stripe", data=b"{}", headers={"Stripe-Signature": "t=1"})
    cli = app.test_cli_runner().invoke(args=["collect-due"])

    assert created.status_code == 201
    assert body["stripe_client_secret"] is None
    assert details == {
        "status": "completed",
        "has_access": True,
        "paid": {"amount": "49.00", "currency": "USD", "minor": 4900},
        "outstanding": {"amount": "0.00", "currency": "USD", "minor": 0},
    }
    assert webhook.status_code == 503
    assert cli.output.strip() == "no gateway configured: nothing to collect"
    assert isinstance(system.store, SqlStore)
    assert (
        "enrollpay_payments"
        in sa.inspect(sa.create_engine(f"sqlite:///{database}")).get_table_names()
    )
    system.store.close()


def test_the_fake_gateway_flow_through_the_webhook_view_and_the_cli(
    create_app: AppFactory,
) -> None:
    """Enroll, pay, webhook (processed then duplicate), and the monthly collect-due command."""
    clock = FrozenClock(datetime(2027, 3, 15, 9, 0, tzinfo=UTC))
    fake = FakeGateway(clock=clock)
    system = PaymentSystem(store=InMemoryStore(), gateway=fake, clock=clock)
    course = system.register_product(
        product_type="course",
        product_id="c-1",
        name="Course",
        price=Money.of("300.00", "USD"),
        payment_plan=Installments(3),
    )
    app = create_app(None, system)
    client = app.test_client()

    body = client.post("/enrollments", json={"product_id": course.id, "user_id": "u-1"}).get_json()
    fake.complete_payment(body["stripe_client_secret"])
    (hook,) = fake.take_events()
    first = client.post("/webhooks/stripe", data=hook.payload, headers=dict(hook.headers))
    again = client.post("/webhooks/stripe", data=hook.payload, headers=dict(hook.headers))
    clock.set(datetime(2027, 4, 15, 9, 0, tzinfo=UTC))
    cli = app.test_cli_runner().invoke(args=["collect-due"])
    for later in fake.take_events():
        client.post("/webhooks/stripe", data=later.payload, headers=dict(later.headers))
    details = client.get(f"/enrollments/{body['enrollment_id']}/payment").get_json()
    library = client.get(f"/api/enrollments/{body['enrollment_id']}/payment").get_json()
    first_receipt = system.list_receipts(body["enrollment_id"])[0]
    receipt = client.get(f"/api/receipts/{first_receipt.id}")

    assert [first.get_json()["result"], again.get_json()["result"]] == ["processed", "duplicate"]
    assert cli.output.splitlines()[0].startswith("collect: charged=1 succeeded=1")
    assert details["paid"]["amount"] == "200.00"
    assert details["outstanding"]["amount"] == "100.00"
    assert (library["has_access"], library["paid_through"]) == (True, "2027-04-15")
    assert (receipt.status_code, receipt.get_json()["number"]) == (200, "R-000001")


def test_errors_are_json(create_app: AppFactory) -> None:
    """A bad body is 400, an unknown product 404, a second enrollment 409 with the first's id."""
    system = PaymentSystem(store=InMemoryStore())
    course = system.register_product(
        product_type="course", product_id="c-1", name="Course", price=Money.of("10", "USD")
    )
    client = create_app(None, system).test_client()

    bad = client.post("/enrollments", data=b"nope", content_type="application/json")
    missing = client.post("/enrollments", json={"product_id": "prod_x", "user_id": "u"})
    first = client.post("/enrollments", json={"product_id": course.id, "user_id": "u"})
    second = client.post("/enrollments", json={"product_id": course.id, "user_id": "u"})

    assert (bad.status_code, bad.get_json()["error"]) == (400, "bad_json")
    assert (missing.status_code, missing.get_json()["error"]) == (404, "not_found")
    assert second.status_code == 409
    assert second.get_json()["existing_enrollment_id"] == first.get_json()["enrollment_id"]


def test_the_dispatch_command_revokes_lms_access_on_suspension_and_grants_it_back(
    create_app: AppFactory,
) -> None:
    """No gateway: an installment left unpaid suspends access; the LMS follows; a payment restores.

    ``flask enrollpay-dispatch`` runs the example's registry: granted when the
    first payment is recorded, revoked after the sweep suspends, granted again
    when the bursar records the arrears.
    """
    from examples.lms import Lms  # noqa: PLC0415 - the path is set by the fixture

    clock = FrozenClock(datetime(2027, 3, 15, 9, 0, tzinfo=UTC))
    system = PaymentSystem(store=InMemoryStore(), clock=clock)
    course = system.register_product(
        product_type="course", product_id="welding", name="Welding",
        price=Money.of("300", "USD"), payment_plan=Installments(3),
    )  # fmt: skip
    lms = Lms()
    app = create_app(None, system, lms)  # type: ignore[call-arg] # AppFactory names two args
    cli = app.test_cli_runner()
    result = system.enroll(user_id="u-1", product_id=course.id)
    first, second, _ = (item.id for item in result.schedule)
    system.record_manual_payment(first, method="cash", actor="bursar")

    cli.invoke(args=["enrollpay-dispatch"])
    assert lms.members == {("u-1", "welding")}

    clock.set(datetime(2027, 4, 19, 9, 0, tzinfo=UTC))  # due 04-15, past the grace days
    assert system.sweep().items_overdue == 1
    clock.set(datetime(2027, 5, 2, 9, 0, tzinfo=UTC))  # 14 days overdue: suspended
    assert system.sweep().suspended == 1
    suspended = cli.invoke(args=["enrollpay-dispatch"])
    assert suspended.exit_code == 0
    assert lms.members == set()
    assert lms.log == ["grant u-1 welding", "revoke u-1 welding"]

    system.record_manual_payment(second, method="bank_transfer", reference="T-2", actor="bursar")
    cli.invoke(args=["enrollpay-dispatch"])
    again = cli.invoke(args=["enrollpay-dispatch"])
    assert lms.members == {("u-1", "welding")}
    assert lms.log == ["grant u-1 welding", "revoke u-1 welding", "grant u-1 welding"]
    assert again.output == "enrollpay: 0 event(s) delivered\n"
