"""Use case ``reconcile``, drift re-sync of disputes: the fake gateway's disputes against the store.

The dispute webhooks are lost (taken from the fake and never delivered);
``reconcile`` must find each dispute in the gateway's listing and apply it
as the webhooks would have: the dispute recorded or moved on, its events,
access as the dispute policy says. A dispute decided weeks after it opened
is found although the cursor has long passed its creation.
"""

from __future__ import annotations

from datetime import timedelta

from enrollpay import EnrollmentStatus, PaymentSystem
from enrollpay.domain.drift import DriftKind
from enrollpay.domain.records import Product
from enrollpay.domain.statuses import DisputeStatus
from enrollpay.service.drift_report import DriftEntry
from enrollpay.testing import FakeGateway, FrozenClock
from tests.service.conftest import START, usd
from tests.service.usecases.support import Outbox, audited, calls_of, enroll_and_pay, kinds
from tests.service.usecases.test_drift import assert_in_sync_now, gateway_payment_of

DSP, ENR = DisputeStatus, EnrollmentStatus


def lose_webhooks(fake: FakeGateway) -> list[str]:
    """Take the fake's pending events without delivering them; their types."""
    return [e.event_type for e in fake.take_events()]


def test_a_chargeback_whose_webhooks_were_lost_is_recorded_and_suspends(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, full: Product
) -> None:
    """Found in the listing: recorded with its stage, events as the webhooks', access withheld."""
    enrollment_id = enroll_and_pay(system, fake, full).enrollment_id
    clock.advance(days=3)
    dispute_id = fake.disputes.open(gateway_payment_of(system, enrollment_id))
    assert lose_webhooks(fake) == ["charge.dispute.created", "charge.dispute.funds_withdrawn"]
    outbox.mark()

    report = system.reconcile()

    details = system.payment_details(enrollment_id)
    (payment,) = details.payments
    (dispute,) = details.disputes
    assert report.drift.entries == (
        DriftEntry(
            "dispute",
            dispute_id,
            DriftKind.DISPUTE_MISSING,
            usd("299.99"),
            f"{dispute_id} disputes 299.99 USD of payment {payment.id} (funds_withdrawn); "
            "the store has no record of it",
            applied=True,
            change="dispute funds_withdrawn: enrollment suspended",
            enrollment_id=enrollment_id,
        ),
    )
    assert (dispute.gateway_dispute_id, dispute.status, dispute.reported_at) == (
        dispute_id,
        DSP.FUNDS_WITHDRAWN,
        clock.now(),
    )
    assert kinds(outbox.new()) == [
        "payment.disputed",
        "dispute.funds_withdrawn",
        "enrollment.suspended",
        "access.suspended",
    ]
    assert (details.enrollment.status, details.has_access) == (ENR.SUSPENDED, False)
    assert details.disputed == usd("299.99")
    assert [e.actor for e in system.audit_log(entity_type="dispute")] == ["reconcile"]
    assert len(audited(system, dispute_id, "drift.applied")) == 1
    assert (report.drift.fixed, report.drift.open, report.needs_person) == (1, 0, False)
    assert report.drift.scanned["disputes"] == 1
    assert report.drift.cursors["disputes"] == START + timedelta(days=3)
    assert_in_sync_now(system, outbox)


def test_a_dispute_won_weeks_later_with_its_webhooks_lost_is_found_and_restores_access(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, full: Product
) -> None:
    """The cursor passed the dispute's creation long ago: the walk reaches back while undecided."""
    enrollment_id = enroll_and_pay(system, fake, full).enrollment_id
    dispute_id = fake.disputes.open(gateway_payment_of(system, enrollment_id))
    fake.deliver(system)  # these two arrive
    for _ in range(3):  # hourly runs move the cursors on
        clock.advance(hours=1)
        assert system.reconcile().in_sync
    clock.advance(days=40)
    assert system.reconcile().in_sync
    fake.disputes.close(dispute_id, "won")
    assert lose_webhooks(fake) == ["charge.dispute.closed", "charge.dispute.funds_reinstated"]
    outbox.mark()
    since = len(fake.calls)

    report = system.reconcile()

    (entry,) = report.drift.entries
    assert (entry.kind, entry.applied, entry.change) == (
        DriftKind.DISPUTE_MOVED,
        True,
        "dispute won: enrollment completed",
    )
    (listing,) = calls_of(fake, "list_disputes", since)
    opened = system.payment_details(enrollment_id).disputes[0].opened_at
    assert listing.params["since"] == opened - system.config.drift_lookback
    assert kinds(outbox.new()) == ["dispute.won", "enrollment.completed", "access.restored"]
    details = system.payment_details(enrollment_id)
    assert (details.enrollment.status, details.has_access, details.disputed) == (
        ENR.COMPLETED,
        True,
        usd("0"),
    )
    assert_in_sync_now(system, outbox)
    # Decided: the next walk no longer reaches back for it, only to its cursor.
    clock.advance(hours=1)
    since = len(fake.calls)
    after = system.reconcile()
    (listing,) = calls_of(fake, "list_disputes", since)
    cursor = after.drift.cursors["disputes"]
    assert cursor == START
    assert listing.params["since"] == cursor - system.config.drift_overlap


