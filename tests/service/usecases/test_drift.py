"""Use case ``reconcile``, drift re-sync: the fake gateway's record against the store.

Each test makes the store and the gateway disagree the way they do in
production (a webhook lost, a refund made in the dashboard, an object the
library never made), runs ``reconcile``, and checks what it applied (end
state, outbox events), what it reported, the listing calls it made, and that
a second run finds the two in sync.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from enrollpay import EnrollmentStatus, ItemStatus, PaymentSystem
from enrollpay.domain.drift import DriftKind
from enrollpay.domain.records import Product
from enrollpay.service.base import SystemConfig
from enrollpay.service.drift_report import DriftEntry
from enrollpay.service.results import ReconcileReport
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds
from tests.service.conftest import START, usd
from tests.service.usecases.support import (
    SECOND_DUE,
    Outbox,
    audited,
    calls_of,
    enroll_and_pay,
    everything,
    usd_data,
)


def gateway_payment_of(system: PaymentSystem, enrollment_id: str) -> str:
    """The gateway id of the enrollment's only payment."""
    (payment,) = system.payment_details(enrollment_id).payments
    assert payment.gateway_payment_id is not None
    return payment.gateway_payment_id


def access(system: PaymentSystem, enrollment_id: str) -> bool:
    """Whether the student has access now."""
    return system.payment_details(enrollment_id).has_access


def assert_in_sync_now(system: PaymentSystem, outbox: Outbox) -> ReconcileReport:
    """A second run: nothing differs, nothing is written."""
    outbox.mark()
    before = everything(system)
    again = system.reconcile()
    assert again.drift.entries == ()
    assert again.in_sync
    assert not again.needs_person
    assert everything(system) == before
    return again


# -- refunds made in the dashboard -----------------------------------------------------------


def test_a_dashboard_refund_whose_webhook_was_lost_is_recorded_and_access_stays(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, three: Product
) -> None:
    """25.00 of 100.00 paid: recorded as the webhook would have; a partial refund keeps access."""
    enrollment_id = enroll_and_pay(system, fake, three).enrollment_id
    gid = gateway_payment_of(system, enrollment_id)
    clock.advance(days=3)
    made = fake.refund_from_dashboard(gid, usd("25.00"))
    assert [e.event_type for e in fake.take_events()] == ["charge.refunded"]  # lost
    outbox.mark()

    report = system.reconcile()

    (entry,) = report.drift.entries
    (refund,) = system.payment_details(enrollment_id).refunds
    assert entry == DriftEntry(
        "refund",
        made.gateway_refund_id,
        DriftKind.REFUND_MISSING,
        usd("25.00"),
        f"{made.gateway_refund_id} refunded 25.00 USD of payment "
        f"{refund.payment_id} outside the library",
        applied=True,
        change=f"refund {refund.id} recorded (succeeded)",
        enrollment_id=enrollment_id,
    )
    assert (refund.amount, refund.status, refund.gateway_refund_id, refund.actor) == (
        usd("25.00"),
        "succeeded",
        made.gateway_refund_id,
        "reconcile",
    )
    (event,) = outbox.new()
    assert (event.kind, dict(event.data)) == (
        "refund.issued",
        {
            "refund_id": refund.id,
            "payment_id": refund.payment_id,
            "amount": usd_data(2500),
            "method": "gateway",
        },
    )
    assert access(system, enrollment_id)
    assert (report.drift.fixed, report.drift.open, report.in_sync) == (1, 0, False)
    assert [e.action for e in audited(system, made.gateway_refund_id, "drift.applied")] == [
        "drift.applied"
    ]
    assert_in_sync_now(system, outbox)


