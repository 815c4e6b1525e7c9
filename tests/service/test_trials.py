"""Trials with a card, as scenarios on every store (memory, SQLite, PostgreSQL).

Issue 16, item 6: a trial subscription opens a setup flow (a SetupIntent)
at enrollment and waits, without access, until the card is saved; it is
then active with access for the trial, and the first period is charged
off-session with the saved card when the trial ends. A trial whose card
never comes follows the usual rules: nothing is charged, the period falls
overdue, and saving a card later collects the arrears oldest first. Each
asserts the end state, the outbox events and the fake gateway's request log.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from enrollpay import Interval, Money, PaymentSystem, Subscription
from enrollpay.domain.lifecycle import EnrollmentStatus, ItemStatus
from enrollpay.domain.records import Product
from enrollpay.testing import FakeGateway, FrozenClock

#: 2027-03-15 plus the 14 days of the trial: the first period falls due.
TRIAL_END = date(2027, 3, 29)


def club(system: PaymentSystem) -> Product:
    """A 20.00 USD monthly membership with a 14-day trial."""
    return system.register_product(
        product_type="membership",
        product_id="club",
        name="Club",
        price=Money.of("20", "USD"),
        payment_plan=Subscription(Interval.months(1), trial_days=14),
    )


def calls(fake: FakeGateway, since: int = 0) -> list[tuple[str, dict[str, Any]]]:
    """The fake's request log from ``since``: (verb, params)."""
    return [(c.verb, dict(c.params)) for c in fake.calls[since:]]


def kinds_since(system: PaymentSystem, mark: int) -> list[str]:
    """The kinds of the outbox events written after the first ``mark``."""
    return [e.kind for e in system.list_events()[mark:]]


def morning(clock: FrozenClock, day: date) -> None:
    """Move the clock to 09:00 UTC on ``day``."""
    clock.set(clock.now().replace(year=day.year, month=day.month, day=day.day))


def test_trial_with_a_saved_card(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock
) -> None:
    """Setup at enrollment; card saved: active with access; first period charged off-session."""
    result = system.enroll(user_id="u-1", product_id=club(system).id)
    enrollment_id = result.enrollment_id
    first = result.schedule[0]
    assert first.due == TRIAL_END

    # Enrolled: pending without access, the setup flow's secret for the page.
    waiting = system.get_enrollment(enrollment_id)
    assert (waiting.status, waiting.awaiting_payment_method) == (
        EnrollmentStatus.PENDING_PAYMENT,
        True,
    )
    assert not system.has_access(waiting)
    assert result.setup_client_secret is not None
    assert result.client_secret is None
    assert kinds_since(system, 0) == ["enrollment.created"]
    assert calls(fake) == [
        ("ensure_customer", {"user_id": "u-1", "idempotency_key": "customer:u-1"}),
        (
            "start_payment_method_update",
            {
                "customer_id": "cus_fake_000001",
                "idempotency_key": f"setup:enrollment:{enrollment_id}",
                "metadata": {"enrollment_id": enrollment_id},
            },
        ),
    ]

    # The student confirms the card; the webhook comes twice, then the page's own call.
    fake.complete_setup(result.setup_client_secret, payment_method="pm_card_visa")
    outcomes = fake.deliver(system, times=2)
    assert [o.result for o in outcomes] == ["processed", "duplicate"]
    assert system.update_payment_method("u-1", "pm_card_visa") == []
    trial = system.get_enrollment(enrollment_id)
    assert (trial.status, trial.awaiting_payment_method) == (EnrollmentStatus.ACTIVE, False)
    assert system.has_access(trial)
    events = system.list_events()
    assert [(e.kind, e.enrollment_id) for e in events[1:]] == [
        ("enrollment.activated", enrollment_id),
        ("access.granted", enrollment_id),
    ]
    assert dict(events[1].data) == {"from": "pending_payment", "to": "active"}

    # Thirteen days of trial: nothing to charge.
    mark = len(fake.calls)
    for _ in range(13):
        clock.advance(days=1)
        assert system.collect_due().outcomes == ()
    assert fake.calls[mark:] == []

    # The trial ends: the first period, off-session, with the saved card.
    clock.advance(days=1)
    assert clock.now().date() == TRIAL_END
    report = system.collect_due()
    assert [(o.item_id, o.result) for o in report.outcomes] == [(first.id, "succeeded")]
    (charge,) = calls(fake, mark)
    assert charge == (
        "charge_off_session",
        {
            "customer_id": "cus_fake_000001",
            "payment_method_id": "pm_card_visa",
            "amount": Money.of("20", "USD"),
            "idempotency_key": f"item:{first.id}:attempt:1",
            "metadata": {
                "enrollment_id": enrollment_id,
                "item_id": first.id,
                "attempt_id": report.outcomes[0].attempt_id,
            },
        },
    )
    assert [o.result for o in fake.deliver(system)] == ["stale"]  # recorded already
    details = system.payment_details(enrollment_id)
    assert (details.enrollment.status, details.has_access) == (EnrollmentStatus.ACTIVE, True)
    assert [p.amount for p in details.payments] == [Money.of("20", "USD")]
    assert details.items[0].status == ItemStatus.PAID
    assert details.paid_through == TRIAL_END
    # The sweep announced the first charge three days before the trial ended.
    assert kinds_since(system, 3) == ["installment.upcoming", "installment.paid"]
    assert [c.verb for c in fake.calls] == [
        "ensure_customer",
        "start_payment_method_update",
        "charge_off_session",
    ]


