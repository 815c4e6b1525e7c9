"""The gateway contract for disputes: the fake and StripeGateway (over a local Stripe) agree.

The same dispute story on each side emits the same events, parsed to the
same stages, and both refuse to refund a charged-back payment until the
dispute is won.
"""

from __future__ import annotations

from typing import Literal

import pytest

from enrollpay.domain.statuses import DisputeStatus
from enrollpay.errors import GatewayRequestError
from enrollpay.testing import FrozenClock

from .test_gateway_contract import (  # noqa: F401 - clock and side are fixtures
    USD10,
    FakeSide,
    Side,
    StripeSide,
    charge,
    clock,
    side,
)

DSP = DisputeStatus


def open_dispute(on: Side, intent_id: str, *, inquiry: bool = False) -> str:
    """The cardholder disputes the payment at the gateway behind ``on``."""
    if isinstance(on, FakeSide):
        return on.fake.disputes.open(intent_id, inquiry=inquiry)
    assert isinstance(on, StripeSide)
    return on.server.stripe.create_dispute(intent_id, inquiry=inquiry)


def decide(on: Side, dispute_id: str, outcome: Literal["won", "lost"]) -> None:
    """The bank decides the dispute."""
    if isinstance(on, FakeSide):
        on.fake.disputes.close(dispute_id, outcome)
    else:
        assert isinstance(on, StripeSide)
        on.server.stripe.decide_dispute(dispute_id, outcome)


def stages(on: Side, at: FrozenClock) -> list[tuple[str, DisputeStatus | None, str | None]]:
    """The dispute events emitted since the last look: (type, stage, disputed intent)."""
    found = []
    for payload, headers in on.events():
        event = on.gateway.parse_webhook(payload, headers, now=at.now())
        if event.dispute is not None:
            found.append((event.type, event.dispute.status, event.dispute.gateway_payment_id))
    return found


def test_a_chargeback_story_reads_the_same_on_both_gateways(
    side: Side,  # noqa: F811
    clock: FrozenClock,  # noqa: F811
) -> None:
    """created, funds_withdrawn, closed won, funds_reinstated; refunds refused until won."""
    customer = side.customer_with_card("u-1")
    paid = charge(side, customer)
    assert paid.gateway_payment_id is not None
    side.events()
    dispute_id = open_dispute(side, paid.gateway_payment_id)
    assert stages(side, clock) == [
        ("charge.dispute.created", DSP.OPEN, paid.gateway_payment_id),
        ("charge.dispute.funds_withdrawn", DSP.FUNDS_WITHDRAWN, paid.gateway_payment_id),
    ]
    with pytest.raises(GatewayRequestError):
        side.gateway.refund(gateway_payment_id=paid.gateway_payment_id, amount=USD10,
                            idempotency_key="refund:ref_1", reference="ref_1")  # fmt: skip
    decide(side, dispute_id, "won")
    assert stages(side, clock) == [
        ("charge.dispute.closed", DSP.WON, paid.gateway_payment_id),
        ("charge.dispute.funds_reinstated", DSP.WON, paid.gateway_payment_id),
    ]
    refund = side.gateway.refund(gateway_payment_id=paid.gateway_payment_id, amount=USD10,
                                 idempotency_key="refund:ref_2", reference="ref_2")  # fmt: skip
    assert refund.status == "succeeded"


def test_an_inquiry_reads_the_same_and_stays_refundable(
    side: Side,  # noqa: F811
    clock: FrozenClock,  # noqa: F811
) -> None:
    """Created as an inquiry, closed as warning_closed; refunds allowed throughout."""
    customer = side.customer_with_card("u-1")
    paid = charge(side, customer)
    assert paid.gateway_payment_id is not None
    side.events()
    dispute_id = open_dispute(side, paid.gateway_payment_id, inquiry=True)
    refund = side.gateway.refund(gateway_payment_id=paid.gateway_payment_id,
                                 amount=USD10.allocate(2)[0], idempotency_key="refund:ref_1",
                                 reference="ref_1")  # fmt: skip
    assert refund.status == "succeeded"
    decide(side, dispute_id, "won")
    assert [(t, s) for t, s, _ in stages(side, clock)] == [
        ("charge.dispute.created", DSP.INQUIRY),
        ("charge.dispute.closed", DSP.INQUIRY_CLOSED),
    ]
