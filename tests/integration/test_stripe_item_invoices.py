"""Installments collected as Stripe invoices, end to end over HTTP.

PaymentSystem on SQLite with ``installment_collection="invoice"``,
StripeGateway on the official SDK, and the local Stripe stand-in answering
invoices, invoice items, finalize, pay and retrieve as Stripe documents
(the invoice's PaymentIntent under its includable ``payments``; one
PaymentIntent per invoice, confirmed again on each try). Webhooks are the
stand-in's, signed as Stripe signs them and verified by the SDK.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest

from enrollpay import (
    AttemptStatus,
    EnrollmentStatus,
    Installments,
    ItemStatus,
    Money,
    PaymentSystem,
    SystemConfig,
)
from enrollpay.clock import SystemClock
from enrollpay.gateways.stripe import StripeGateway
from enrollpay.ports import ItemInvoiceGateway
from enrollpay.storage.sql import SqlStore
from enrollpay.testing import FrozenClock, SequentialIds
from tests.support.stripe_server import StripeServer, isolate_sdk_config, running_server

INVOICES = "/v1/invoices"
DUE = datetime(2027, 2, 4, 9, 0, tzinfo=UTC)


@attrs.frozen
class World:
    """The system under test and the Stripe it talks to."""

    system: PaymentSystem
    server: StripeServer
    clock: FrozenClock
    enrollment_id: str
    store: SqlStore


def _world(tmp_path: Path, server: StripeServer, clock: FrozenClock, **options: object) -> World:
    store = SqlStore.from_url(f"sqlite:///{tmp_path / 'school.db'}")
    system = PaymentSystem(store=store, gateway=server.gateway(), clock=clock, ids=SequentialIds(),
                           config=SystemConfig(installment_collection="invoice"),
                           **options)  # type: ignore[arg-type]  # fmt: skip
    product = system.register_product(product_type="course", product_id="react", name="React",
                                      price=Money.of("300.00", "USD"),
                                      payment_plan=Installments(3))  # fmt: skip
    result = system.enroll(user_id="u-1", product_id=product.id)
    (intent,) = server.stripe.intents.values()
    server.stripe.complete_payment(intent["id"], payment_method="pm_card_visa")
    assert deliver(system, server) == ["processed"]
    return World(system, server, clock, result.enrollment_id, store)


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[World]:
    """3 x 100.00 USD, the first paid in the browser; the second falls due on DUE."""
    isolate_sdk_config(monkeypatch, tmp_path)
    clock = FrozenClock(datetime(2027, 1, 4, 9, 0, tzinfo=UTC))
    with running_server(clock=clock.now, signing_clock=SystemClock().now) as server:
        made = _world(tmp_path, server, clock)
        yield made
        assert made.system.verify_audit_chain().ok
        made.store.close()


def deliver(system: PaymentSystem, server: StripeServer, *, reverse: bool = False) -> list[str]:
    """Send every event Stripe emitted (oldest first, or newest first) to the system."""
    events = server.stripe.take_events()
    return [system.handle_webhook(e.payload, dict(e.headers)).result
            for e in (reversed(events) if reverse else events)]  # fmt: skip


def second_item(world: World) -> str:
    """The id of the enrollment's second item."""
    return world.system.list_schedule_items(enrollment_id=world.enrollment_id)[1].id


def test_the_stripe_gateway_invoices_items() -> None:
    """StripeGateway has the capability (isinstance, as the service asks)."""
    assert issubclass(StripeGateway, ItemInvoiceGateway)


def test_an_installment_is_invoiced_finalized_and_paid_with_keys_from_its_attempt(
    world: World,
) -> None:
    """Four requests, each keyed from attempt 1's key; item and attempt keep invoice and page."""
    system, server = world.system, world.server
    world.clock.set(DUE)

    (outcome,) = system.collect_due().outcomes

    item_id = second_item(world)
    key = f"item:{item_id}:attempt:1"
    assert outcome.result == "succeeded"
    (created,) = server.requests_to("POST", INVOICES)
    assert created.idempotency_key == f"{key}:invoice"
    assert {name: created.param(name) for name in (
        "customer", "currency", "collection_method", "auto_advance",
        "pending_invoice_items_behavior", "default_payment_method", "metadata[item_id]",
        "metadata[attempt_id]")} == {
        "customer": next(iter(server.stripe.customers)), "currency": "usd",
        "collection_method": "charge_automatically", "auto_advance": "false",
        "pending_invoice_items_behavior": "exclude", "default_payment_method": "pm_card_visa",
        "metadata[item_id]": item_id, "metadata[attempt_id]": outcome.attempt_id,
    }  # fmt: skip
    (invoice_id,) = server.stripe.invoices
    (line,) = server.requests_to("POST", "/v1/invoiceitems")
    assert (line.idempotency_key, line.param("invoice"), line.param("amount")) == (
        f"{key}:line",
        invoice_id,
        "10000",
    )
    (finalized,) = server.requests_to("POST", f"{INVOICES}/{invoice_id}/finalize")
    assert (finalized.idempotency_key, finalized.param("expand[0]")) == (f"{key}:finalize",
                                                                          "payments")  # fmt: skip
    (paid,) = server.requests_to("POST", f"{INVOICES}/{invoice_id}/pay")
    assert (paid.idempotency_key, paid.param("off_session")) == (f"{key}:pay", "true")
    invoice = server.stripe.invoices[invoice_id]
    assert invoice["status"] == "paid"
    attempt = system.payment_details(world.enrollment_id).attempts[-1]
    assert (attempt.gateway_invoice_id, attempt.gateway_payment_id, attempt.hosted_invoice_url) == (
        invoice_id,
        invoice["payment_intent_id"],
        invoice["hosted_invoice_url"],
    )
    item = system.get_schedule_item(item_id)
    assert (item.status, item.gateway_invoice_id, item.hosted_invoice_url) == (
        ItemStatus.PAID,
        invoice_id,
        invoice["hosted_invoice_url"],
    )
    (event,) = [e for e in system.list_events() if e.kind == "installment.invoiced"]
    assert event.data["hosted_invoice_url"] == invoice["hosted_invoice_url"]
    assert event.data["payment_intent_id"] == invoice["payment_intent_id"]


