"""Card-network retry caps in collection (``service/caps.py``): a capped retry is moved, not sent.

Each test drives the facade on InMemoryStore, FakeGateway and FrozenClock
and asserts the end state, the outbox and the fake's request log. The fake
reports a declined card's brand from its test id (``pm_card_visa`` is a
Visa card, ``pm_card_visa_2`` a second one, ``pm_card_amex`` an Amex).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from enrollpay import (
    AttemptStatus,
    EnrollmentStatus,
    Installments,
    ItemStatus,
    PaymentSystem,
    RetryCap,
    RetryPolicy,
)
from enrollpay.domain.retry_caps import NETWORK_CAPS
from enrollpay.service.results import ItemOutcome
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds
from tests.service.conftest import usd
from tests.service.usecases.support import (
    SECOND_DUE,
    Outbox,
    audited,
    calls_of,
    data,
    enroll_and_pay,
    kinds,
    save_card,
)

DAY = timedelta(days=1)
#: A retry a day for three weeks: more retries than Visa allows in 30 days.
DAILY = (1,) * 21


def build(clock: FrozenClock, fake: FakeGateway, policy: RetryPolicy) -> PaymentSystem:
    """A system with ``policy`` on the in-memory store."""
    return PaymentSystem(store=InMemoryStore(), gateway=fake, clock=clock, ids=SequentialIds(),
                         retry_policy=policy)  # fmt: skip


def enroll(system: PaymentSystem, fake: FakeGateway, user: str = "u-1", product: str = "c") -> str:
    """``user`` on three monthly 100.00 installments, the first paid with pm_card_visa."""
    course = system.register_product(product_type="course", product_id=product, name=product,
                                     price=usd("300.00"), payment_plan=Installments(3))  # fmt: skip
    return enroll_and_pay(system, fake, course, user).enrollment_id


def second(system: PaymentSystem, enrollment_id: str) -> str:
    """The id of the enrollment's second item (due at SECOND_DUE)."""
    return system.payment_details(enrollment_id).items[1].id


def collect_daily(system: PaymentSystem, clock: FrozenClock, days: int) -> None:
    """Collect now and on each of the next ``days - 1`` days; the clock ends a day later."""
    for _ in range(days):
        system.collect_due()
        clock.advance(days=1)


def charge_keys(fake: FakeGateway, since: int = 0) -> list[str]:
    """Idempotency keys of the off-session charges the fake received."""
    return [str(c.params["idempotency_key"]) for c in calls_of(fake, "charge_off_session", since)]


@pytest.fixture
def daily(clock: FrozenClock, fake: FakeGateway) -> PaymentSystem:
    """Daily retries under the default caps."""
    return build(clock, fake, RetryPolicy(delays=DAILY))


