"""The service asks gateways for optional capabilities with ``isinstance``, never ``getattr``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import attrs
import pytest

from enrollpay import PaymentSystem
from enrollpay.domain.records import Product
from enrollpay.errors import WebhookSignatureError
from enrollpay.ports import GatewayEvent, Store
from enrollpay.testing import FakeGateway, FrozenClock


def with_subscription(
    system: PaymentSystem,
    store: Store,
    fake: FakeGateway,
    course: Product,
    subscription_id: str | None = None,
) -> str:
    """Enroll u-1 and link the enrollment to a gateway subscription; return its id."""
    result = system.enroll(user_id="u-1", product_id=course.id)
    with store.transaction() as tx:
        enrollment = tx.get_enrollment(result.enrollment_id)
        assert enrollment is not None
        if subscription_id is None:
            customer_id = fake.ensure_customer("u-1", idempotency_key="customer:u-1:billing")
            subscription_id = fake.create_subscription(
                customer_id=customer_id,
                price_id="price_monthly",
                idempotency_key="sub:u-1",
            ).subscription_id
        tx.update_enrollment(attrs.evolve(enrollment, gateway_subscription_id=subscription_id))
    fake.take_events()
    return result.enrollment_id


def test_cancelling_an_enrollment_cancels_its_subscription_at_the_gateway(
    system: PaymentSystem, store: Store, fake: FakeGateway, course: Product
) -> None:
    """The fake is a SubscriptionGateway, so the service cancels the subscription there."""
    enrollment_id = with_subscription(system, store, fake, course)

    system.cancel_enrollment(enrollment_id, reason="moved away", actor="admin")

    (call,) = [c for c in fake.calls if c.verb == "cancel_subscription"]
    assert call.params["idempotency_key"] == f"cancel-subscription:{enrollment_id}"
    assert [hook.event_type for hook in fake.take_events()].count(
        "customer.subscription.deleted"
    ) == 1


def test_a_subscription_the_gateway_refuses_to_cancel_is_audited(
    system: PaymentSystem, store: Store, fake: FakeGateway, course: Product
) -> None:
    """A refused gateway cancel does not undo the cancellation; the audit trail says so."""
    enrollment_id = with_subscription(system, store, fake, course, subscription_id="sub_unknown")

    result = system.cancel_enrollment(enrollment_id, reason="moved away", actor="admin")

    assert result.enrollment.status == "cancelled"
    actions = [entry.action for entry in system.audit_log(entity_id=enrollment_id)]
    assert "subscription.cancel_failed" in actions


class _ModeBlindFake(FakeGateway):
    """A fake whose parser reports every event as live without checking the mode."""

    def parse_webhook(
        self, payload: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> GatewayEvent:
        """Parse, then claim live mode."""
        return attrs.evolve(super().parse_webhook(payload, headers, now=now), livemode=True)


def test_the_service_refuses_an_event_from_the_other_mode(store: Store, clock: FrozenClock) -> None:
    """A LivemodeAware gateway in test mode never has a live event applied."""
    fake = _ModeBlindFake(clock=clock)
    system = PaymentSystem(store=store, gateway=fake, clock=clock)
    hook = fake.webhook("customer.created", {"id": "cus_x", "object": "customer"})

    with pytest.raises(WebhookSignatureError, match="livemode"):
        system.handle_webhook(hook.payload, hook.headers)
