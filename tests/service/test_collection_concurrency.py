"""collect_due with a pool of worker threads and a gateway rate limit."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from enrollpay import Installments, ItemStatus, Money, PaymentSystem, PlanRule, SystemConfig
from enrollpay.domain.records import Product
from enrollpay.errors import InvalidInputError
from enrollpay.gateways.ratelimit import TokenBucket
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway, FrozenClock


def enroll_paying_students(
    system: PaymentSystem, fake: FakeGateway, course: Product, count: int
) -> None:
    """``count`` students on 2 installments, each paying the first on-session (card saved)."""
    system.set_plan_rules([PlanRule(plan=Installments(2))])
    for n in range(count):
        result = system.enroll(user_id=f"u-{n}", product_id=course.id)
        assert result.client_secret is not None
        fake.complete_payment(result.client_secret)
    fake.deliver(system)


def test_four_threads_charge_every_due_item_exactly_once(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, course: Product
) -> None:
    """concurrency=4 over 30 due items: 30 successes, one charge per item, one key each."""
    enroll_paying_students(system, fake, course, 30)
    on_session = len(fake.charges)
    clock.advance(days=31)
    seen: list[str] = []
    report = system.collect_due(concurrency=4, progress=lambda o: seen.append(o.item_id))
    assert report.succeeded == 30
    assert sorted(seen) == sorted(o.item_id for o in report.outcomes)
    off_session = fake.charges[on_session:]
    per_item = Counter(c.idempotency_key for c in off_session)
    assert len(per_item) == 30
    assert set(per_item.values()) == {1}
    assert set(per_item) == {f"item:{o.item_id}:attempt:1" for o in report.outcomes}
    second = system.list_schedule_items(status=["paid"])
    assert len(second) == 60
    assert system.collect_due(concurrency=4).outcomes == ()


def test_concurrency_respects_the_limit_on_claimed_items(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, course: Product
) -> None:
    """limit=7 with 3 threads charges 7 items; the rest stay scheduled for the next run."""
    enroll_paying_students(system, fake, course, 12)
    clock.advance(days=31)
    report = system.collect_due(limit=7, concurrency=3)
    assert report.succeeded == 7
    assert len(system.list_schedule_items(status=[ItemStatus.SCHEDULED])) == 5
    assert system.collect_due(concurrency=3).succeeded == 5


def test_the_concurrency_setting_comes_from_the_config_by_default(
    fake: FakeGateway, clock: FrozenClock
) -> None:
    """SystemConfig(collect_concurrency=3, gateway_rate_limit=...) is used when not passed."""
    config = SystemConfig(collect_concurrency=3, gateway_rate_limit=1000.0)
    system = PaymentSystem(store=InMemoryStore(), gateway=fake, clock=clock, config=config)
    course = system.register_product(
        product_type="course",
        product_id="c",
        name="C",
        price=Money.of("100.00", "USD"),
        auto_assign_payment_plan=True,
    )
    enroll_paying_students(system, fake, course, 5)
    clock.advance(days=31)
    assert system.collect_due().succeeded == 5


def test_a_shared_token_bucket_paces_the_gateway_calls(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, course: Product
) -> None:
    """Every off-session charge takes a token first: 6 charges ask the bucket 6 times."""
    enroll_paying_students(system, fake, course, 6)
    clock.advance(days=31)
    waits: list[float] = []
    ticks = iter(range(1000))
    bucket = TokenBucket(1000, monotonic=lambda: float(next(ticks)), sleep=waits.append)
    report = system.collect_due(concurrency=2, rate_limit=bucket)
    assert report.succeeded == 6
    assert waits == []  # a tick of one second refills the bucket between calls
    assert next(ticks) >= 1 + 6  # created once, then one reservation per charge


@pytest.mark.parametrize("bad", [0, -2, True, 1.5])
def test_a_concurrency_that_is_not_a_positive_int_is_refused(
    system: PaymentSystem, bad: object
) -> None:
    """collect_due(concurrency=0 | -2 | True | 1.5) raises InvalidInputError."""
    with pytest.raises(InvalidInputError):
        system.collect_due(concurrency=bad)  # type: ignore[arg-type]


def test_a_failing_item_stops_the_run_and_the_rest_keep_their_lease(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, course: Product
) -> None:
    """A crash while charging propagates; unprocessed items are collected after the lease."""
    enroll_paying_students(system, fake, course, 8)
    clock.advance(days=31)
    calls = 0

    def crash_once(point: str) -> None:
        nonlocal calls
        if point == "after_attempt_written":
            calls += 1
            if calls == 1:
                raise RuntimeError("worker crashed")

    crashing = PaymentSystem(store=system.store, gateway=fake, clock=clock, faults=crash_once)
    with pytest.raises(RuntimeError, match="worker crashed"):
        crashing.collect_due(concurrency=2)
    clock.advance(system.config.lease + timedelta(seconds=1))
    system.collect_due(concurrency=2)
    system.reconcile()
    system.collect_due(concurrency=2)
    paid = system.list_schedule_items(status=[ItemStatus.PAID])
    assert len(paid) == 16
    moved = Counter(c.idempotency_key for c in fake.charges)
    assert set(moved.values()) == {1}


@pytest.mark.parametrize("concurrency", [1, 3])
def test_a_run_that_keeps_no_outcomes_still_counts_them(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, course: Product, concurrency: int
) -> None:
    """keep_outcomes=False: no outcome list, the same counts, progress sees every item."""
    enroll_paying_students(system, fake, course, 5)
    fake.script(fake.decline("insufficient_funds"))
    clock.advance(days=31)
    seen: list[str] = []
    report = system.collect_due(
        keep_outcomes=False, concurrency=concurrency, progress=lambda o: seen.append(o.result)
    )
    assert report.outcomes == ()
    assert (report.succeeded, report.failed, report.charged) == (4, 1, 5)
    assert sorted(seen) == ["failed"] + ["succeeded"] * 4
    assert report.summary().startswith("charged=5 succeeded=4 failed=1")