def test_a_visa_card_hitting_the_cap_has_its_16th_retry_moved_not_sent(
    daily: PaymentSystem, fake: FakeGateway, clock: FrozenClock
) -> None:
    """Declined on 04-15 and retried daily: 15 reattempts by 04-30; the one of 05-01 waits.

    It is moved to 05-16, when the reattempt of 04-16 leaves the 30 days:
    ``payment.retry_capped``, an audit entry, no gateway call; nothing is
    charged until then, and the retry of 05-16 is sent.
    """
    enrollment_id = enroll(daily, fake)
    item_id = second(daily, enrollment_id)
    fake.script(*[fake.decline("insufficient_funds")] * 16)
    clock.set(SECOND_DUE)
    collect_daily(daily, clock, 16)  # 04-15 .. 04-30
    assert charge_keys(fake) == [f"item:{item_id}:attempt:{n}" for n in range(1, 17)]
    outbox = Outbox(daily)
    outbox.mark()
    mark = len(fake.calls)

    report = daily.collect_due()  # 05-01

    moved_to = SECOND_DUE + 31 * DAY  # 04-16 + 30 days
    assert clock.now() == SECOND_DUE + 16 * DAY
    assert report.outcomes == (ItemOutcome(item_id, "capped", retry_at=moved_to),)
    assert (report.capped, report.charged, report.failed) == (1, 0, 0)
    assert report.summary().endswith("skipped=0 capped=1")
    assert fake.calls[mark:] == []
    (event,) = outbox.new()
    assert (event.kind, event.enrollment_id, event.at) == (
        "payment.retry_capped",
        enrollment_id,
        clock.now(),
    )
    assert data(event) == {
        "item_id": item_id,
        "seq": 2,
        "card_brand": "visa",
        "next_retry_at": moved_to.isoformat(),
    }
    item = daily.get_schedule_item(item_id)
    assert (item.status, item.failures, item.next_attempt_at, item.lease_until) == (
        ItemStatus.FAILED,
        16,
        moved_to,
        None,
    )
    (entry,) = audited(daily, item_id, "payment.retry_capped")
    assert (entry.actor, dict(entry.data)) == (
        "system",
        {"card_brand": "visa", "reattempts": 15, "retry_at": moved_to.isoformat()},
    )
    attempts = daily.payment_details(enrollment_id).attempts[1:]
    assert [a.reattempt for a in attempts] == [False] + [True] * 15
    assert {a.card_brand for a in attempts} == {"visa"}

    clock.advance(days=1)
    collect_daily(daily, clock, 14)  # 05-02 .. 05-15: suspended, and still nothing sent
    assert fake.calls[mark:] == []
    assert daily.get_enrollment(enrollment_id).status == EnrollmentStatus.SUSPENDED
    assert clock.now() == moved_to
    outbox.mark()

    paid = daily.collect_due()  # 05-16: the moved retry goes out (and succeeds)

    # The arrears follow: the third item (due 05-15) is charged next, in the same run.
    third = daily.payment_details(enrollment_id).items[2].id
    assert [(o.item_id, o.result) for o in paid.outcomes] == [
        (item_id, "succeeded"),
        (third, "succeeded"),
    ]
    assert charge_keys(fake, mark) == [f"item:{item_id}:attempt:17", f"item:{third}:attempt:1"]
    assert kinds(outbox.new()).count("installment.paid") == 2
    retried, first = daily.payment_details(enrollment_id).attempts[-2:]
    assert (retried.reattempt, first.reattempt) == (True, False)


def test_a_new_card_has_its_own_count(
    daily: PaymentSystem, fake: FakeGateway, clock: FrozenClock
) -> None:
    """At the old card's cap, the payer saves a second Visa card: it is charged at once.

    A new card is a new payment method: the charge on it retries nothing it
    declined, so it is neither capped nor counted.
    """
    enrollment_id = enroll(daily, fake)
    item_id = second(daily, enrollment_id)
    fake.script_method("pm_card_visa", *[fake.decline()] * 16)
    clock.set(SECOND_DUE)
    collect_daily(daily, clock, 17)  # the 17th day is capped
    assert daily.get_schedule_item(item_id).next_attempt_at == SECOND_DUE + 31 * DAY
    mark = len(fake.calls)

    secret = daily.start_payment_method_update("u-1")
    fake.complete_setup(secret, payment_method="pm_card_visa_2")  # its webhook not delivered yet
    outcomes = daily.update_payment_method("u-1", "pm_card_visa_2")

    assert [(o.item_id, o.result) for o in outcomes] == [(item_id, "succeeded")]
    (charge,) = calls_of(fake, "charge_off_session", mark)
    assert charge.params["payment_method_id"] == "pm_card_visa_2"
    last = daily.payment_details(enrollment_id).attempts[-1]
    assert (last.status, last.reattempt) == (AttemptStatus.SUCCEEDED, False)


def test_the_payers_retry_now_on_the_capped_card_is_moved_too(
    daily: PaymentSystem, fake: FakeGateway, clock: FrozenClock
) -> None:
    """retry_now charges off-session like collection does: at the cap it is moved, not sent.

    Saving the same card again does not reset its count either.
    """
    enrollment_id = enroll(daily, fake)
    item_id = second(daily, enrollment_id)
    fake.script(*[fake.decline()] * 16)
    clock.set(SECOND_DUE)
    collect_daily(daily, clock, 16)
    outbox = Outbox(daily)
    outbox.mark()
    mark = len(fake.calls)

    outcome = daily.retry_now(item_id)
    again = daily.update_payment_method("u-1", "pm_card_visa")

    moved_to = SECOND_DUE + 31 * DAY
    assert outcome == ItemOutcome(item_id, "capped", retry_at=moved_to)
    assert again == [ItemOutcome(item_id, "capped", retry_at=moved_to)]
    assert fake.calls[mark:] == []
    assert kinds(outbox.new()) == ["payment.retry_capped", "payment.retry_capped"]
    item = daily.get_schedule_item(item_id)
    assert (item.status, item.next_attempt_at, item.lease_until) == (
        ItemStatus.FAILED,
        moved_to,
        None,
    )
    assert len(audited(daily, item_id, "payment.retry_requested")) == 2


