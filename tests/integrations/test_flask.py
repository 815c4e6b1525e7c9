"""The Flask extension and webhook view, through Flask's own test client."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from enrollpay.integrations import MAX_WEBHOOK_BODY
from enrollpay.integrations.api import payment_details, plan_options
from enrollpay.integrations.flask import (
    get_system,
    init_app,
    settings_from_config,
    system_from_config,
)
from enrollpay.storage.sql import SqlStore

from .conftest import Paid


def make_app(paid: Paid) -> Flask:
    """A Flask app with the paid system attached and the webhook routed."""
    app = Flask("shop")
    init_app(app, paid.system)
    return app


def test_a_signed_event_is_processed_once(paid: Paid) -> None:
    """The first delivery is processed, the redelivery is a duplicate: both 200."""
    client = make_app(paid).test_client()

    first = client.post("/webhooks/stripe", data=paid.hook.payload, headers=dict(paid.hook.headers))
    again = client.post("/webhooks/stripe", data=paid.hook.payload, headers=dict(paid.hook.headers))

    assert (first.status_code, first.get_json()) == (
        200,
        {"result": "processed", "event_id": paid.hook.event_id},
    )
    assert (again.status_code, again.get_json()["result"]) == (200, "duplicate")
    assert paid.system.payment_details(paid.enrollment_id).paid.minor == 29999


def test_a_json_content_type_does_not_get_the_body_parsed_first(paid: Paid) -> None:
    """With ``Content-Type: application/json`` the view still verifies the raw bytes."""
    client = make_app(paid).test_client()

    answer = client.post(
        "/webhooks/stripe",
        data=paid.hook.payload,
        headers={**paid.hook.headers, "Content-Type": "application/json; charset=utf-8"},
    )

    assert answer.get_json()["result"] == "processed"


def test_forged_oversized_and_non_post_requests_are_refused(paid: Paid) -> None:
    """A forged signature is 400, a body over the limit 413, a GET 405; nothing is applied."""
    forged = paid.fake.webhook("payment_intent.succeeded", {"id": "pi_1"}, secret="whsec_guess")
    client = make_app(paid).test_client()

    bad = client.post("/webhooks/stripe", data=forged.payload, headers=dict(forged.headers))
    big = client.post(
        "/webhooks/stripe", data=b" " * (MAX_WEBHOOK_BODY + 1), headers=dict(paid.hook.headers)
    )
    get = client.get("/webhooks/stripe")

    assert (bad.status_code, bad.get_json()) == (400, {"error": "invalid webhook"})
    assert (big.status_code, big.get_json()) == (413, {"error": "webhook body too large"})
    assert get.status_code == 405
    assert paid.system.payment_details(paid.enrollment_id).paid.minor == 0


def test_settings_come_from_app_config_then_the_environment() -> None:
    """app.config wins over the environment; Flask-SQLAlchemy's URI is the database fallback."""
    config = {
        "SQLALCHEMY_DATABASE_URI": "sqlite:///shop.db",
        "STRIPE_SECRET_KEY": "sk_test_config",
        "DEBUG": True,
    }
    environ = {"STRIPE_SECRET_KEY": "sk_test_env", "STRIPE_WEBHOOK_SECRET": "whsec_env"}

    settings = settings_from_config(config, environ)
    explicit = settings_from_config({**config, "ENROLLPAY_DATABASE_URL": "sqlite://"}, {})

    assert settings == {
        "ENROLLPAY_DATABASE_URL": "sqlite:///shop.db",
        "STRIPE_SECRET_KEY": "sk_test_config",
        "STRIPE_WEBHOOK_SECRET": "whsec_env",
    }
    assert explicit["ENROLLPAY_DATABASE_URL"] == "sqlite://"
    assert "STRIPE_WEBHOOK_SECRET" not in explicit


def test_init_app_builds_the_system_from_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a system, init_app opens the configured database; no keys means no gateway."""
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)
    app = Flask("shop")
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'shop.db'}"

    system = init_app(app, webhook_path=None)

    assert get_system(app) is system
    assert isinstance(system.store, SqlStore)
    assert system.gateway is None
    assert (tmp_path / "shop.db").exists()
    assert "enrollpay_stripe_webhook" not in app.view_functions
    system.store.close()


def test_system_from_config_refuses_half_a_stripe_setup() -> None:
    """One Stripe key in the config and none in the environment is refused at start-up."""
    with pytest.raises(ValueError, match="set both"):
        system_from_config(
            {"ENROLLPAY_DATABASE_URL": "sqlite://", "STRIPE_SECRET_KEY": "sk_test_x"}, {}
        )


def test_get_system_without_init_app_fails_loudly() -> None:
    """An app that never called init_app gets a clear error, not a None."""
    with pytest.raises(RuntimeError, match="init_app"):
        get_system(Flask("bare"))


def test_the_api_views_serve_plans_and_payment_details(paid: Paid) -> None:
    """With api_prefix: GET plans and payment details, the library's JSON; errors 422 and 404."""
    app = Flask("shop")
    init_app(app, paid.system, api_prefix="/api")
    client = app.test_client()
    product = paid.system.payment_details(paid.enrollment_id).product
    paid.system.handle_webhook(paid.hook.payload, paid.hook.headers)

    plans = client.get("/api/plans", query_string={"product": product.id})
    details = client.get(f"/api/enrollments/{paid.enrollment_id}/payment")
    missing = client.get("/api/plans")
    stranger = client.get("/api/enrollments/enr_nope/payment")
    posted = client.post("/api/plans")

    assert (plans.status_code, plans.get_json()) == (200, plan_options(paid.system, product))
    assert details.status_code == 200
    assert details.get_json() == payment_details(paid.system.payment_details(paid.enrollment_id))
    body = details.get_json()
    assert (body["has_access"], body["paid_through"]) == (True, "2027-03-15")
    assert (missing.status_code, missing.get_json()["error"]) == (422, "invalid_input")
    assert (stranger.status_code, stranger.get_json()["error"]) == (404, "not_found")
    assert posted.status_code == 405


def test_without_an_api_prefix_only_the_webhook_is_routed(paid: Paid) -> None:
    """init_app adds the API routes only when asked to."""
    app = make_app(paid)

    assert {rule.endpoint for rule in app.url_map.iter_rules()} == {
        "static",
        "enrollpay_stripe_webhook",
    }
