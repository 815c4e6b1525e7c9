"""Use case: installments collected as gateway invoices (``installment_collection="invoice"``).

Each scheduled item is collected as one invoice of the fake gateway,
charged to the saved card; a retry pays the same invoice again; the
invoice's id, payment and page are kept on the attempt and the item and
told in ``installment.invoiced``; invoice and payment webhooks settle the
item once, in either order, before or after collection recorded it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from enrollpay import (
    AttemptStatus,
    EnrollmentStatus,
    Installments,
    ItemStatus,
    PaymentSystem,
    SystemConfig,
)
from enrollpay.domain.records import Product
from enrollpay.errors import GatewayNotConfiguredError, InvalidInputError
from enrollpay.errors_invoices import InvoiceCollectionUnsupportedError
from enrollpay.gateways.fake.invoicing import HOSTED_BASE
from enrollpay.gateways.ratelimit import ThrottledGateway, TokenBucket
from enrollpay.ports import Store
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds
from tests.service.conftest import usd
from tests.service.usecases.support import SECOND_DUE, Outbox, calls_of, enroll_and_pay, usd_data

INVOICE = SystemConfig(installment_collection="invoice")


@pytest.fixture
def system(store: Store, fake: FakeGateway, clock: FrozenClock) -> Iterator[PaymentSystem]:
    """The facade collecting installments as invoices; its audit chain verifies after."""
    payment_system = PaymentSystem(
        store=store, gateway=fake, clock=clock, ids=SequentialIds(), config=INVOICE
    )
    yield payment_system
    assert payment_system.verify_audit_chain().ok


@pytest.fixture
def paid_first(system: PaymentSystem, fake: FakeGateway, outbox: Outbox, three: Product) -> str:
    """u-1 on three installments, the first paid on-session; gateway events and outbox marked."""
    enrollment_id = enroll_and_pay(system, fake, three).enrollment_id
    fake.take_events()
    outbox.mark()
    return enrollment_id


def second_item(system: PaymentSystem, enrollment_id: str) -> str:
    """The id of the enrollment's second item."""
    return system.list_schedule_items(enrollment_id=enrollment_id)[1].id


def test_the_setting_defaults_to_charging_and_refuses_other_words() -> None:
    """``charge`` unless told; a word other than charge/invoice is a typed error."""
    assert SystemConfig().installment_collection == "charge"
    with pytest.raises(InvalidInputError, match="installment_collection"):
        SystemConfig(installment_collection="email")  # type: ignore[arg-type]


class _NoInvoices:
    """A gateway with the payment verbs only (the fake's, forwarded)."""

    def __init__(self, fake: FakeGateway) -> None:
        self.name = "bare"
        self.charge_off_session = fake.charge_off_session
        self.parse_webhook = fake.parse_webhook


def test_invoice_collection_with_a_gateway_that_cannot_invoice_is_refused_at_construction(
    fake: FakeGateway, clock: FrozenClock
) -> None:
    """A typed error (a GatewayNotConfiguredError) names the gateway; no gateway is fine."""
    with pytest.raises(InvoiceCollectionUnsupportedError, match="_NoInvoices") as refused:
        PaymentSystem(store=InMemoryStore(), gateway=_NoInvoices(fake), clock=clock,  # type: ignore[arg-type]
                      config=INVOICE)  # fmt: skip
    assert isinstance(refused.value, GatewayNotConfiguredError)
    assert PaymentSystem(store=InMemoryStore(), clock=clock, config=INVOICE).gateway is None
    throttled = ThrottledGateway(fake, TokenBucket(rate=100))
    assert PaymentSystem(store=InMemoryStore(), gateway=throttled, config=INVOICE).gateway