def test_caps_are_overridable_and_a_brand_without_one_is_not_capped(
    clock: FrozenClock, fake: FakeGateway
) -> None:
    """Visa lowered to 2 in 30 days: the third reattempt waits. Amex (no cap): never held."""
    policy = RetryPolicy(delays=DAILY, network_caps={**NETWORK_CAPS, "visa": RetryCap(2)})
    system = build(clock, fake, policy)
    visa = enroll(system, fake)
    amex_id = enroll(system, fake, user="u-2", product="d")
    save_card(system, fake, "u-2", "pm_card_amex")
    fake.script_method("pm_card_visa", *[fake.decline()] * 30)
    fake.script_method("pm_card_amex", *[fake.decline()] * 30)
    clock.set(SECOND_DUE)

    collect_daily(system, clock, 4)

    visa_item, amex_item = second(system, visa), second(system, amex_id)
    assert charge_keys(fake) == [
        *(f"item:{i}:attempt:{n}" for n in (1, 2, 3) for i in (visa_item, amex_item)),
        f"item:{amex_item}:attempt:4",
    ]
    held = system.get_schedule_item(visa_item)
    assert (held.failures, held.next_attempt_at) == (3, SECOND_DUE + 31 * DAY)
    collect_daily(system, clock, 18)
    assert len(charge_keys(fake)) == 6 + 1 + 18  # Amex: a retry every day, none held


def test_the_count_is_per_card_across_a_payers_enrollments(
    clock: FrozenClock, fake: FakeGateway
) -> None:
    """Two enrollments retried on one Visa card share its count: 3 in 30 days between them."""
    policy = RetryPolicy(delays=DAILY, network_caps={"visa": 3})
    system = build(clock, fake, policy)
    first = enroll(system, fake, product="c")
    other = enroll(system, fake, product="d")
    fake.script(*[fake.decline()] * 10)
    clock.set(SECOND_DUE)
    collect_daily(system, clock, 2)  # two first attempts, two reattempts
    mark = len(fake.calls)

    report = system.collect_due()

    results = sorted((o.item_id, o.result) for o in report.outcomes)
    first_item, other_item = second(system, first), second(system, other)
    assert results == sorted([(first_item, "failed"), (other_item, "capped")])
    assert len(calls_of(fake, "charge_off_session", mark)) == 1


def test_another_payers_card_has_its_own_count_even_with_the_same_test_id(
    clock: FrozenClock, fake: FakeGateway
) -> None:
    """Two students whose cards are both ``pm_card_visa``: one's retries never cap the other's."""
    system = build(clock, fake, RetryPolicy(delays=DAILY, network_caps={"visa": 1}))
    first, other = enroll(system, fake, user="u-1"), enroll(system, fake, user="u-2", product="d")
    fake.script(*[fake.decline()] * 4)
    clock.set(SECOND_DUE)
    collect_daily(system, clock, 1)
    mark = len(fake.calls)

    report = system.collect_due()  # a day later: one reattempt each

    assert sorted((o.item_id, o.result) for o in report.outcomes) == [
        (second(system, first), "failed"),
        (second(system, other), "failed"),
    ]
    assert len(calls_of(fake, "charge_off_session", mark)) == 2