def test_a_full_dashboard_refund_whose_webhook_was_lost_ends_the_enrollment(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, three: Product
) -> None:
    """Everything paid given back: cancelled as by a cancellation with a full refund; no access."""
    enrollment_id = enroll_and_pay(system, fake, three).enrollment_id
    clock.advance(days=3)
    made = fake.refund_from_dashboard(gateway_payment_of(system, enrollment_id), usd("100.00"))
    fake.take_events()
    outbox.mark()

    (entry,) = system.reconcile().drift.entries

    details = system.payment_details(enrollment_id)
    (refund,) = details.refunds
    assert entry.change == (
        f"refund {refund.id} recorded (succeeded); "
        "enrollment cancelled: everything paid was refunded"
    )
    assert (details.enrollment.status, details.enrollment.cancel_reason) == (
        EnrollmentStatus.CANCELLED,
        "refunded in full at the gateway",
    )
    assert [i.status for i in details.items] == [
        ItemStatus.PAID,
        ItemStatus.CANCELLED,
        ItemStatus.CANCELLED,
    ]
    assert not access(system, enrollment_id)
    assert outbox.new_kinds() == [
        "refund.issued",
        "installment.cancelled",
        "installment.cancelled",
        "enrollment.cancelled",
        "access.revoked",
    ]
    assert made.gateway_refund_id == refund.gateway_refund_id
    assert_in_sync_now(system, outbox)
    clock.set(SECOND_DUE)
    assert system.collect_due().charged == 0  # nothing more is collected


def test_the_webhook_and_the_walk_end_a_full_refund_the_same_way(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, three: Product
) -> None:
    """``charge.refunded`` delivered: the same refund and cancellation, nothing left to walk."""
    enrollment_id = enroll_and_pay(system, fake, three).enrollment_id
    fake.refund_from_dashboard(gateway_payment_of(system, enrollment_id), usd("100.00"))
    outbox.mark()

    (outcome,) = fake.deliver(system)

    assert outcome.result == "processed"
    assert outbox.new_kinds() == [
        "refund.issued",
        "installment.cancelled",
        "installment.cancelled",
        "enrollment.cancelled",
        "access.revoked",
    ]
    assert not access(system, enrollment_id)
    (refund,) = system.payment_details(enrollment_id).refunds
    assert refund.actor == "gateway"
    assert_in_sync_now(system, outbox)


def test_partial_refunds_that_add_up_to_everything_paid_end_the_enrollment_on_the_last(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, three: Product
) -> None:
    """60.00 then 40.00 of 100.00, both webhooks lost: the walk records both, then ends it."""
    enrollment_id = enroll_and_pay(system, fake, three).enrollment_id
    gid = gateway_payment_of(system, enrollment_id)
    first = fake.refund_from_dashboard(gid, usd("60.00"))
    second = fake.refund_from_dashboard(gid, usd("40.00"))
    fake.take_events()

    report = system.reconcile()

    assert [(e.gateway_id, e.kind, e.applied) for e in report.drift.entries] == [
        (second.gateway_refund_id, DriftKind.REFUND_MISSING, True),  # newest first
        (first.gateway_refund_id, DriftKind.REFUND_MISSING, True),
    ]
    assert "enrollment cancelled" in report.drift.entries[1].change
    assert "enrollment cancelled" not in report.drift.entries[0].change
    assert system.get_enrollment(enrollment_id).status == EnrollmentStatus.CANCELLED
    assert_in_sync_now(system, outbox)


def test_our_refund_left_pending_that_the_gateway_made_is_settled(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, three: Product
) -> None:
    """The answer was lost and so was the resend; the walk sees our refund made: succeeded."""
    enrollment_id = enroll_and_pay(system, fake, three).enrollment_id
    (payment,) = system.payment_details(enrollment_id).payments
    fake.script("timeout_after", "timeout_before", verb="refund")
    pending = system.refund_payment(payment.id, usd("30.00"), actor="admin")
    assert (pending.status, pending.gateway_refund_id) == ("pending", None)
    fake.take_events()
    outbox.mark()

    report = system.reconcile()

    assert report.refunds_completed == 0  # the resend timed out before the gateway
    (entry,) = report.drift.entries
    (made,) = fake.refunds_for(str(payment.gateway_payment_id))
    assert (entry.kind, entry.applied, entry.change) == (
        DriftKind.REFUND_SETTLED,
        True,
        f"refund {pending.id} succeeded",
    )
    (refund,) = system.payment_details(enrollment_id).refunds
    assert (refund.id, refund.status, refund.gateway_refund_id) == (
        pending.id,
        "succeeded",
        made.gateway_refund_id,
    )
    assert outbox.new_kinds() == ["refund.issued"]
    assert access(system, enrollment_id)
    assert_in_sync_now(system, outbox)


