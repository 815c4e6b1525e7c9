"""The plan-change routes over FastAPI, Flask and Django: preview, change, and their errors.

They come apart from the API the students' portal serves (they write): a router
of their own in FastAPI, a prefix of their own in Flask, URL patterns of their
own in Django.
"""

from __future__ import annotations

from datetime import date

import pytest

from enrollpay import Installments, Money, PaymentSystem
from enrollpay.integrations.api import item
from enrollpay.integrations.plan_change_api import plan_change_answer
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway, SequentialIds

from .route_clients import Framework, RouteClient, route_client

SIX = Installments(6)


@pytest.fixture
def enrolled(system: PaymentSystem, fake: FakeGateway) -> str:
    """u-1 on twelve monthly 100.00 USD installments (six offered), the first paid."""
    product = system.register_product(
        product_type="course",
        product_id="c-12",
        name="Twelve",
        price=Money.of("1200", "USD"),
        payment_plan=Installments(12),
        offered_plans=(SIX,),
    )
    result = system.enroll(user_id="u-1", product_id=product.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret)
    fake.deliver(system)
    return result.enrollment_id


def client_of(framework: Framework, system: PaymentSystem) -> RouteClient:
    """A client of an app with the plan-change routes (only) under /api."""
    return route_client(framework, system, api=False, plan_change=True)


def usd(minor: int) -> dict[str, object]:
    """Money as the API writes it."""
    return {"amount": f"{minor // 100}.{minor % 100:02d}", "currency": "USD", "minor": minor}


def test_the_preview_answers_the_diff_and_writes_nothing(
    framework: Framework, system: PaymentSystem, enrolled: str
) -> None:
    """200 with both sides of the diff; the schedule is unchanged."""
    before = system.list_schedule_items(enrollment_id=enrolled)
    with client_of(framework, system) as client:
        answer = client.post(
            f"/api/enrollments/{enrolled}/plan-change/preview",
            json={"plan": "installments=6", "at": "2027-03-20"},
        )
    assert answer.status_code == 200
    body = answer.json()
    assert body["applied"] is False
    assert (body["old_version"], body["new_version"], body["anchor"]) == (1, 2, "2027-03-20")
    assert body["owed_before"] == body["owed_after"] == usd(110000)
    assert body["due_now"][0] == {"seq": 13, "due": "2027-03-20", "amount": usd(18334)}
    assert len(body["was_due"]) == 11
    assert body["to_plan"]["kind"] == "installments"
    assert system.list_schedule_items(enrollment_id=enrolled) == before


def test_the_change_answers_the_new_items_and_the_enrollment(
    framework: Framework, system: PaymentSystem, enrolled: str
) -> None:
    """200; the items added are stored; the actor is audited."""
    with client_of(framework, system) as client:
        answer = client.post(
            f"/api/enrollments/{enrolled}/plan-change",
            json={"plan": {"kind": "full"}, "actor": "admin:ana"},
        )
    assert answer.status_code == 200
    body = answer.json()
    assert body["applied"] is True
    (added,) = body["added"]
    assert added == item(system.get_schedule_item(added["id"]))
    assert (added["due_date"], added["schedule_version"]) == (date(2027, 3, 15).isoformat(), 2)
    assert body["enrollment"]["id"] == enrolled
    assert body["owed_after"] == usd(110000)
    (entry,) = [e for e in system.audit_log(entity_id=enrolled) if e.action == "plan.changed"]
    assert entry.actor == "admin:ana"


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"plan": "installments=3"}, 422, "invalid_input"),
        ({"plan": "installments=12"}, 409, "plan_change_refused"),
        ({"plan": "installments=six"}, 422, "invalid_input"),
        ({"plan": {"kind": "installments"}}, 422, "invalid_input"),
        ({}, 422, "invalid_input"),
        ({"plan": "full", "at": "soon"}, 422, "invalid_input"),
    ],
)
def test_bad_requests_are_json_errors_and_write_nothing(
    framework: Framework,
    system: PaymentSystem,
    enrolled: str,
    body: dict[str, object],
    status: int,
    error: str,
) -> None:
    """Not offered, the same plan, malformed plans and dates: each a JSON error."""
    before = system.list_schedule_items(enrollment_id=enrolled)
    with client_of(framework, system) as client:
        answer = client.post(f"/api/enrollments/{enrolled}/plan-change", json=body)
    assert (answer.status_code, answer.json()["error"]) == (status, error)
    assert system.list_schedule_items(enrollment_id=enrolled) == before


def test_unknown_enrollments_bodies_and_blocked_changes(
    framework: Framework, system: PaymentSystem, fake: FakeGateway, enrolled: str
) -> None:
    """404; a body that is not an object; 409 blocked naming the open checkout's attempt."""
    del enrolled
    product = system.get_product(system.list_products()[0].id)
    pending = system.enroll(user_id="u-2", product_id=product.id)
    (attempt,) = system.payment_details(pending.enrollment_id).attempts
    with client_of(framework, system) as client:
        missing = client.post(
            "/api/enrollments/enr_nope/plan-change/preview", json={"plan": "full"}
        )
        listed = client.post(f"/api/enrollments/{pending.enrollment_id}/plan-change", json=[1])
        broken = client.post(
            f"/api/enrollments/{pending.enrollment_id}/plan-change", content=b"{not json"
        )
        blocked = client.post(
            f"/api/enrollments/{pending.enrollment_id}/plan-change", json={"plan": "full"}
        )
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
    assert (listed.status_code, listed.json()["error"]) == (422, "invalid_input")
    assert (broken.status_code, broken.json()["error"]) == (422, "invalid_input")
    assert blocked.status_code == 409
    assert blocked.json()["error"] == "plan_change_blocked"
    assert blocked.json()["attempt_id"] == attempt.id


def test_a_refused_actor_is_forbidden(fake: FakeGateway, clock: object) -> None:
    """The authorisation policy's refusal is a 403."""
    system = PaymentSystem(
        store=InMemoryStore(),
        gateway=fake,
        clock=clock,  # type: ignore[arg-type]
        ids=SequentialIds(),
        authorize=lambda actor, action, target: actor != "intern",
    )
    body = {"plan": {"kind": "full"}, "actor": "intern"}
    answer = plan_change_answer(system, "enr_1", body, apply=True)
    assert (answer.status, answer.body["error"]) == (403, "permission_denied")


def test_the_read_only_api_has_no_plan_change_route(
    framework: Framework, system: PaymentSystem, enrolled: str
) -> None:
    """An app that serves the read-only API to students does not gain a write route."""
    with route_client(framework, system) as client:
        answer = client.post(f"/api/enrollments/{enrolled}/plan-change", json={"plan": "full"})
    assert answer.status_code in (404, 405)
    assert system.get_enrollment(enrolled).plan == Installments(12)