def test_a_due_installment_is_collected_as_one_invoice_with_its_page(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """invoice_item under attempt 1's key; item and attempt linked; invoiced, then paid."""
    clock.set(SECOND_DUE)
    before = len(fake.calls)

    (outcome,) = system.collect_due().outcomes

    item_id = second_item(system, paid_first)
    assert (outcome.item_id, outcome.result) == (item_id, "succeeded")
    (call,) = calls_of(fake, "invoice_item", before)
    assert call.params["idempotency_key"] == f"item:{item_id}:attempt:1"
    assert call.params["amount"] == usd("100.00")
    assert call.params["metadata"] == {"enrollment_id": paid_first, "item_id": item_id,
                                       "attempt_id": outcome.attempt_id}  # fmt: skip
    assert calls_of(fake, "charge_off_session", before)[0].params["idempotency_key"] == (
        f"item:{item_id}:attempt:1:pay"
    )
    (invoice_id,) = fake.item_invoices
    assert fake.item_invoices[invoice_id]["status"] == "paid"
    attempt = system.payment_details(paid_first).attempts[-1]
    page = HOSTED_BASE + invoice_id
    assert (attempt.status, attempt.gateway_invoice_id, attempt.hosted_invoice_url) == (
        AttemptStatus.SUCCEEDED,
        invoice_id,
        page,
    )
    assert attempt.gateway_payment_id == fake.item_invoices[invoice_id]["payment_intent"]
    item = system.get_schedule_item(item_id)
    assert (item.status, item.gateway_invoice_id, item.hosted_invoice_url) == (
        ItemStatus.PAID,
        invoice_id,
        page,
    )
    assert page not in repr(item)
    assert page not in repr(attempt)
    invoiced, paid = outbox.new()
    assert (invoiced.kind, dict(invoiced.data)) == (
        "installment.invoiced",
        {
            "item_id": item_id,
            "attempt_id": attempt.id,
            "invoice_id": invoice_id,
            "payment_intent_id": attempt.gateway_payment_id,
            "hosted_invoice_url": page,
            "amount": usd_data(10000),
        },
    )
    assert paid.kind == "installment.paid"
    (payment,) = system.payment_details(paid_first).payments[1:]
    assert payment.gateway_payment_id == attempt.gateway_payment_id


def test_a_declined_invoice_is_paid_again_on_each_retry_never_issued_twice(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """Declined twice, then paid on the second retry: one invoice, pay_invoice with each key."""
    fake.script(fake.decline("insufficient_funds"), fake.decline("insufficient_funds"))
    clock.set(SECOND_DUE)
    item_id = second_item(system, paid_first)

    (first,) = system.collect_due().outcomes
    assert first.result == "failed"
    (invoice_id,) = fake.item_invoices
    item = system.get_schedule_item(item_id)
    assert (item.status, item.gateway_invoice_id) == (ItemStatus.FAILED, invoice_id)
    assert system.get_enrollment(paid_first).status == EnrollmentStatus.PAST_DUE
    assert fake.item_invoices[invoice_id]["status"] == "open"

    for days in system.config.retry_policy.delays[:2]:
        clock.advance(days)
        system.collect_due()

    assert list(fake.item_invoices) == [invoice_id]
    assert len(calls_of(fake, "invoice_item")) == 1
    pays = calls_of(fake, "pay_invoice")
    assert [c.params["invoice_id"] for c in pays] == [invoice_id, invoice_id]
    assert [c.params["idempotency_key"] for c in pays] == [
        f"item:{item_id}:attempt:2:pay",
        f"item:{item_id}:attempt:3:pay",
    ]
    attempts = [a for a in system.payment_details(paid_first).attempts if a.item_id == item_id]
    assert [a.status for a in attempts] == ["failed", "failed", "succeeded"]
    assert {a.gateway_invoice_id for a in attempts} == {invoice_id}
    assert system.get_schedule_item(item_id).status == ItemStatus.PAID
    assert fake.item_invoices[invoice_id]["attempt_count"] == 3
    assert outbox.new_kinds().count("installment.invoiced") == 1
    assert system.get_enrollment(paid_first).status == EnrollmentStatus.ACTIVE


@pytest.mark.parametrize("reverse", [False, True], ids=["as-sent", "reversed"])
def test_invoice_and_payment_webhooks_after_collection_change_nothing_more(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, paid_first: str, reverse: bool
) -> None:
    """finalized, payment_intent.succeeded and invoice.paid, each twice, any order: one payment."""
    clock.set(SECOND_DUE)
    system.collect_due()
    details = system.payment_details(paid_first)

    outcomes = fake.deliver(system, reverse=reverse, times=2)

    types = sorted({o.event_type for o in outcomes})
    assert types == ["invoice.finalized", "invoice.paid", "payment_intent.succeeded"]
    assert {o.result for o in outcomes} <= {"processed", "stale", "duplicate"}
    assert system.payment_details(paid_first) == details


@pytest.mark.parametrize("reverse", [False, True], ids=["invoice-first", "payment-first"])
def test_webhooks_that_arrive_before_collection_recorded_the_answer_settle_the_item_once(
    fake: FakeGateway, clock: FrozenClock, reverse: bool
) -> None:
    """The worker dies after the gateway answered: the invoice's events pay the item, once.

    Both orders: ``invoice.paid`` before ``payment_intent.succeeded`` and
    after it. The invoice's metadata names the attempt, so its events find
    it; the next run sends the same key and records nothing twice.
    """
    system, enrollment_id, item_id, invoice_id = crashed_after_the_answer(fake, clock)

    outcomes = fake.deliver(system, reverse=reverse)

    results = {o.event_type: o.result for o in outcomes}
    assert results["invoice.paid"] == "processed"
    assert results["invoice.finalized"] == "processed"
    item = system.get_schedule_item(item_id)
    assert (item.status, item.gateway_invoice_id) == (ItemStatus.PAID, invoice_id)
    attempt = system.payment_details(enrollment_id).attempts[-1]
    assert attempt.gateway_payment_id == fake.item_invoices[invoice_id]["payment_intent"]
    clock.advance(system.config.lease + timedelta(minutes=1))
    assert system.collect_due().charged == 0  # paid: nothing left to collect
    details = system.payment_details(enrollment_id)
    assert len([p for p in details.payments if p.item_id == item_id]) == 1
    assert len(calls_of(fake, "charge_off_session")) == 1  # the invoice's payment, once
    assert len(fake.charges) == 2  # the first item on-session, then the invoice
    assert list(fake.item_invoices) == [invoice_id]
    kinds = [e.kind for e in system.list_events()]
    assert kinds.count("installment.invoiced") == 1
    assert kinds.count("installment.paid") == 2


def crashed_after_the_answer(
    fake: FakeGateway, clock: FrozenClock
) -> tuple[PaymentSystem, str, str, str]:
    """A system whose worker died once the invoice was paid; its ids and the invoice's."""
    crash = {"armed": False}

    def faults(point: str) -> None:
        if point == "after_gateway_answered" and crash["armed"]:
            crash["armed"] = False
            raise RuntimeError("worker died")

    system = PaymentSystem(store=InMemoryStore(), gateway=fake, clock=clock, ids=SequentialIds(),
                           config=INVOICE, faults=faults)  # fmt: skip
    three = system.register_product(product_type="course", product_id="three", name="Three",
                                    price=usd("300.00"), payment_plan=Installments(3))  # fmt: skip
    enrollment_id = enroll_and_pay(system, fake, three).enrollment_id
    fake.take_events()
    clock.set(SECOND_DUE)
    crash["armed"] = True
    with pytest.raises(RuntimeError, match="worker died"):
        system.collect_due()
    item_id = second_item(system, enrollment_id)
    assert system.get_schedule_item(item_id).gateway_invoice_id is None
    (invoice_id,) = fake.item_invoices
    return system, enrollment_id, item_id, invoice_id


def test_an_invoice_event_that_names_no_payment_links_the_invoice_and_pays_nothing(
    fake: FakeGateway, clock: FrozenClock
) -> None:
    """invoice.paid without its payment (not expanded): linked, left for the payment's event."""
    system, enrollment_id, item_id, invoice_id = crashed_after_the_answer(fake, clock)
    fake.take_events()
    bare = {**fake.item_invoices[invoice_id], "payment_intent": None}

    outcome = system.handle_webhook(*_signed(fake, "invoice.paid", bare))

    assert (outcome.result, outcome.detail) == (
        "processed",
        "invoice linked; its payment is not named yet",
    )
    item = system.get_schedule_item(item_id)
    assert (item.status, item.gateway_invoice_id) == (ItemStatus.PROCESSING, invoice_id)
    assert len(system.payment_details(enrollment_id).payments) == 1  # the first item's only
    other = {**bare, "id": "in_other", "metadata": {}}
    ignored = system.handle_webhook(*_signed(fake, "invoice.finalized", other))
    assert ignored.result == "ignored"


def _signed(
    fake: FakeGateway, event_type: str, obj: dict[str, object]
) -> tuple[bytes, dict[str, str]]:
    hook = fake.webhook(event_type, obj)
    return hook.payload, dict(hook.headers)


def test_drift_re_sync_finds_an_invoiced_payment_in_the_store(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, paid_first: str
) -> None:
    """The invoice's payment intent is the attempt's: the walk reports nothing missing."""
    clock.set(SECOND_DUE)
    system.collect_due()
    clock.advance(hours=1)

    report = system.reconcile()

    assert report.drift.entries == ()
    assert report.in_sync


def test_an_older_tries_late_failure_never_fails_the_try_in_flight(
    fake: FakeGateway, clock: FrozenClock
) -> None:
    """Try 1 declined; try 2 written, its worker dead; try 1's events then: try 2 stays pending."""
    crash = {"armed": False}

    def faults(point: str) -> None:
        if point == "after_attempt_written" and crash["armed"]:
            crash["armed"] = False
            raise RuntimeError("worker died")

    system = PaymentSystem(store=InMemoryStore(), gateway=fake, clock=clock, ids=SequentialIds(),
                           config=INVOICE, faults=faults)  # fmt: skip
    three = system.register_product(product_type="course", product_id="three", name="Three",
                                    price=usd("300.00"), payment_plan=Installments(3))  # fmt: skip
    enrollment_id = enroll_and_pay(system, fake, three).enrollment_id
    fake.take_events()
    fake.script(fake.decline("insufficient_funds"))
    clock.set(SECOND_DUE)
    assert [o.result for o in system.collect_due().outcomes] == ["failed"]
    clock.advance(system.config.retry_policy.delays[0])
    crash["armed"] = True
    with pytest.raises(RuntimeError, match="worker died"):
        system.collect_due()
    item_id = second_item(system, enrollment_id)

    outcomes = fake.deliver(system)

    assert {o.event_type: o.result for o in outcomes} == {
        "invoice.finalized": "processed",
        "payment_intent.payment_failed": "stale",
        "invoice.payment_failed": "stale",
    }
    first, second = [a for a in system.payment_details(enrollment_id).attempts
                     if a.item_id == item_id]  # fmt: skip
    assert (first.status, second.status) == (AttemptStatus.FAILED, AttemptStatus.PENDING)
    assert first.gateway_payment_id is not None
    assert second.gateway_payment_id is None
    clock.advance(system.config.lease + timedelta(minutes=1))
    assert [o.result for o in system.collect_due().outcomes] == ["succeeded"]
    assert system.get_schedule_item(item_id).status == ItemStatus.PAID


def test_a_rate_limited_collection_invoices_through_the_throttle(
    fake: FakeGateway, clock: FrozenClock
) -> None:
    """With gateway_rate_limit the invoice verbs are the wrapped gateway's, each under a token."""
    config = SystemConfig(installment_collection="invoice", gateway_rate_limit=50.0)
    system = PaymentSystem(store=InMemoryStore(), gateway=fake, clock=clock, ids=SequentialIds(),
                           config=config)  # fmt: skip
    three = system.register_product(product_type="course", product_id="three", name="Three",
                                    price=usd("300.00"), payment_plan=Installments(3))  # fmt: skip
    enrollment_id = enroll_and_pay(system, fake, three).enrollment_id
    clock.set(SECOND_DUE)

    assert [o.result for o in system.collect_due().outcomes] == ["succeeded"]

    (call,) = calls_of(fake, "invoice_item")
    item_id = second_item(system, enrollment_id)
    assert call.params["idempotency_key"] == f"item:{item_id}:attempt:1"
    assert system.get_schedule_item(item_id).gateway_invoice_id in fake.item_invoices