def test_a_trial_whose_card_never_comes_is_not_charged_and_collects_its_arrears_later(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock
) -> None:
    """No card: no charge, overdue, later periods wait; a card months later pays oldest first."""
    result = system.enroll(user_id="u-1", product_id=club(system).id)
    enrollment_id = result.enrollment_id
    first, second = result.schedule[:2]
    mark = len(fake.calls)

    morning(clock, TRIAL_END)
    assert [(o.item_id, o.result) for o in system.collect_due().outcomes] == [
        (first.id, "requires_payment_method")
    ]
    clock.advance(days=4)  # past the three days of grace
    assert system.collect_due().sweep is not None
    morning(clock, second.due)
    assert system.collect_due().outcomes == ()  # the dunning hold: one cycle at a time
    assert fake.calls[mark:] == []
    enrollment = system.get_enrollment(enrollment_id)
    assert (enrollment.status, system.has_access(enrollment)) == (
        EnrollmentStatus.PENDING_PAYMENT,
        False,
    )
    assert [i.status for i in system.payment_details(enrollment_id).items[:2]] == [
        ItemStatus.REQUIRES_PAYMENT_METHOD,
        ItemStatus.SCHEDULED,
    ]
    assert kinds_since(system, 0) == [
        "enrollment.created",
        "installment.requires_payment_method",
        "installment.overdue",
    ]

    # The student comes back: the same setup flow, the card, the page's call.
    events = len(system.list_events())
    secret = system.start_setup(enrollment_id)
    assert secret == result.setup_client_secret
    fake.complete_setup(secret, payment_method="pm_card_late")
    outcomes = system.update_payment_method("u-1", "pm_card_late")
    assert [(o.item_id, o.result) for o in outcomes] == [
        (first.id, "succeeded"),
        (second.id, "succeeded"),
    ]
    charges = [p for verb, p in calls(fake, mark) if verb == "charge_off_session"]
    assert [(p["idempotency_key"], p["payment_method_id"]) for p in charges] == [
        (f"item:{first.id}:attempt:1", "pm_card_late"),
        (f"item:{second.id}:attempt:1", "pm_card_late"),
    ]
    assert [o.result for o in fake.deliver(system)] == ["processed", "stale", "stale"]
    enrollment = system.get_enrollment(enrollment_id)
    assert (enrollment.status, enrollment.awaiting_payment_method) == (
        EnrollmentStatus.ACTIVE,
        False,
    )
    assert kinds_since(system, events) == [
        "installment.paid",
        "enrollment.activated",
        "access.granted",
        "installment.paid",
    ]


def test_a_returning_student_with_a_saved_card_starts_the_trial_at_once(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock
) -> None:
    """The customer has a card already: active with access, no setup flow, charged at the end."""
    product = club(system)
    secret = system.start_payment_method_update("u-1")
    fake.complete_setup(secret, payment_method="pm_card_kept")
    fake.deliver(system)
    mark = len(fake.calls)

    result = system.enroll(user_id="u-1", product_id=product.id)

    assert result.setup_client_secret is None
    assert fake.calls[mark:] == []
    enrollment = system.get_enrollment(result.enrollment_id)
    assert (enrollment.status, enrollment.awaiting_payment_method) == (
        EnrollmentStatus.ACTIVE,
        False,
    )
    assert kinds_since(system, 0) == [
        "enrollment.created",
        "enrollment.activated",
        "access.granted",
    ]
    morning(clock, TRIAL_END)
    assert [o.result for o in system.collect_due().outcomes] == ["succeeded"]
    (charge,) = calls(fake, mark)
    assert (charge[0], charge[1]["payment_method_id"]) == ("charge_off_session", "pm_card_kept")
