"""The FastAPI webhook route, through FastAPI's own test client."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from enrollpay.integrations import MAX_WEBHOOK_BODY
from enrollpay.integrations.api import payment_details, plan_options
from enrollpay.integrations.fastapi import api_router, attach_system, webhook_router

from .conftest import Paid


def make_app(paid: Paid, *, attach: bool = True) -> FastAPI:
    """An app with the webhook route under /api, its system attached or passed in."""
    app = FastAPI()
    if attach:
        attach_system(app, paid.system)
        app.include_router(webhook_router(), prefix="/api")
    else:
        app.include_router(webhook_router(paid.system, path="/hooks/stripe"))
    return app


def test_a_signed_event_is_processed_once(paid: Paid) -> None:
    """The first delivery is processed, the redelivery is a duplicate: both 200."""
    with TestClient(make_app(paid)) as client:
        first = client.post(
            "/api/webhooks/stripe", content=paid.hook.payload, headers=dict(paid.hook.headers)
        )
        again = client.post(
            "/api/webhooks/stripe", content=paid.hook.payload, headers=dict(paid.hook.headers)
        )

    assert (first.status_code, first.json()) == (
        200,
        {"result": "processed", "event_id": paid.hook.event_id},
    )
    assert (again.status_code, again.json()["result"]) == (200, "duplicate")
    assert paid.system.payment_details(paid.enrollment_id).paid.minor == 29999


def test_the_raw_bytes_are_verified_not_a_reparsed_body(paid: Paid) -> None:
    """A body with unusual spacing keeps its signature: the route never re-serialises JSON."""
    payload = b'{ "id" : "evt_spaced",  "object": "event", "type": "customer.created",\n'
    payload += b' "created": 1, "livemode": false, "data": {"object": {"id": "cus_1"}} }'
    with TestClient(make_app(paid)) as client:
        answer = client.post(
            "/api/webhooks/stripe", content=payload, headers=paid.fake.sign(payload)
        )

    assert (answer.status_code, answer.json()) == (
        200,
        {"result": "ignored", "event_id": "evt_spaced"},
    )


def test_forged_oversized_and_non_post_requests_are_refused(paid: Paid) -> None:
    """A forged signature is 400, a body over the limit 413, a GET 405; nothing is applied."""
    forged = paid.fake.webhook("payment_intent.succeeded", {"id": "pi_1"}, secret="whsec_guess")
    with TestClient(make_app(paid)) as client:
        bad = client.post(
            "/api/webhooks/stripe", content=forged.payload, headers=dict(forged.headers)
        )
        big = client.post(
            "/api/webhooks/stripe",
            content=b" " * (MAX_WEBHOOK_BODY + 1),
            headers=dict(paid.hook.headers),
        )
        get = client.get("/api/webhooks/stripe")

    assert (bad.status_code, bad.json()) == (400, {"error": "invalid webhook"})
    assert (big.status_code, big.json()) == (413, {"error": "webhook body too large"})
    assert get.status_code == 405
    assert paid.system.payment_details(paid.enrollment_id).paid.minor == 0


def test_a_router_can_carry_its_own_system_and_path(paid: Paid) -> None:
    """``webhook_router(system, path=...)`` works without anything on app.state."""
    app = make_app(paid, attach=False)
    with TestClient(app) as client:
        answer = client.post(
            "/hooks/stripe", content=paid.hook.payload, headers=dict(paid.hook.headers)
        )

    assert answer.json()["result"] == "processed"
    assert not hasattr(app.state, "enrollpay_system")


def test_no_attached_system_is_a_logged_500(paid: Paid, caplog: pytest.LogCaptureFixture) -> None:
    """Without attach_system the route answers 500 (redelivery) and logs why."""
    app = FastAPI()
    app.include_router(webhook_router())
    headers = dict(paid.hook.headers)
    with TestClient(app) as client:
        missing = client.post("/webhooks/stripe", content=paid.hook.payload, headers=headers)
        attach_system(app, paid.system)
        attached = client.post("/webhooks/stripe", content=paid.hook.payload, headers=headers)

    assert (missing.status_code, missing.json()) == (500, {"error": "internal error"})
    assert "call attach_system(app, system) first" in caplog.text
    assert attached.json()["result"] == "processed"


@pytest.mark.parametrize("attach", [True, False], ids=["attached", "passed in"])
def test_the_api_router_serves_plans_and_payment_details(paid: Paid, attach: bool) -> None:
    """GET plans and payment details: the library's JSON; unknowns 404, no product 422."""
    app = FastAPI()
    if attach:
        attach_system(app, paid.system)
    app.include_router(api_router(None if attach else paid.system), prefix="/api")
    product = paid.system.payment_details(paid.enrollment_id).product
    paid.system.handle_webhook(paid.hook.payload, paid.hook.headers)

    with TestClient(app) as client:
        plans = client.get("/api/plans", params={"product": product.id})
        details = client.get(f"/api/enrollments/{paid.enrollment_id}/payment")
        missing = client.get("/api/plans")
        unknown = client.get("/api/plans", params={"product": "prod_nope"})
        stranger = client.get("/api/enrollments/enr_nope/payment")

    assert (plans.status_code, plans.json()) == (200, plan_options(paid.system, product))
    assert details.status_code == 200
    assert details.json() == payment_details(paid.system.payment_details(paid.enrollment_id))
    assert (details.json()["has_access"], details.json()["paid_through"]) == (True, "2027-03-15")
    assert (missing.status_code, missing.json()["error"]) == (422, "invalid_input")
    assert (unknown.status_code, stranger.status_code) == (404, 404)