# -- payments whose webhook was lost -------------------------------------------------------------


def test_a_lost_payment_intent_succeeded_is_found_and_restores_access(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, three: Product
) -> None:
    """Declined off-session, then paid on the gateway's page; the webhook lost: the walk records it.

    ``reconcile`` does not look declined off-session attempts up (a retry is
    planned for them), so only the walk of the gateway's record can see it.
    """
    enrollment_id = enroll_and_pay(system, fake, three).enrollment_id
    fake.script(fake.decline("insufficient_funds"))
    clock.set(SECOND_DUE)
    (declined,) = system.collect_due().outcomes
    assert declined.result == "failed"
    assert system.get_enrollment(enrollment_id).status == EnrollmentStatus.PAST_DUE
    attempt = system.payment_details(enrollment_id).attempts[-1]
    assert attempt.gateway_payment_id is not None
    clock.advance(hours=2)
    fake.complete_payment(attempt.gateway_payment_id, payment_method="pm_card_mastercard")
    assert [e.event_type for e in fake.take_events()] == [
        "payment_intent.payment_failed",
        "payment_intent.succeeded",
    ]
    outbox.mark()

    report = system.reconcile()

    assert report.checked == 0
    (entry,) = report.drift.entries
    assert entry == DriftEntry(
        "payment",
        attempt.gateway_payment_id,
        DriftKind.PAYMENT_MISSING,
        usd("100.00"),
        f"{attempt.gateway_payment_id} took 100.00 USD; the store has attempt {attempt.id} failed",
        applied=True,
        change="payment recorded: item paid, enrollment active",
        enrollment_id=enrollment_id,
    )
    assert outbox.new_kinds() == ["installment.paid", "enrollment.activated"]
    details = system.payment_details(enrollment_id)
    assert [p.gateway_payment_id for p in details.payments][-1] == attempt.gateway_payment_id
    assert details.attempts[-1].status == "succeeded"
    assert access(system, enrollment_id)
    assert_in_sync_now(system, outbox)
    clock.advance(days=1)
    assert system.collect_due().charged == 0  # the planned retry is not made


def test_a_charge_whose_look_up_failed_is_found_by_the_walk(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, three: Product
) -> None:
    """Outcome unknown, look-up timed out: the listing shows it taken with our metadata."""
    enrollment_id = enroll_and_pay(system, fake, three).enrollment_id
    fake.script("timeout_after")
    clock.set(SECOND_DUE)
    (unknown,) = system.collect_due().outcomes
    assert unknown.result == "unknown"
    fake.take_events()
    fake.script("timeout_before", verb="payment_status")

    report = system.reconcile()

    assert (report.checked, report.still_unknown) == (1, 1)
    (entry,) = report.drift.entries
    assert (entry.kind, entry.applied) == (DriftKind.PAYMENT_MISSING, True)
    (charge,) = calls_of(fake, "charge_off_session")
    assert entry.detail.endswith(f"the store has attempt {unknown.attempt_id} unknown")
    attempt = system.payment_details(enrollment_id).attempts[-1]
    assert (attempt.status, attempt.gateway_payment_id) == ("succeeded", entry.gateway_id)
    assert charge.params["idempotency_key"] == attempt.idempotency_key
    assert len(fake.charges) == 2
    assert_in_sync_now(system, outbox)


# -- what needs a person ------------------------------------------------------------------------