def test_a_lost_dispute_found_by_the_walk_then_its_old_webhooks_change_nothing(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, full: Product
) -> None:
    """Opened and lost, every webhook late: the walk applies ``lost``; the late ones are stale."""
    enrollment_id = enroll_and_pay(system, fake, full).enrollment_id
    dispute_id = fake.disputes.open(gateway_payment_of(system, enrollment_id))
    clock.advance(days=10)
    fake.disputes.close(dispute_id, "lost")
    late = fake.take_events()
    assert [e.event_type for e in late] == [
        "charge.dispute.created",
        "charge.dispute.funds_withdrawn",
        "charge.dispute.closed",
    ]

    (entry,) = system.reconcile().drift.entries

    assert (entry.kind, entry.applied) == (DriftKind.DISPUTE_MISSING, True)
    (dispute,) = system.payment_details(enrollment_id).disputes
    assert dispute.status == DSP.LOST
    outbox.mark()
    before = system.payment_details(enrollment_id)
    outcomes = [system.handle_webhook(e.payload, dict(e.headers)).result for e in late]
    assert outcomes == ["stale", "stale", "stale"]
    assert outbox.new() == []
    assert system.payment_details(enrollment_id) == before
    assert (before.enrollment.status, before.has_access) == (ENR.SUSPENDED, False)


def test_a_dispute_whose_webhooks_arrived_is_in_sync(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, full: Product
) -> None:
    """Nothing lost: the walk lists it and changes nothing."""
    enrollment_id = enroll_and_pay(system, fake, full).enrollment_id
    fake.disputes.open(gateway_payment_of(system, enrollment_id), inquiry=True)
    fake.deliver(system)
    report = assert_in_sync_now(system, outbox)
    assert report.drift.scanned["disputes"] == 1


def test_a_dispute_of_a_payment_that_is_not_ours_is_left_alone(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, full: Product
) -> None:
    """Another product's payment on the same account, disputed: not the library's business."""
    enroll_and_pay(system, fake, full)
    foreign = fake.start_payment(
        customer_id=calls_of(fake, "start_payment")[0].params["customer_id"],
        amount=usd("10.00"),
        idempotency_key="shop-7-order",
        metadata={"order": "shop-7"},
    )
    fake.complete_payment(foreign.gateway_payment_id)
    fake.disputes.open(foreign.gateway_payment_id)
    fake.take_events()
    report = assert_in_sync_now(system, outbox)
    assert report.drift.scanned["disputes"] == 1


def test_a_dispute_in_a_stage_behind_the_store_is_reported_once_for_a_person(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, full: Product
) -> None:
    """The store says won; the gateway lists it under review: never moved back, audited once."""
    enrollment_id = enroll_and_pay(system, fake, full).enrollment_id
    dispute_id = fake.disputes.open(gateway_payment_of(system, enrollment_id))
    fake.deliver(system)
    fake.disputes.submit_evidence(dispute_id)
    fake.take_events()
    # A forged (or mistaken) "won" reaches the store through the same code as a report.
    store_dispute = system.payment_details(enrollment_id).disputes[0]
    fake.disputes.close(dispute_id, "won")
    fake.deliver(system)
    fake.disputes._disputes[dispute_id].status = "under_review"  # the gateway reopened it
    outbox.mark()

    first = system.reconcile()
    second = system.reconcile()

    for report in (first, second):
        (entry,) = report.drift.entries
        assert (entry.kind, entry.applied, report.needs_person) == (
            DriftKind.STATUS_CONFLICT,
            False,
            True,
        )
    assert entry.detail == (
        f"dispute {store_dispute.id} is won in the store but funds_withdrawn "
        "(under_review) at the gateway"
    )
    assert len(audited(system, dispute_id, "drift.reported")) == 1
    assert system.payment_details(enrollment_id).disputes[0].status == DSP.WON
    assert outbox.new() == []
