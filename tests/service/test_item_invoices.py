"""Installments collected as invoices of the fake gateway, on every store kind.

The use-case tests (``tests/service/usecases/test_invoicing.py``) assert
the behaviour on the in-memory store; this runs the whole story on the
in-memory store, SQLite and PostgreSQL: a decline, a retry paying the same
invoice, every webhook twice in reverse order, and drift re-sync in sync.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from enrollpay import AttemptStatus, Installments, ItemStatus, PaymentSystem, SystemConfig
from enrollpay.ports import Store
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds
from tests.service.conftest import usd
from tests.service.usecases.support import SECOND_DUE, enroll_and_pay


@pytest.fixture
def system(store: Store, fake: FakeGateway, clock: FrozenClock) -> Iterator[PaymentSystem]:
    """The facade collecting installments as invoices."""
    made = PaymentSystem(store=store, gateway=fake, clock=clock, ids=SequentialIds(),
                         config=SystemConfig(installment_collection="invoice"))  # fmt: skip
    yield made
    assert made.verify_audit_chain().ok


def test_a_declined_invoice_is_retried_on_itself_and_paid_once(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock
) -> None:
    """One invoice, two tries, one payment; links stored; late webhooks change nothing."""
    product = system.register_product(
        product_type="course", product_id="three", name="3", price=usd("300.00"),
        payment_plan=Installments(3),
    )  # fmt: skip
    enrollment_id = enroll_and_pay(system, fake, product).enrollment_id
    fake.take_events()
    fake.script(fake.decline("insufficient_funds"))
    clock.set(SECOND_DUE)
    assert [o.result for o in system.collect_due().outcomes] == ["failed"]
    clock.advance(system.config.retry_policy.delays[0])
    assert [o.result for o in system.collect_due().outcomes] == ["succeeded"]

    (invoice_id,) = fake.item_invoices
    item_id = system.list_schedule_items(enrollment_id=enrollment_id)[1].id
    item = system.get_schedule_item(item_id)
    page = fake.item_invoices[invoice_id]["hosted_invoice_url"]
    assert (item.status, item.gateway_invoice_id, item.hosted_invoice_url) == (
        ItemStatus.PAID,
        invoice_id,
        page,
    )
    details = system.payment_details(enrollment_id)
    tries = [a for a in details.attempts if a.item_id == item_id]
    assert [(a.status, a.gateway_invoice_id, a.hosted_invoice_url) for a in tries] == [
        (AttemptStatus.FAILED, invoice_id, page),
        (AttemptStatus.SUCCEEDED, invoice_id, page),
    ]
    results = fake.deliver(system, reverse=True, times=2)
    assert {r.result for r in results} <= {"processed", "stale", "duplicate"}
    assert system.payment_details(enrollment_id) == details
    assert len([p for p in details.payments if p.item_id == item_id]) == 1
    clock.advance(hours=1)
    assert system.reconcile().drift.entries == ()