def test_a_payment_for_another_amount_is_reported_not_applied(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, three: Product
) -> None:
    """Our attempt's metadata on a 120.00 payment for a 100.00 attempt: left for a person."""
    enrollment_id = enroll_and_pay(system, fake, three).enrollment_id
    fake.script("timeout_before")  # the charge never reached the gateway: no id kept
    clock.set(SECOND_DUE)
    system.collect_due()
    attempt = system.payment_details(enrollment_id).attempts[-1]
    assert attempt.gateway_payment_id is None
    customer = calls_of(fake, "charge_off_session")[0].params["customer_id"]
    odd = fake.start_payment(
        customer_id=customer,
        amount=usd("120.00"),
        idempotency_key="odd",
        metadata={"attempt_id": attempt.id, "enrollment_id": enrollment_id},
    )
    fake.complete_payment(odd.gateway_payment_id)
    fake.take_events()
    outbox.mark()
    before = everything(system)

    report = system.reconcile()

    assert report.resent == 1  # the attempt is sent again later, with its key
    (entry,) = report.drift.entries
    assert entry == DriftEntry(
        "payment",
        odd.gateway_payment_id,
        DriftKind.AMOUNT_MISMATCH,
        usd("120.00"),
        f"{odd.gateway_payment_id} took 120.00 USD; attempt {attempt.id} was for 100.00 USD",
        applied=False,
        enrollment_id=enrollment_id,
    )
    assert (report.needs_person, report.in_sync) == (True, False)
    reported = audited(system, odd.gateway_payment_id, "drift.reported")
    assert [dict(e.data)["kind"] for e in reported] == ["amount_mismatch"]
    assert system.payment_details(enrollment_id).payments == before["payments"][0]
    assert outbox.new() == []
    assert system.reconcile().drift.entries == (entry,)  # still there, still a person's
    assert len(audited(system, odd.gateway_payment_id, "drift.reported")) == 1  # audited once


def test_a_payment_with_our_metadata_that_matches_nothing_is_reported(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, three: Product
) -> None:
    """An attempt id the store never had: unknown object, nothing written but the audit entry."""
    enrollment_id = enroll_and_pay(system, fake, three).enrollment_id
    customer = calls_of(fake, "start_payment")[0].params["customer_id"]
    stray = fake.start_payment(
        customer_id=customer,
        amount=usd("50.00"),
        idempotency_key="s",
        metadata={"attempt_id": "att_gone", "item_id": "itm_gone"},
    )
    fake.complete_payment(stray.gateway_payment_id)
    fake.take_events()
    outbox.mark()

    report = system.reconcile()

    (entry,) = report.drift.entries
    assert (entry.kind, entry.applied, entry.enrollment_id) == (
        DriftKind.UNKNOWN_OBJECT,
        False,
        None,
    )
    assert entry.detail == (
        f"{stray.gateway_payment_id} took 50.00 USD with our metadata (att_gone), "
        "but matches no attempt in the store"
    )
    assert report.needs_person
    assert outbox.new() == []
    assert len(system.payment_details(enrollment_id).payments) == 1


def test_payments_that_are_not_the_librarys_are_left_alone(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, three: Product
) -> None:
    """Another product sold on the same account: listed, counted, not drift."""
    enroll_and_pay(system, fake, three)
    customer = calls_of(fake, "start_payment")[0].params["customer_id"]
    shop = fake.start_payment(
        customer_id=customer,
        amount=usd("9.00"),
        idempotency_key="shop",
        metadata={"order": "shop-17"},
    )
    fake.complete_payment(shop.gateway_payment_id)
    fake.refund_from_dashboard(shop.gateway_payment_id, usd("9.00"))
    fake.take_events()

    report = assert_in_sync_now(system, outbox)

    assert report.drift.scanned == {"payments": 2, "refunds": 1, "disputes": 0}


# -- the cursor ----------------------------------------------------------------------------------


