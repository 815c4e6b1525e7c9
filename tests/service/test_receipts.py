"""Every payment gets a numbered receipt and every refund a credit note, in the same transaction.

Run on the in-memory store, SQLite and PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from enrollpay import Installments, PaymentSystem, PlanRule, SystemConfig
from enrollpay.domain.receipts import ReceiptSettings
from enrollpay.domain.records import Product
from enrollpay.errors import InvalidInputError
from enrollpay.errors_receipts import ReceiptNotFoundError
from enrollpay.ports import Store
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds
from tests.service.conftest import usd


def _three_installments(system: PaymentSystem, fake: FakeGateway, course: Product) -> str:
    """Enroll u-1 in three installments and pay the first on-session (webhook delivered)."""
    system.set_plan_rules([PlanRule(plan=Installments(3))])
    result = system.enroll(user_id="u-1", product_id=course.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret)
    fake.deliver(system)
    return result.enrollment_id


def test_a_gateway_payment_settled_by_webhook_gets_receipt_one(
    system: PaymentSystem, fake: FakeGateway, course: Product
) -> None:
    """The first payment of the issuer is R-000001, with its amount, item and reference."""
    enrollment_id = _three_installments(system, fake, course)

    (payment,) = system.payment_details(enrollment_id).payments
    receipt = system.receipt_for_payment(payment.id)
    assert receipt is not None
    assert (receipt.number, receipt.sequence, receipt.kind) == ("R-000001", 1, "receipt")
    assert (receipt.issuer, receipt.user_id, receipt.product_name) == (
        "default",
        "u-1",
        "React Masterclass",
    )
    assert receipt.total == payment.amount == usd("100.00")
    assert receipt.method == "gateway"
    assert receipt.reference == payment.gateway_payment_id
    (line,) = receipt.lines
    assert (line.item_kind, line.item_seq, line.amount) == ("installment", 1, usd("100.00"))
    assert system.get_receipt(receipt.id) == receipt


def test_off_session_charges_and_manual_payments_continue_the_series(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, course: Product
) -> None:
    """A collected installment is R-000002, a manual payment R-000003: one series, no gaps."""
    enrollment_id = _three_installments(system, fake, course)
    clock.advance(timedelta(days=31))
    (outcome,) = system.collect_due().outcomes
    assert outcome.result == "succeeded"
    third = system.list_schedule_items(enrollment_id=enrollment_id)[2]
    manual = system.record_manual_payment(
        third.id, method="bank_transfer", actor="admin", reference="SEPA-77"
    )

    receipts = system.list_receipts(enrollment_id)
    assert [(r.number, r.method) for r in receipts] == [
        ("R-000001", "gateway"),
        ("R-000002", "gateway"),
        ("R-000003", "bank_transfer"),
    ]
    assert receipts[2].payment_id == manual.id
    assert receipts[2].reference == "SEPA-77"
    assert receipts[2].paid_at == clock.now()
    payments = system.payment_details(enrollment_id).payments
    assert {r.payment_id for r in receipts} == {p.id for p in payments}


def test_a_refund_gets_a_credit_note_referring_to_the_original_receipt(
    system: PaymentSystem, fake: FakeGateway, course: Product
) -> None:
    """A partial refund: CN-000001 for the refunded amount, naming R-000001; a second one CN-2."""
    enrollment_id = _three_installments(system, fake, course)
    (payment,) = system.payment_details(enrollment_id).payments
    original = system.receipt_for_payment(payment.id)
    assert original is not None

    system.refund_payment(payment.id, usd("30.00"), actor="admin", reason="goodwill")
    system.refund_payment(payment.id, usd("20.00"), actor="admin")

    notes = [r for r in system.list_receipts(enrollment_id) if r.kind == "credit_note"]
    assert [(n.number, n.total, n.original_number) for n in notes] == [
        ("CN-000001", usd("30.00"), "R-000001"),
        ("CN-000002", usd("20.00"), "R-000001"),
    ]
    assert {n.original_receipt_id for n in notes} == {original.id}
    refunds = system.payment_details(enrollment_id).refunds
    assert [n.refund_id for n in notes] == [r.id for r in refunds]
    assert notes[0].lines[0].item_kind == "refund"
    # The receipt itself is unchanged, and still the payment's receipt.
    assert system.receipt_for_payment(payment.id) == original


def test_a_dashboard_refund_by_webhook_gets_a_credit_note(
    system: PaymentSystem, fake: FakeGateway, course: Product
) -> None:
    """A refund made at the gateway is credited once, however often its webhook comes."""
    enrollment_id = _three_installments(system, fake, course)
    (payment,) = system.payment_details(enrollment_id).payments
    assert payment.gateway_payment_id is not None
    fake.refund_from_dashboard(payment.gateway_payment_id, usd("100.00"))
    fake.deliver(system, times=2)

    notes = [r for r in system.list_receipts(enrollment_id) if r.kind == "credit_note"]
    assert [(n.number, n.total, n.original_number) for n in notes] == [
        ("CN-000001", usd("100.00"), "R-000001")
    ]


def test_a_pending_gateway_refund_is_credited_when_it_succeeds(
    system: PaymentSystem, fake: FakeGateway, course: Product
) -> None:
    """No credit note while the gateway has not given the money back; one once reconcile has."""
    enrollment_id = _three_installments(system, fake, course)
    (payment,) = system.payment_details(enrollment_id).payments
    fake.script("timeout_before", verb="refund")
    refund = system.refund_payment(payment.id, usd("10.00"), actor="admin")
    assert refund.status == "pending"
    assert [r.kind for r in system.list_receipts(enrollment_id)] == ["receipt"]

    assert system.reconcile().refunds_completed == 1

    receipts = system.list_receipts(enrollment_id)
    assert [(r.kind, r.number, r.refund_id) for r in receipts] == [
        ("receipt", "R-000001", None),
        ("credit_note", "CN-000001", refund.id),
    ]


def test_a_rolled_back_payment_takes_its_number_back(
    store: Store, fake: FakeGateway, clock: FrozenClock, course: Product, system: PaymentSystem
) -> None:
    """A webhook failing before commit leaves no receipt; delivered again, it gets R-000001."""
    system.set_plan_rules([PlanRule(plan=Installments(3))])
    result = system.enroll(user_id="u-1", product_id=course.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret)

    def crash(point: str) -> None:
        if point == "webhook_before_commit":
            raise RuntimeError("crash before commit")

    crashing = PaymentSystem(store=store, gateway=fake, clock=clock, faults=crash)
    hooks = fake.take_events()
    assert [h.event_type for h in hooks] == ["payment_intent.succeeded"]
    with pytest.raises(RuntimeError, match="crash before commit"):
        crashing.handle_webhook(hooks[0].payload, hooks[0].headers)
    assert system.list_receipts(result.enrollment_id) == []
    assert system.payment_details(result.enrollment_id).payments == ()

    assert system.handle_webhook(hooks[0].payload, hooks[0].headers).result == "processed"
    assert [r.number for r in system.list_receipts(result.enrollment_id)] == ["R-000001"]


def test_a_manual_payment_over_an_open_checkout_keeps_the_series_gap_free(
    system: PaymentSystem, fake: FakeGateway, course: Product
) -> None:
    """The dry run (written, then rolled back) does not use up a number."""
    result = system.enroll(user_id="u-1", product_id=course.id)  # an open checkout
    (item,) = system.list_schedule_items(enrollment_id=result.enrollment_id)
    payment = system.record_manual_payment(item.id, method="cash", actor="admin")

    receipt = system.receipt_for_payment(payment.id)
    assert receipt is not None
    assert receipt.number == "R-000001"


def test_a_refused_manual_payment_issues_no_receipt(
    system: PaymentSystem, fake: FakeGateway, course: Product
) -> None:
    """An overpayment is refused: nothing written, and the next payment is still R-000001."""
    enrollment_id = _three_installments(system, fake, course)
    second = system.list_schedule_items(enrollment_id=enrollment_id)[1]
    with pytest.raises(InvalidInputError):
        system.record_manual_payment(second.id, method="cash", actor="a", amount=usd("500.00"))
    system.record_manual_payment(second.id, method="cash", actor="a")
    assert [r.number for r in system.list_receipts(enrollment_id)] == ["R-000001", "R-000002"]


def test_an_unknown_receipt_is_a_typed_error(system: PaymentSystem) -> None:
    """ReceiptNotFoundError, which is a NotFoundError (LookupError)."""
    with pytest.raises(ReceiptNotFoundError, match="rcp_nope"):
        system.get_receipt("rcp_nope")
    with pytest.raises(LookupError):
        system.receipt_html("rcp_nope")


def test_issuer_and_prefixes_come_from_the_settings(
    store: Store, fake: FakeGateway, clock: FrozenClock
) -> None:
    """Each issuer numbers its own series; the prefix and width follow the settings."""
    settings = ReceiptSettings(issuer="north", prefix="N", credit_prefix="NC", digits=4)
    system = PaymentSystem(
        store=store,
        gateway=fake,
        clock=clock,
        ids=SequentialIds(),
        config=SystemConfig(receipts=settings),
    )
    course = system.register_product(
        product_type="course", product_id="c", name="C", price=usd("10.00")
    )
    result = system.enroll(user_id="u-1", product_id=course.id)
    (item,) = system.list_schedule_items(enrollment_id=result.enrollment_id)
    payment = system.record_manual_payment(item.id, method="cash", actor="a")
    system.refund_payment(payment.id, usd("1.00"), actor="a")

    assert [(r.issuer, r.number) for r in system.list_receipts(result.enrollment_id)] == [
        ("north", "N0001"),
        ("north", "NC0001"),
    ]


def test_receipt_issued_is_announced_only_when_asked(
    store: Store, fake: FakeGateway, clock: FrozenClock
) -> None:
    """With announce=True each receipt and credit note puts receipt.issued in the outbox."""
    config = SystemConfig(receipts=ReceiptSettings(announce=True))
    system = PaymentSystem(
        store=store, gateway=fake, clock=clock, ids=SequentialIds(), config=config
    )
    course = system.register_product(
        product_type="course", product_id="c", name="C", price=usd("10.00")
    )
    result = system.enroll(user_id="u-1", product_id=course.id)
    (item,) = system.list_schedule_items(enrollment_id=result.enrollment_id)
    payment = system.record_manual_payment(item.id, method="cash", actor="a")
    system.refund_payment(payment.id, usd("4.00"), actor="a")

    issued = [e for e in system.list_events() if e.kind == "receipt.issued"]
    assert [(e.data["number"], e.data["kind"], e.data["original_number"]) for e in issued] == [
        ("R-000001", "receipt", None),
        ("CN-000001", "credit_note", "R-000001"),
    ]
    assert issued[0].data["amount"] == {"minor": 1000, "currency": "USD"}
    assert issued[1].data["amount"] == {"minor": 400, "currency": "USD"}
    assert {e.enrollment_id for e in issued} == {result.enrollment_id}


def test_receipt_issued_is_not_announced_by_default(
    system: PaymentSystem, fake: FakeGateway, course: Product
) -> None:
    """The default settings keep the outbox as it was before receipts."""
    enrollment_id = _three_installments(system, fake, course)
    assert len(system.list_receipts(enrollment_id)) == 1
    assert all(e.kind != "receipt.issued" for e in system.list_events())
