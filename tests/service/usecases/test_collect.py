"""Use cases ``collect_due`` and ``retry_now``: off-session charges, retries, defaults."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enrollpay import (
    AttemptStatus,
    EnrollmentStatus,
    Installments,
    ItemStatus,
    PaymentSystem,
    RetryPolicy,
    SystemConfig,
)
from enrollpay.domain.records import Product
from enrollpay.errors import (
    GatewayNotConfiguredError,
    InvalidInputError,
    InvalidStateError,
    ScheduleItemNotFoundError,
)
from enrollpay.service.results import ItemOutcome
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds
from enrollpay.testing import strategies as eps
from tests.service.conftest import START, usd
from tests.service.usecases.support import (
    SECOND_DUE,
    Outbox,
    calls_of,
    enroll_and_pay,
    kinds,
    refused,
    run_retries,
    save_card,
    usd_data,
)


def second_item(system: PaymentSystem, enrollment_id: str) -> str:
    """The id of the enrollment's second item."""
    return system.list_schedule_items(enrollment_id=enrollment_id)[1].id


def test_nothing_is_charged_before_the_due_date(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """The day before: no charge, no gateway call; the only event reminds of tomorrow's item."""
    before = len(fake.calls)
    clock.set(SECOND_DUE - timedelta(days=1))

    report = system.collect_due()

    assert report.outcomes == ()
    assert fake.calls[before:] == []
    (reminder,) = outbox.new()
    assert (reminder.kind, dict(reminder.data)) == (
        "installment.upcoming",
        {
            "item_id": second_item(system, paid_first),
            "seq": 2,
            "due": "2027-04-15",
            "days_before": 1,
            "outstanding": usd_data(10000),
        },
    )


def test_a_due_installment_is_charged_once_with_the_saved_card(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """One off-session charge of 100.00 under attempt 1's key; ``installment.paid`` only."""
    clock.set(SECOND_DUE)
    before = len(fake.calls)

    report = system.collect_due()

    item_id = second_item(system, paid_first)
    (outcome,) = report.outcomes
    assert (outcome.item_id, outcome.result, outcome.decline_code) == (item_id, "succeeded", None)
    assert (report.charged, report.succeeded, report.failed) == (1, 1, 0)
    (charge,) = fake.calls[before:]
    assert charge.verb == "charge_off_session"
    assert charge.params["payment_method_id"] == "pm_card_visa"
    assert charge.params["amount"] == usd("100.00")
    assert charge.params["idempotency_key"] == f"item:{item_id}:attempt:1"
    attempt = system.payment_details(paid_first).attempts[-1]
    assert attempt.id == outcome.attempt_id
    assert (attempt.mode, attempt.status, attempt.number) == (
        "off_session",
        AttemptStatus.SUCCEEDED,
        1,
    )
    (event,) = outbox.new()
    assert event.kind == "installment.paid"
    assert event.enrollment_id == paid_first
    assert event.at == SECOND_DUE
    assert dict(event.data) == {
        "item_id": item_id,
        "seq": 2,
        "amount": usd_data(10000),
        "paid": usd_data(10000),
    }
    item = system.get_schedule_item(item_id)
    assert (item.status, item.amount_paid, item.paid_at) == (
        ItemStatus.PAID,
        usd("100.00"),
        SECOND_DUE,
    )
    assert item.lease_until is None


def test_a_second_run_the_same_day_charges_nothing(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """Paid items are never claimed again."""
    clock.set(SECOND_DUE)
    system.collect_due()
    outbox.mark()

    assert system.collect_due().outcomes == ()
    assert len(fake.charges) == 2
    assert outbox.new() == []


def test_a_soft_decline_plans_a_retry_a_day_later_and_falls_past_due(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """``payment.failed`` (code, failures 1, retry time), ``enrollment.past_due``; access kept."""
    fake.script(fake.decline("insufficient_funds"))
    clock.set(SECOND_DUE)

    (outcome,) = system.collect_due().outcomes

    assert (outcome.result, outcome.decline_code) == ("failed", "insufficient_funds")
    events = outbox.new()
    assert kinds(events) == ["payment.failed", "enrollment.past_due"]
    item_id = second_item(system, paid_first)
    assert dict(events[0].data) == {
        "item_id": item_id,
        "seq": 2,
        "decline_code": "insufficient_funds",
        "failures": 1,
        "next_retry_at": (SECOND_DUE + timedelta(days=1)).isoformat(),
    }
    assert dict(events[1].data) == {"from": "active", "to": "past_due"}
    item = system.get_schedule_item(item_id)
    assert (item.status, item.failures, item.last_decline_code) == (
        ItemStatus.FAILED,
        1,
        "insufficient_funds",
    )
    assert item.next_attempt_at == SECOND_DUE + timedelta(days=1)
    enrollment = system.get_enrollment(paid_first)
    assert enrollment.status == EnrollmentStatus.PAST_DUE
    assert system.has_access(enrollment)
    attempt = system.payment_details(paid_first).attempts[-1]
    assert (attempt.status, attempt.decline_code) == (AttemptStatus.FAILED, "insufficient_funds")


def test_a_failed_item_waits_for_its_retry_time(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """23 hours after the decline nothing is charged; at 24 hours attempt 2 succeeds."""
    fake.script(fake.decline())
    clock.set(SECOND_DUE)
    system.collect_due()
    outbox.mark()

    clock.advance(hours=23)
    assert system.collect_due().outcomes == ()
    clock.advance(hours=1)
    (outcome,) = system.collect_due().outcomes

    assert outcome.result == "succeeded"
    events = outbox.new()
    assert kinds(events) == ["installment.paid", "enrollment.activated"]
    assert dict(events[1].data) == {"from": "past_due", "to": "active"}
    item_id = second_item(system, paid_first)
    keys = [c.params["idempotency_key"] for c in calls_of(fake, "charge_off_session")]
    assert keys == [f"item:{item_id}:attempt:1", f"item:{item_id}:attempt:2"]


def test_four_soft_declines_default_the_item_and_suspend_access(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """Retries on due+1, +4, +11; the fourth decline: defaulted, suspended, access suspended.

    On the third retry (due+4) the item is past its three days of grace:
    the sweep that starts that collection announces it overdue.
    """
    fake.script(*[fake.decline()] * 4)

    run_retries(system, clock, 4)

    events = outbox.new()
    assert kinds(events) == [
        "payment.failed",
        "enrollment.past_due",
        "payment.failed",
        "installment.overdue",
        "payment.failed",
        "installment.defaulted",
        "enrollment.suspended",
        "access.suspended",
    ]
    assert events[3].data["days_late"] == 4
    failed = [e for e in events if e.kind in ("payment.failed", "installment.defaulted")]
    assert [e.data["failures"] for e in failed] == [1, 2, 3, 4]
    assert [e.data["next_retry_at"] for e in failed] == [
        datetime(2027, 4, 16, 9, tzinfo=UTC).isoformat(),
        datetime(2027, 4, 19, 9, tzinfo=UTC).isoformat(),
        datetime(2027, 4, 26, 9, tzinfo=UTC).isoformat(),
        None,
    ]
    assert dict(events[6].data) == {"from": "past_due", "to": "suspended"}
    assert {e.enrollment_id for e in events} == {paid_first}
    item = system.get_schedule_item(second_item(system, paid_first))
    assert (item.status, item.failures, item.next_attempt_at) == (ItemStatus.DEFAULTED, 4, None)
    enrollment = system.get_enrollment(paid_first)
    assert enrollment.status == EnrollmentStatus.SUSPENDED
    assert not system.has_access(enrollment)
    assert len(calls_of(fake, "charge_off_session")) == 4


def test_a_defaulted_item_is_not_charged_again(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """Collection leaves it alone until a new card or a manual payment."""
    fake.script(*[fake.decline()] * 4)
    run_retries(system, clock, 4)
    outbox.mark()
    charges = len(calls_of(fake, "charge_off_session"))

    clock.advance(days=3)
    assert system.collect_due().outcomes == ()
    assert len(calls_of(fake, "charge_off_session")) == charges
    assert outbox.new() == []


def test_a_custom_retry_policy_sets_the_retry_times_and_the_default(clock: FrozenClock) -> None:
    """Retries 2 and 5 days apart: the third decline defaults."""
    fake = FakeGateway(clock=clock)
    system = PaymentSystem(
        store=InMemoryStore(), gateway=fake, clock=clock, ids=SequentialIds(),
        retry_policy=RetryPolicy(delays=(2, 5)),
    )  # fmt: skip
    product = system.register_product(
        product_type="c", product_id="c", name="C", price=usd("10.00")
    )
    result = system.enroll(user_id="u", product_id=product.id, start=date(2027, 3, 20))
    save_card(system, fake, "u", "pm_u")
    fake.script(*[fake.decline()] * 3)

    clock.set(datetime(2027, 3, 20, 9, tzinfo=UTC))
    system.collect_due()
    clock.advance(days=2)
    system.collect_due()
    clock.advance(days=5)
    system.collect_due()

    failed = [
        e for e in system.list_events() if e.kind in ("payment.failed", "installment.defaulted")
    ]
    assert [(e.kind, e.data["next_retry_at"]) for e in failed] == [
        ("payment.failed", datetime(2027, 3, 22, 9, tzinfo=UTC).isoformat()),
        ("payment.failed", datetime(2027, 3, 27, 9, tzinfo=UTC).isoformat()),
        ("installment.defaulted", None),
    ]
    assert system.get_schedule_item(result.schedule[0].id).status == ItemStatus.DEFAULTED


def test_without_past_due_access_a_decline_suspends_access_and_payment_restores_it(
    clock: FrozenClock,
) -> None:
    """past_due_access=False: past due comes with access.suspended; paying, access.restored."""
    fake = FakeGateway(clock=clock)
    system = PaymentSystem(
        store=InMemoryStore(), gateway=fake, clock=clock, ids=SequentialIds(),
        config=SystemConfig(past_due_access=False),
    )  # fmt: skip
    product = system.register_product(
        product_type="c", product_id="c", name="C", price=usd("300.00"),
        payment_plan=Installments(3),
    )  # fmt: skip
    result = enroll_and_pay(system, fake, product)
    mark = len(system.list_events())
    fake.script(fake.decline())

    run_retries(system, clock, 2)

    assert kinds(system.list_events()[mark:]) == [
        "payment.failed",
        "enrollment.past_due",
        "access.suspended",
        "installment.paid",
        "enrollment.activated",
        "access.restored",
    ]
    assert system.has_access(system.get_enrollment(result.enrollment_id))


def test_a_hard_decline_asks_for_a_new_card_and_is_not_retried(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """stolen_card: requires_payment_method (no retry time), suspended; later runs skip it."""
    fake.script(fake.decline("stolen_card"))
    clock.set(SECOND_DUE)

    (outcome,) = system.collect_due().outcomes

    assert outcome.result == "requires_payment_method"
    events = outbox.take()
    assert kinds(events) == [
        "installment.requires_payment_method",
        "enrollment.suspended",
        "access.suspended",
    ]
    assert dict(events[0].data) == {
        "item_id": outcome.item_id,
        "seq": 2,
        "decline_code": "stolen_card",
        "failures": 1,
        "next_retry_at": None,
    }
    clock.advance(days=10)
    assert system.collect_due().outcomes == ()
    # Not charged again; only the calendar speaks: the item is now overdue.
    assert [(e.kind, e.data["days_late"]) for e in outbox.new()] == [("installment.overdue", 10)]
    assert len(calls_of(fake, "charge_off_session")) == 1


def test_an_authentication_decline_waits_for_the_customer(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """authentication_required: requires_action, past due, not retried off-session."""
    fake.script(fake.decline("authentication_required"))
    clock.set(SECOND_DUE)

    (outcome,) = system.collect_due().outcomes

    assert outcome.result == "requires_action"
    events = outbox.take()
    assert kinds(events) == ["installment.requires_action", "enrollment.past_due"]
    assert events[0].data["decline_code"] == "authentication_required"
    assert events[0].data["next_retry_at"] is None
    clock.advance(days=10)
    assert system.collect_due().outcomes == ()
    # Not charged again; only the calendar speaks: the item is now overdue.
    assert [(e.kind, e.data["days_late"]) for e in outbox.new()] == [("installment.overdue", 10)]


def test_the_last_installment_completes_the_enrollment(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """``installment.paid`` then ``enrollment.completed``; access stays (no access event)."""
    clock.set(SECOND_DUE)
    system.collect_due()
    clock.set(datetime(2027, 5, 15, 9, tzinfo=UTC))
    outbox.mark()

    system.collect_due()

    events = outbox.new()
    assert kinds(events) == ["installment.paid", "enrollment.completed"]
    assert events[0].data["seq"] == 3
    assert dict(events[1].data) == {"from": "active", "to": "completed"}
    enrollment = system.get_enrollment(paid_first)
    assert enrollment.status == EnrollmentStatus.COMPLETED
    assert system.has_access(enrollment)
    assert system.payment_details(paid_first).outstanding == usd("0")


@pytest.mark.parametrize("how", ["pause", "cancel"])
def test_paused_and_cancelled_enrollments_are_not_charged(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, paid_first: str, how: str
) -> None:
    """No charge for a paused or cancelled enrollment's items."""
    if how == "pause":
        system.pause(paid_first, actor="admin")
    else:
        system.cancel_enrollment(paid_first, reason="r", actor="admin", refund_amount=usd("0"))
    clock.set(SECOND_DUE + timedelta(days=40))

    assert system.collect_due().outcomes == ()
    assert calls_of(fake, "charge_off_session") == []


def test_limit_bounds_one_run_and_the_next_run_takes_the_rest(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three: Product
) -> None:
    """Two students due the same day, limit=1: one charge now, one in the next run."""
    enroll_and_pay(system, fake, three, user="u-1")
    enroll_and_pay(system, fake, three, user="u-2")
    clock.set(SECOND_DUE)

    first = system.collect_due(limit=1)
    second = system.collect_due()

    assert len(first.outcomes) == len(second.outcomes) == 1
    assert first.outcomes[0].item_id != second.outcomes[0].item_id
    assert len(calls_of(fake, "charge_off_session")) == 2


def test_progress_sees_each_outcome_and_keep_outcomes_false_only_counts(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three: Product
) -> None:
    """The callback gets every outcome; the report keeps counts only."""
    enroll_and_pay(system, fake, three, user="u-1")
    enroll_and_pay(system, fake, three, user="u-2")
    fake.script(fake.decline())
    clock.set(SECOND_DUE)
    seen: list[ItemOutcome] = []

    report = system.collect_due(progress=seen.append, keep_outcomes=False)

    assert report.outcomes == ()
    assert sorted(o.result for o in seen) == ["failed", "succeeded"]
    assert (report.charged, report.succeeded, report.failed) == (2, 1, 1)
    assert report.needs_attention


def test_an_explicit_now_decides_what_is_due(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """``collect_due(now)`` claims by that instant, not the clock's."""
    (outcome,) = system.collect_due(SECOND_DUE).outcomes
    assert outcome.result == "succeeded"
    assert kinds(outbox.new()) == ["installment.paid"]


def test_without_a_gateway_collection_is_empty(clock: FrozenClock) -> None:
    """Nothing to charge with: an empty report, nothing written."""
    system = PaymentSystem(store=InMemoryStore(), clock=clock, ids=SequentialIds())
    product = system.register_product(
        product_type="c", product_id="c", name="C", price=usd("10.00")
    )
    system.enroll(user_id="u", product_id=product.id)
    before = system.list_schedule_items()

    assert system.collect_due().outcomes == ()
    assert system.list_schedule_items() == before


@pytest.mark.parametrize(
    "kwargs",
    [{"limit": 0}, {"limit": -1}, {"limit": True}, {"limit": 1.5}, {"concurrency": 0}],
    ids=str,
)
def test_bad_collection_arguments_are_refused(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, paid_first: str,
    kwargs: dict[str, Any],
) -> None:  # fmt: skip
    """InvalidInputError; nothing charged, nothing written."""
    clock.set(SECOND_DUE)
    with refused(system, InvalidInputError, fake=fake):
        system.collect_due(**kwargs)


def test_a_naive_now_is_refused(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, paid_first: str
) -> None:
    """An instant without a time zone is ambiguous."""
    clock.set(SECOND_DUE)
    with refused(system, InvalidInputError, fake=fake):
        system.collect_due(datetime(2027, 4, 15, 9))  # noqa: DTZ001 - the point of the test


# -- retry_now --------------------------------------------------------------------------


def test_retry_now_charges_a_failed_item_at_once(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """Attempt 2 before its retry time; paid, restored; one charge under the next key."""
    fake.script(fake.decline())
    clock.set(SECOND_DUE)
    system.collect_due()
    outbox.mark()
    item_id = second_item(system, paid_first)

    outcome = system.retry_now(item_id)

    assert outcome.result == "succeeded"
    assert kinds(outbox.new()) == ["installment.paid", "enrollment.activated"]
    keys = [c.params["idempotency_key"] for c in calls_of(fake, "charge_off_session")]
    assert keys == [f"item:{item_id}:attempt:1", f"item:{item_id}:attempt:2"]
    actions = [e.action for e in system.audit_log(entity_type="schedule_item", entity_id=item_id)]
    assert "payment.retry_requested" in actions


def test_retry_now_of_a_defaulted_item_that_declines_again_stays_defaulted(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, paid_first: str
) -> None:
    """A fifth decline: still defaulted (failures 5), still suspended, no status event."""
    fake.script(*[fake.decline()] * 5)
    run_retries(system, clock, 4)
    outbox.mark()

    outcome = system.retry_now(second_item(system, paid_first))

    assert outcome.result == "defaulted"
    (event,) = outbox.new()
    assert event.kind == "installment.defaulted"
    assert event.data["failures"] == 5
    assert system.get_enrollment(paid_first).status == EnrollmentStatus.SUSPENDED


def test_retry_now_of_an_item_not_yet_due_charges_it_early(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, paid_first: str
) -> None:
    """A scheduled item may be paid ahead of time with the saved card."""
    outcome = system.retry_now(second_item(system, paid_first))

    assert outcome.result == "succeeded"
    assert kinds(outbox.new()) == ["installment.paid"]
    assert len(calls_of(fake, "charge_off_session")) == 1


def test_retry_now_refuses_an_unknown_item(system: PaymentSystem, fake: FakeGateway) -> None:
    """ScheduleItemNotFoundError."""
    with refused(system, ScheduleItemNotFoundError, fake=fake):
        system.retry_now("itm_missing")


def test_retry_now_refuses_a_paid_item(
    system: PaymentSystem, fake: FakeGateway, three: Product
) -> None:
    """InvalidStateError: nothing to retry."""
    result = enroll_and_pay(system, fake, three)
    with refused(system, InvalidStateError, fake=fake, match="nothing to retry"):
        system.retry_now(result.schedule[0].id)


def test_retry_now_refuses_an_item_whose_checkout_is_open(
    system: PaymentSystem, fake: FakeGateway, three: Product
) -> None:
    """The first item is leased to its on-session checkout: no second payment beside it."""
    result = system.enroll(user_id="u-1", product_id=three.id)
    with refused(system, InvalidStateError, fake=fake):
        system.retry_now(result.schedule[0].id)


def test_retry_now_refuses_an_item_waiting_for_authentication(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, paid_first: str
) -> None:
    """requires_action is the customer's to complete (start_payment reopens it)."""
    fake.script("requires_action")
    clock.set(SECOND_DUE)
    system.collect_due()
    with refused(system, InvalidStateError, fake=fake, match="requires_action"):
        system.retry_now(second_item(system, paid_first))


@pytest.mark.parametrize("how", ["pause", "cancel"])
def test_retry_now_refuses_items_of_paused_or_cancelled_enrollments(
    system: PaymentSystem, fake: FakeGateway, paid_first: str, how: str
) -> None:
    """InvalidStateError names the enrollment's status."""
    if how == "pause":
        system.pause(paid_first, actor="admin")
    else:
        system.cancel_enrollment(paid_first, reason="r", actor="admin", refund_amount=usd("0"))
    with refused(system, InvalidStateError, fake=fake, match="paused|cancelled"):
        system.retry_now(second_item(system, paid_first))


def test_retry_now_needs_a_gateway(clock: FrozenClock) -> None:
    """GatewayNotConfiguredError."""
    system = PaymentSystem(store=InMemoryStore(), clock=clock, ids=SequentialIds())
    with refused(system, GatewayNotConfiguredError):
        system.retry_now("itm_any")


# -- properties -------------------------------------------------------------------------


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy=eps.retry_policies(), declines=st.integers(min_value=1, max_value=6))
def test_any_retry_policy_retries_on_its_delays_then_defaults(
    policy: RetryPolicy, declines: int
) -> None:
    """Each decline's ``next_retry_at`` is its time plus the policy's delay; past them, default."""
    clock = FrozenClock(START)
    fake = FakeGateway(clock=clock)
    system = PaymentSystem(
        store=InMemoryStore(), gateway=fake, clock=clock, ids=SequentialIds(),
        retry_policy=policy,
    )  # fmt: skip
    product = system.register_product(product_type="c", product_id="c", name="C",
                                      price=usd("10.00"))  # fmt: skip
    result = system.enroll(user_id="u", product_id=product.id, start=date(2027, 3, 16))
    save_card(system, fake, "u", "pm_u")
    fake.script(*[fake.decline()] * declines)
    clock.set(datetime(2027, 3, 16, 9, tzinfo=UTC))
    expected: list[str | None] = []
    for failures in range(1, min(declines, policy.max_attempts) + 1):
        system.collect_due()
        step = policy.delays[failures - 1] if failures <= len(policy.delays) else None
        expected.append(None if step is None else (clock.now() + step).isoformat())
        if step is not None:
            clock.advance(step)

    seen = [
        e.data["next_retry_at"]
        for e in system.list_events()
        if e.kind in ("payment.failed", "installment.defaulted")
    ]
    assert seen == expected
    item = system.get_schedule_item(result.schedule[0].id)
    if declines >= policy.max_attempts:
        assert item.status == ItemStatus.DEFAULTED
    else:
        system.collect_due()
        assert system.get_schedule_item(item.id).status == ItemStatus.PAID