def test_the_walk_reads_from_the_look_back_then_from_the_cursor_less_the_overlap(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three: Product
) -> None:
    """First run: the last 30 days; then: from the newest object seen, an hour before it."""
    enroll_and_pay(system, fake, three)  # the checkout's payment, made at START
    clock.advance(days=2)

    first = system.reconcile()

    listings = calls_of(fake, "list_payments")
    assert [c.params["since"] for c in listings] == [START + timedelta(days=2) - timedelta(days=30)]
    assert first.drift.cursors == {"payments": START, "refunds": None, "disputes": None}
    clock.advance(days=5)
    since = len(fake.calls)

    second = system.reconcile()

    (listing,) = calls_of(fake, "list_payments", since)
    assert listing.params["since"] == START - timedelta(hours=1)
    assert second.drift.cursors == first.drift.cursors
    assert second.drift.scanned == {"payments": 1, "refunds": 0, "disputes": 0}


def test_the_overlap_and_look_back_are_settings(clock: FrozenClock) -> None:
    """``drift_overlap`` and ``drift_lookback`` move where the walks start."""
    fake = FakeGateway(clock=clock)
    config = SystemConfig(drift_overlap=timedelta(minutes=5), drift_lookback=timedelta(days=2))
    system = PaymentSystem(
        store=InMemoryStore(), gateway=fake, clock=clock, config=config, ids=SequentialIds()
    )
    product = system.register_product(
        product_type="c", product_id="c", name="C", price=usd("10.00")
    )
    enroll_and_pay(system, fake, product)
    system.reconcile()
    system.reconcile()
    assert [c.params["since"] for c in calls_of(fake, "list_payments")] == [
        START - timedelta(days=2),
        START - timedelta(minutes=5),
    ]


def test_a_listing_cut_short_leaves_its_cursor_and_the_next_run_applies_nothing_twice(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, three: Product
) -> None:
    """Refunds time out: payments' cursor moves, refunds' does not; the next run completes it."""
    enrollment_id = enroll_and_pay(system, fake, three).enrollment_id
    fake.refund_from_dashboard(gateway_payment_of(system, enrollment_id), usd("10.00"))
    fake.take_events()
    fake.script("timeout_before", verb="list_refunds")

    cut = system.reconcile()

    assert cut.drift.incomplete == ("refunds",)
    assert cut.drift.cursors == {"payments": START, "refunds": None, "disputes": None}
    assert (cut.in_sync, cut.needs_person) == (False, False)
    assert system.payment_details(enrollment_id).refunds == ()

    done = system.reconcile()

    assert [e.kind for e in done.drift.entries] == [DriftKind.REFUND_MISSING]
    assert done.drift.cursors == {"payments": START, "refunds": START, "disputes": None}
    assert len(system.payment_details(enrollment_id).refunds) == 1
    assert_in_sync_now(system, outbox)


def test_without_a_gateway_that_lists_its_record_nothing_is_walked(
    clock: FrozenClock,
) -> None:
    """A gateway without the capability: the report says nothing was listed."""

    class Plain:
        """The fake without its listing verbs (the Gateway port only)."""

        def __init__(self, inner: FakeGateway) -> None:
            self._inner = inner
            self.name = "plain"

        def __getattr__(self, name: str) -> object:
            if name in ("list_payments", "list_refunds"):
                raise AttributeError(name)
            return getattr(self._inner, name)

    system = PaymentSystem(
        store=InMemoryStore(),
        gateway=Plain(FakeGateway(clock=clock)),  # type: ignore[arg-type]
        clock=clock,
    )
    report = system.reconcile()
    assert (report.drift.listed, report.drift.scanned, report.in_sync) == (False, {}, True)


@pytest.mark.parametrize("refunded", ["99.99", "100.00"])
def test_only_a_refund_of_everything_paid_ends_access(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, three: Product, refunded: str
) -> None:
    """One cent short keeps the enrollment; the whole payment ends it."""
    enrollment_id = enroll_and_pay(system, fake, three).enrollment_id
    fake.refund_from_dashboard(gateway_payment_of(system, enrollment_id), usd(refunded))
    fake.take_events()

    system.reconcile()

    ended = refunded == "100.00"
    assert access(system, enrollment_id) is not ended
    status = system.get_enrollment(enrollment_id).status
    assert status == (EnrollmentStatus.CANCELLED if ended else EnrollmentStatus.ACTIVE)