def test_a_rescheduled_item_on_a_capped_card_waits_without_changing(
    clock: FrozenClock, fake: FakeGateway
) -> None:
    """A rescheduled item the card declined before is a reattempt: held, status and events kept.

    It stays ``scheduled``; collection's lease keeps it out until the lease
    ends, then the next run asks again; once the window has passed, it is sent.
    """
    system = build(clock, fake, RetryPolicy(delays=DAILY, network_caps={"visa": 1}))
    enrollment_id = enroll(system, fake)
    item_id = second(system, enrollment_id)
    fake.script(fake.decline(), fake.decline())
    clock.set(SECOND_DUE)
    collect_daily(system, clock, 2)  # attempt 1, reattempt 1: the cap is reached
    system.reschedule(item_id, (SECOND_DUE + 3 * DAY).date(), actor="admin")
    clock.set(SECOND_DUE + 3 * DAY)
    outbox = Outbox(system)
    outbox.mark()
    mark = len(fake.calls)

    held = system.collect_due()

    moved_to = SECOND_DUE + 31 * DAY
    assert held.outcomes == (ItemOutcome(item_id, "capped", retry_at=moved_to),)
    item = system.get_schedule_item(item_id)
    assert (item.status, item.lease_until) == (
        ItemStatus.SCHEDULED,
        clock.now() + timedelta(minutes=10),
    )
    assert system.collect_due().outcomes == ()  # leased by the run that held it
    clock.advance(minutes=10)
    assert [o.result for o in system.collect_due().outcomes] == ["capped"]
    assert outbox.new() == []
    assert fake.calls[mark:] == []
    # Once the reattempt of 04-16 has left the window the card may be retried (the
    # enrollment is suspended by then, so it is the payer who asks).
    clock.set(moved_to)
    assert system.retry_now(item_id).result == "succeeded"
    assert charge_keys(fake, mark) == [f"item:{item_id}:attempt:3"]


def test_a_defaulted_item_on_the_capped_card_stays_defaulted(
    clock: FrozenClock, fake: FakeGateway
) -> None:
    """The payer's retry of a defaulted item on the capped card: not sent, nothing changes.

    Its lease is given back, so the payer can ask again (and hears the same).
    """
    system = build(clock, fake, RetryPolicy(delays=(1, 1), network_caps={"visa": 2}))
    enrollment_id = enroll(system, fake)
    item_id = second(system, enrollment_id)
    fake.script(*[fake.decline()] * 3)
    clock.set(SECOND_DUE)
    collect_daily(system, clock, 3)
    assert system.get_schedule_item(item_id).status == ItemStatus.DEFAULTED
    outbox = Outbox(system)
    outbox.mark()
    mark = len(fake.calls)

    outcomes = [system.retry_now(item_id), system.retry_now(item_id)]

    moved_to = SECOND_DUE + 31 * DAY
    assert outcomes == [ItemOutcome(item_id, "capped", retry_at=moved_to)] * 2
    item = system.get_schedule_item(item_id)
    assert (item.status, item.lease_until, item.failures) == (ItemStatus.DEFAULTED, None, 3)
    assert outbox.new() == []
    assert fake.calls[mark:] == []


def test_a_decline_reported_by_webhook_keeps_the_cards_brand(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, paid_first: str
) -> None:
    """A charge still processing, declined later by webhook: the attempt learns the brand."""
    fake.script("processing")
    clock.set(SECOND_DUE)
    (outcome,) = system.collect_due().outcomes
    attempt = system.payment_details(paid_first).attempts[-1]
    assert (outcome.result, attempt.card_brand) == ("processing", None)
    assert attempt.gateway_payment_id is not None

    fake.settle(attempt.gateway_payment_id, fake.decline())
    fake.deliver(system)

    declined = system.payment_details(paid_first).attempts[-1]
    assert (declined.status, declined.card_brand) == (AttemptStatus.FAILED, "visa")


def test_an_unknown_brand_is_never_capped(clock: FrozenClock) -> None:
    """A card the gateway names no brand for: retries follow the delays, whatever their number."""
    fake = FakeGateway(clock=clock, strict=False)
    system = build(clock, fake, RetryPolicy(delays=(1,) * 20, network_caps={"visa": 1}))
    enrollment_id = enroll(system, fake)
    save_card(system, fake, "u-1", "pm_nobrand")
    fake.script(*[fake.decline()] * 30)
    clock.set(SECOND_DUE)

    collect_daily(system, clock, 5)

    assert len(charge_keys(fake)) == 5
    attempts = system.payment_details(enrollment_id).attempts[1:]
    assert [a.card_brand for a in attempts] == [None] * 5
    assert [a.reattempt for a in attempts] == [False, True, True, True, True]
