"""The framework-free read-only API: plan options with schedules, and payment details."""

from __future__ import annotations

import json
from typing import Any

import pytest

from enrollpay import FullPayment, Installments, Interval, Money, PaymentSystem, Subscription
from enrollpay.domain.records import Product
from enrollpay.integrations.api import payment_details, payment_details_answer, plans_answer
from enrollpay.testing import FakeGateway

from .conftest import Paid


@pytest.fixture
def course(system: PaymentSystem) -> Product:
    """A 300 USD course paid in full by default, or in three monthly installments."""
    return system.register_product(
        product_type="course",
        product_id="react-101",
        name="React",
        price=Money.of("300.00", "USD"),
        payment_plan=FullPayment(),
        offered_plans=[Installments(3)],
    )


def usd(amount: str, minor: int) -> dict[str, Any]:
    """The JSON of a USD amount."""
    return {"amount": amount, "currency": "USD", "minor": minor}


def test_plans_lists_each_eligible_plan_with_its_schedule(
    system: PaymentSystem, course: Product
) -> None:
    """The default first, then the offered plan, each with dated lines adding up to the price."""
    answer = plans_answer(system, {"product": course.id})

    assert answer.status == 200
    body = answer.body
    assert body["product"]["id"] == course.id
    assert body["start_date"] == "2027-03-15"
    full, split = body["plans"]
    assert (full["default"], full["plan"]["kind"]) == (True, "full")
    assert full["schedule"] == [
        {"seq": 1, "kind": "full", "due_date": "2027-03-15", "amount": usd("300.00", 30000)}
    ]
    assert (split["default"], split["plan"]["kind"], split["plan"]["count"]) == (
        False,
        "installments",
        3,
    )
    assert [(line["due_date"], line["amount"]["minor"]) for line in split["schedule"]] == [
        ("2027-03-15", 10000),
        ("2027-04-15", 10000),
        ("2027-05-15", 10000),
    ]
    assert full["total"] == split["total"] == usd("300.00", 30000)
    json.dumps(dict(body))  # plain JSON all the way down


def test_plans_by_the_host_apps_id_and_from_a_start_date(
    system: PaymentSystem, course: Product
) -> None:
    """``product_type`` makes ``product`` the host app's id; ``start`` moves the due dates."""
    answer = plans_answer(
        system, {"product": "react-101", "product_type": "course", "start": "2027-09-01"}
    )

    assert answer.status == 200
    assert answer.body["product"]["id"] == course.id
    assert [line["due_date"] for line in answer.body["plans"][1]["schedule"]] == [
        "2027-09-01",
        "2027-10-01",
        "2027-11-01",
    ]


@pytest.mark.parametrize(
    ("query", "status", "error", "words"),
    [
        ({}, 422, "invalid_input", "product query parameter is required"),
        ({"product": "  "}, 422, "invalid_input", "product query parameter is required"),
        ({"product": "prod_nope"}, 404, "not_found", "prod_nope"),
        ({"product": "react-101", "product_type": "book"}, 404, "not_found", "react-101"),
        ({"product": "react-101", "product_type": "course", "start": "9/1"}, 422, "invalid_input",
         "ISO date"),
    ],
)  # fmt: skip
def test_plans_refuses_a_missing_malformed_or_unknown_product(
    system: PaymentSystem, course: Product, query: dict[str, str], status: int, error: str,
    words: str,
) -> None:  # fmt: skip
    """422 for what the caller got wrong, 404 for a product that does not exist."""
    answer = plans_answer(system, query)

    assert (answer.status, answer.body["error"]) == (status, error)
    assert words in answer.body["message"]


