"""Dispute webhooks racing on PostgreSQL: one dispute, each stage announced once.

Three receivers (each its own :class:`PaymentSystem` over its own
:class:`SqlStore`, as three web workers would be) get every event of one
dispute, each in its own shuffled order, at the same moment. Stripe may
deliver the events of one dispute to several workers at once, and the
same event again. Whatever the interleaving: one dispute record in its
final stage, ``payment.disputed`` and the final stage's event once each,
every event applied by exactly one receiver, access restored as often as
it was suspended, and the audit chain intact.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator

import pytest

from enrollpay import EnrollmentStatus, Money, PaymentSystem
from enrollpay.domain.statuses import DisputeStatus
from enrollpay.gateways.fake import SignedWebhook
from enrollpay.storage.sql import SqlStore
from enrollpay.testing import FakeGateway, FrozenClock

from .test_pg_races import START, Ran, run_together

pytestmark = pytest.mark.postgres

ROUNDS = 4
RECEIVERS = 3


@pytest.fixture
def stores(pg_url: str) -> Iterator[list[SqlStore]]:
    """One store (its own pool) per receiver, and one for the set-up, on one database."""
    made = [SqlStore.from_url(pg_url) for _ in range(RECEIVERS + 1)]
    yield made
    for store in made:
        store.close()


def receive(system: PaymentSystem, hooks: list[SignedWebhook]) -> list[str]:
    """Handle ``hooks`` in order; the result of each."""
    return [system.handle_webhook(h.payload, h.headers).result for h in hooks]


@pytest.mark.parametrize("outcome", ["won", "lost"])
def test_a_dispute_delivered_to_three_workers_at_once_is_applied_once(
    stores: list[SqlStore], outcome: str
) -> None:
    """Every event once processed or stale across workers; one dispute; events once."""
    clock = FrozenClock(START)
    fake = FakeGateway(clock=clock)
    admin, *workers = [PaymentSystem(store=s, gateway=fake, clock=clock) for s in stores]
    product = admin.register_product(product_type="course", product_id="c", name="C",
                                     price=Money.of("120.00", "USD"))  # fmt: skip
    rng = random.Random(7)  # noqa: S311 - reproducible shuffles, not secrets
    for n in range(ROUNDS):
        enrolled = admin.enroll(user_id=f"u-{outcome}-{n}", product_id=product.id)
        assert enrolled.client_secret is not None
        fake.complete_payment(enrolled.client_secret)
        fake.deliver(admin)
        (payment,) = admin.payment_details(enrolled.enrollment_id).payments
        assert payment.gateway_payment_id is not None
        since = len(admin.list_events())
        dispute_id = fake.disputes.open(payment.gateway_payment_id)
        fake.disputes.submit_evidence(dispute_id)
        fake.disputes.close(dispute_id, outcome)  # type: ignore[arg-type]
        hooks = fake.take_events()
        orders = [rng.sample(hooks, len(hooks)) for _ in workers]

        ran: list[Ran] = run_together(
            *[lambda w=w, o=o: receive(w, o) for w, o in zip(workers, orders, strict=True)]
        )

        assert [r.error for r in ran] == [None] * RECEIVERS
        applied = Counter(
            hook.event_id
            for order, result in zip(orders, ran, strict=True)
            for hook, answer in zip(order, result.value, strict=True)  # type: ignore[call-overload]
            if answer != "duplicate"
        )
        assert applied == Counter({hook.event_id: 1 for hook in hooks})
        details = admin.payment_details(enrolled.enrollment_id)
        (dispute,) = details.disputes
        assert dispute.status == DisputeStatus(outcome)
        kinds = Counter(e.kind for e in admin.list_events()[since:])
        assert (kinds["payment.disputed"], kinds[f"dispute.{outcome}"]) == (1, 1)
        if outcome == "won":
            assert details.enrollment.status == EnrollmentStatus.COMPLETED
            assert kinds["access.suspended"] == kinds["access.restored"]
        else:
            assert details.enrollment.status == EnrollmentStatus.SUSPENDED
            assert (kinds["access.suspended"], kinds["access.restored"]) == (1, 0)
    assert admin.verify_audit_chain().ok
