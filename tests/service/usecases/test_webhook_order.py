"""Use case ``handle_webhook``: an event about a payment that arrives before the payment.

A refund or a dispute can only exist once its payment succeeded at the
gateway, so when one arrives while our attempt is still waiting for that
success, the success is on its way: the event is ``deferred`` (nothing
recorded, not even its id) and the gateway's redelivery applies it.
"""

from __future__ import annotations

import pytest

from enrollpay import PaymentSystem
from enrollpay.domain.records import Product
from enrollpay.ports import Store
from enrollpay.testing import FakeGateway, SignedWebhook
from tests.service.conftest import usd
from tests.service.usecases.support import Outbox, kinds


def _checkout_paid_at_gateway(system: PaymentSystem, fake: FakeGateway, product: Product) -> str:
    """u-1's first installment succeeded at the gateway; its webhook is not delivered yet."""
    result = system.enroll(user_id="u-1", product_id=product.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret)
    (attempt,) = system.payment_details(result.enrollment_id).attempts
    assert attempt.gateway_payment_id is not None
    return attempt.gateway_payment_id


def _split(fake: FakeGateway) -> tuple[SignedWebhook, list[SignedWebhook]]:
    success, *rest = fake.take_events()
    assert success.event_type == "payment_intent.succeeded"
    return success, rest


def _receipts(store: Store, event_id: str) -> bool:
    with store.transaction() as tx:
        return tx.get_webhook_receipt(event_id) is not None


def test_a_refund_ahead_of_its_payment_is_deferred_then_applied_when_redelivered(
    system: PaymentSystem, store: Store, fake: FakeGateway, outbox: Outbox, three: Product
) -> None:
    """deferred, nothing written; after the success, the same delivery records the refund."""
    intent = _checkout_paid_at_gateway(system, fake, three)
    fake.refund_from_dashboard(intent, usd("25.00"))
    success, (refund_hook,) = _split(fake)
    outbox.mark()

    early = system.handle_webhook(refund_hook.payload, refund_hook.headers)

    assert (early.result, early.detail) == (
        "deferred",
        "refund of a payment whose success has not arrived yet",
    )
    assert outbox.new() == []
    assert not _receipts(store, refund_hook.event_id)
    assert system.handle_webhook(success.payload, success.headers).result == "processed"
    again = system.handle_webhook(refund_hook.payload, refund_hook.headers)
    assert (again.result, again.detail) == ("processed", "1 refund(s) updated")
    assert kinds(outbox.new()) == [
        "installment.paid",
        "enrollment.activated",
        "access.granted",
        "refund.issued",
    ]
    details = system.payment_details(system.list_enrollments()[0].id)
    (refund,) = details.refunds
    assert (refund.amount, refund.status, refund.actor) == (usd("25.00"), "succeeded", "gateway")
    assert system.handle_webhook(refund_hook.payload, refund_hook.headers).result == "duplicate"


def test_a_dispute_ahead_of_its_payment_is_deferred_then_applied_when_redelivered(
    system: PaymentSystem, store: Store, fake: FakeGateway, outbox: Outbox, three: Product
) -> None:
    """The same for a chargeback opened before the success reached us."""
    intent = _checkout_paid_at_gateway(system, fake, three)
    dispute_id = fake.disputes.open(intent)
    success, dispute_hooks = _split(fake)  # created, then funds_withdrawn

    early = [system.handle_webhook(h.payload, h.headers) for h in dispute_hooks]

    assert [(o.event_type, o.result, o.detail) for o in early] == [
        (t, "deferred", "dispute of a payment whose success has not arrived yet")
        for t in ("charge.dispute.created", "charge.dispute.funds_withdrawn")
    ]
    assert system.list_disputes() == []
    assert not any(_receipts(store, h.event_id) for h in dispute_hooks)
    assert system.handle_webhook(success.payload, success.headers).result == "processed"
    late = [system.handle_webhook(h.payload, h.headers) for h in dispute_hooks]
    assert [o.result for o in late] == ["processed", "processed"]
    (dispute,) = system.list_disputes()
    assert (dispute.gateway_dispute_id, dispute.status) == (dispute_id, "funds_withdrawn")


@pytest.mark.parametrize("event_type", ["charge.refunded", "charge.dispute.created"])
def test_an_event_about_a_payment_that_is_not_ours_is_still_ignored(
    system: PaymentSystem, fake: FakeGateway, three: Product, event_type: str
) -> None:
    """Deferring is only for our own attempts: an unknown intent stays ``ignored``."""
    _checkout_paid_at_gateway(system, fake, three)
    obj = {
        "id": "x_1", "object": "charge", "amount": 100, "currency": "usd", "charge": "ch_x",
        "payment_intent": "pi_someone_elses", "status": "needs_response", "reason": "general",
        "refunds": {"data": []}, "evidence_details": {"due_by": None},
        "balance_transactions": [], "metadata": {},
    }  # fmt: skip
    hook = fake.webhook(event_type, obj)
    assert system.handle_webhook(hook.payload, hook.headers).result == "ignored"
