"""The seat routes of the JSON API, over FastAPI, Flask and Django: seats, joining, accepting."""

from __future__ import annotations

from datetime import timedelta

from enrollpay import FullPayment, Money, PaymentSystem
from enrollpay.integrations.seats_api import seats_view
from enrollpay.testing import FrozenClock

from .route_clients import Framework, route_client


def _program(system: PaymentSystem, seats: int | None = 1) -> str:
    """A 100.00 USD program with ``seats`` seats; its id."""
    product = system.register_product(
        product_type="program",
        product_id="cohort",
        name="Cohort",
        price=Money.of("100.00", "USD"),
        payment_plan=FullPayment(),
    )
    system.set_seat_limit(product.id, seats)
    return product.id


def test_a_full_program_lines_students_up_and_a_freed_seat_is_accepted(
    framework: Framework, system: PaymentSystem, clock: FrozenClock
) -> None:
    """GET counts; POST joins (201, in order); a cancellation offers; POST accept enrolls."""
    product = _program(system)
    first = system.enroll(user_id="u-1", product_id=product)
    client = route_client(framework, system)
    with client:
        joined = client.post(f"/api/products/{product}/waitlist", json={"user_id": "u-2"})
        again = client.post(f"/api/products/{product}/waitlist", json={"user_id": "u-2"})
        seats = client.get(f"/api/products/{product}/seats")
    assert joined.status_code == 201
    entry = joined.json()
    assert (entry["user_id"], entry["status"], entry["offer_expires_at"]) == (
        "u-2",
        "waiting",
        None,
    )
    assert (again.status_code, again.json()["error"]) == (409, "conflict")
    assert seats.status_code == 200
    body = seats.json()
    assert body == seats_view(system.seats(product))
    assert body["seats"] == {
        "limit": 1, "held": 0, "reserved": 1, "offered": 0, "taken": 1, "free": 0,
    }  # fmt: skip
    assert [e["id"] for e in body["waitlist"]] == [entry["id"]]

    system.cancel_enrollment(first.enrollment_id, reason="left", actor="admin")
    with client:
        offered = client.get(f"/api/products/{product}/seats").json()
        accepted = client.post(f"/api/seat-offers/{entry['id']}/accept", json={})
        twice = client.post(f"/api/seat-offers/{entry['id']}/accept")
    (offer,) = offered["offers"]
    assert offer["offer_expires_at"] == (clock.now() + timedelta(hours=48)).isoformat()
    assert accepted.status_code == 201
    made = accepted.json()
    assert made["enrollment"]["user_id"] == "u-2"
    assert made["requires_immediate_payment"] is True
    assert made["client_secret"]
    assert twice.status_code == 409


def test_refusals_are_json_errors(
    framework: Framework, system: PaymentSystem, clock: FrozenClock
) -> None:
    """404 unknown product or offer; 409 no limit; 422 bad input; an expired offer 409."""
    unlimited = _program(system, None)
    client = route_client(framework, system)
    with client:
        missing = client.get("/api/products/prod_nope/seats")
        missing_join = client.post("/api/products/prod_nope/waitlist", json={"user_id": "u"})
        no_limit = client.post(f"/api/products/{unlimited}/waitlist", json={"user_id": "u"})
        no_user = client.post(f"/api/products/{unlimited}/waitlist", json={"user": "u"})
        not_json = client.post(f"/api/products/{unlimited}/waitlist", content=b"{oops")
        no_offer = client.post("/api/seat-offers/wl_nope/accept")
    assert [r.status_code for r in (missing, missing_join, no_limit, no_user, not_json)] == [
        404, 404, 409, 422, 422,
    ]  # fmt: skip
    assert no_offer.status_code == 404
    assert missing.json()["error"] == "not_found"

    system.set_seat_limit(unlimited, 1)
    with client:
        entry = client.post(f"/api/products/{unlimited}/waitlist", json={"user_id": "u-5"}).json()
        bad_start = client.post(
            f"/api/seat-offers/{entry['id']}/accept", json={"start": "next week"}
        )
    assert entry["status"] == "offered"  # a seat was free
    assert bad_start.status_code == 422
    with client:
        broken = client.post(f"/api/seat-offers/{entry['id']}/accept", content=b"{oops")
        not_object = client.post(f"/api/seat-offers/{entry['id']}/accept", content=b'["x"]')
        after = client.get(f"/api/products/{unlimited}/seats").json()
    for refused in (broken, not_object):  # never the default start: nothing is accepted
        assert (refused.status_code, refused.json()) == (
            422,
            {"error": "invalid_input", "message": "the body must be a JSON object"},
        )
    assert [(o["id"], o["status"]) for o in after["offers"]] == [(entry["id"], "offered")]
    assert (after["seats"]["reserved"], after["seats"]["offered"]) == (0, 1)
    clock.advance(timedelta(hours=49))
    with client:
        late = client.post(f"/api/seat-offers/{entry['id']}/accept")
    assert (late.status_code, late.json()["error"]) == (409, "conflict")
    assert "expired" in late.json()["message"]