@pytest.mark.parametrize("reverse", [False, True], ids=["as-sent", "reversed"])
def test_a_declined_invoice_is_paid_again_and_its_events_settle_nothing_twice(
    world: World, reverse: bool
) -> None:
    """Declined, retried a day later on the same invoice and PaymentIntent; webhooks after.

    Stripe confirms the invoice's one PaymentIntent again: its id moves to
    the newest attempt. Every event (finalized, failed, paid, the
    payment_intent ones), in either order, leaves one payment; drift
    re-sync finds the store in agreement.
    """
    system, server, clock = world.system, world.server, world.clock
    server.stripe.script_charge("insufficient_funds")
    clock.set(DUE)
    (declined,) = system.collect_due().outcomes
    assert declined.result == "failed"
    item_id = second_item(world)
    (invoice_id,) = server.stripe.invoices
    intent_id = server.stripe.invoices[invoice_id]["payment_intent_id"]
    first = system.payment_details(world.enrollment_id).attempts[-1]
    assert (first.status, first.gateway_payment_id, first.decline_code) == (
        AttemptStatus.FAILED,
        intent_id,
        "insufficient_funds",
    )
    assert system.get_enrollment(world.enrollment_id).status == EnrollmentStatus.PAST_DUE

    clock.advance(days=1)
    (retried,) = system.collect_due().outcomes

    assert retried.result == "succeeded"
    assert list(server.stripe.invoices) == [invoice_id]
    pays = server.requests_to("POST", f"{INVOICES}/{invoice_id}/pay")
    assert [p.idempotency_key for p in pays] == [
        f"item:{item_id}:attempt:1:pay",
        f"item:{item_id}:attempt:2:pay",
    ]
    attempts = [a for a in system.payment_details(world.enrollment_id).attempts
                if a.item_id == item_id]  # fmt: skip
    assert [(a.status, a.gateway_payment_id, a.gateway_invoice_id) for a in attempts] == [
        (AttemptStatus.FAILED, None, invoice_id),
        (AttemptStatus.SUCCEEDED, intent_id, invoice_id),
    ]
    before = system.payment_details(world.enrollment_id)

    results = deliver(system, server, reverse=reverse)

    assert set(results) <= {"processed", "stale", "ignored"}
    after = system.payment_details(world.enrollment_id)
    assert after.payments == before.payments
    assert [p.gateway_payment_id for p in after.payments if p.item_id == item_id] == [intent_id]
    assert system.get_schedule_item(item_id).status == ItemStatus.PAID
    assert system.get_enrollment(world.enrollment_id).status == EnrollmentStatus.ACTIVE
    clock.advance(hours=1)
    report = system.reconcile()
    assert report.drift.entries == ()
    assert report.in_sync


@pytest.mark.parametrize("reverse", [False, True], ids=["invoice-first", "payment-first"])
def test_events_before_collection_recorded_the_answer_pay_the_item_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, reverse: bool
) -> None:
    """The worker dies once Stripe answered: invoice.paid (named attempt) settles it, once."""
    isolate_sdk_config(monkeypatch, tmp_path)
    clock = FrozenClock(datetime(2027, 1, 4, 9, 0, tzinfo=UTC))
    crash = {"armed": False}

    def faults(point: str) -> None:
        if point == "after_gateway_answered" and crash["armed"]:
            crash["armed"] = False
            raise RuntimeError("worker died")

    with running_server(clock=clock.now, signing_clock=SystemClock().now) as server:
        world = _world(tmp_path, server, clock, faults=faults)
        system = world.system
        clock.set(DUE)
        crash["armed"] = True
        with pytest.raises(RuntimeError, match="worker died"):
            system.collect_due()
        item_id = second_item(world)
        assert system.get_schedule_item(item_id).status == ItemStatus.PROCESSING

        results = deliver(system, server, reverse=reverse)

        assert "processed" in results
        item = system.get_schedule_item(item_id)
        (invoice_id,) = server.stripe.invoices
        assert (item.status, item.gateway_invoice_id) == (ItemStatus.PAID, invoice_id)
        clock.advance(system.config.lease)
        clock.advance(minutes=1)
        assert system.collect_due().charged == 0
        payments = system.payment_details(world.enrollment_id).payments
        intent_id = server.stripe.invoices[invoice_id]["payment_intent_id"]
        assert [p.gateway_payment_id for p in payments if p.item_id == item_id] == [intent_id]
        assert system.verify_audit_chain().ok
        world.store.close()