def test_payment_details_say_whether_the_student_has_access_and_until_when_it_is_paid(
    paid: Paid,
) -> None:
    """Before the success webhook: no access, paid through nothing; after: access, today."""
    before = payment_details(paid.system.payment_details(paid.enrollment_id))
    paid.system.handle_webhook(paid.hook.payload, paid.hook.headers)
    after = payment_details_answer(paid.system, paid.enrollment_id)

    assert (before["has_access"], before["paid_through"]) == (False, None)
    assert after.status == 200
    assert (after.body["has_access"], after.body["paid_through"]) == (True, "2027-03-15")
    assert after.body["enrollment"]["has_access"] is True
    assert after.body["paid"] == usd("299.99", 29999)
    json.dumps(dict(after.body))


def test_payment_details_show_a_dispute_and_what_it_withholds(paid: Paid) -> None:
    """A chargeback with its funds withdrawn: listed with its due date, disputed, no access."""
    paid.system.handle_webhook(paid.hook.payload, paid.hook.headers)
    gateway_id = paid.system.payment_details(paid.enrollment_id).payments[0].gateway_payment_id
    assert gateway_id is not None
    paid.fake.disputes.open(gateway_id)
    paid.fake.deliver(paid.system)

    body = payment_details_answer(paid.system, paid.enrollment_id).body

    (dispute,) = body["disputes"]
    assert (dispute["status"], dispute["gateway_status"], dispute["reason"]) == (
        "funds_withdrawn", "needs_response", "fraudulent",
    )  # fmt: skip
    assert (dispute["amount"], dispute["evidence_due_by"], dispute["closed_at"]) == (
        usd("299.99", 29999), "2027-03-22T09:00:00+00:00", None,
    )  # fmt: skip
    assert (body["paid"], body["disputed"], body["has_access"]) == (
        usd("299.99", 29999), usd("299.99", 29999), False,
    )  # fmt: skip
    json.dumps(dict(body))


def test_paid_through_stops_at_the_first_installment_still_owed(
    system: PaymentSystem, course: Product
) -> None:
    """Installments 1 and 3 paid by hand: paid through the first; then 2 too: the third."""
    enrolled = system.enroll(user_id="u-9", product_id=course.id, plan=Installments(3))
    first, second, third = enrolled.schedule
    for item in (first, third):
        system.record_manual_payment(item.id, method="cash", actor="admin")

    gap = payment_details_answer(system, enrolled.enrollment_id).body
    system.record_manual_payment(second.id, method="cash", actor="admin")
    whole = payment_details_answer(system, enrolled.enrollment_id).body

    assert gap["paid_through"] == first.due.isoformat() == "2027-03-15"
    assert whole["paid_through"] == third.due.isoformat() == "2027-05-15"


def test_payment_details_say_when_a_trial_waits_for_its_card(
    system: PaymentSystem, fake: FakeGateway
) -> None:
    """A trial enrolled with the gateway: awaiting its card, no access; saved: active, access."""
    club = system.register_product(
        product_type="membership", product_id="club", name="Club", price=Money.of("20", "USD"),
        payment_plan=Subscription(Interval.months(1), trial_days=14),
    )  # fmt: skip
    result = system.enroll(user_id="u-7", product_id=club.id)
    before = payment_details_answer(system, result.enrollment_id).body
    assert result.setup_client_secret is not None
    fake.complete_setup(result.setup_client_secret, payment_method="pm_card_visa")
    fake.deliver(system)
    after = payment_details_answer(system, result.enrollment_id).body

    assert (before["enrollment"]["status"], before["enrollment"]["awaiting_payment_method"]) == (
        "pending_payment",
        True,
    )
    assert (before["has_access"], before["paid_through"]) == (False, None)
    assert (after["enrollment"]["status"], after["enrollment"]["awaiting_payment_method"]) == (
        "active",
        False,
    )
    assert after["has_access"] is True
    json.dumps(dict(after))


def test_payment_details_of_an_unknown_enrollment_is_404(system: PaymentSystem) -> None:
    """No such enrollment: 404 with a reason."""
    answer = payment_details_answer(system, "enr_nope")

    assert (answer.status, answer.body["error"]) == (404, "not_found")
    assert "enr_nope" in answer.body["message"]
