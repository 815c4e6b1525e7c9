"""Coupon redemption limits under real concurrency: processes racing on one PostgreSQL database.

The count is kept by a conditional ``UPDATE`` of the coupon row inside each
enrollment's transaction: however the processes interleave, exactly the
cap's worth of enrollments commit; every other process gets a typed error
and leaves nothing behind (no enrollment, item, event or audit entry).
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from pathlib import Path

import pytest

from enrollpay import FullPayment, Money, PaymentSystem
from enrollpay.domain.discounts import Coupon
from enrollpay.storage.sql import SqlStore

from . import pg_coupon_workers

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
SPAWN = multiprocessing.get_context("spawn")
PROCESSES = 8


@pytest.fixture
def spawnable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let spawned children import ``tests.integration.pg_coupon_workers`` by name."""
    monkeypatch.syspath_prepend(str(ROOT))


def _race(url: str, jobs: list[tuple[str, str]], code: str) -> list[tuple[str, str, str]]:
    """Run one process per ``(user, product)`` job, all enrolling with ``code`` at once."""
    barrier = SPAWN.Barrier(len(jobs))
    results = SPAWN.Queue()
    workers = [
        SPAWN.Process(
            target=pg_coupon_workers.redeem_worker,
            args=(url, user, product, code, barrier, results),
        )
        for user, product in jobs
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert [w.exitcode for w in workers] == [0] * len(workers)
    return outcomes


@pytest.mark.usefixtures("spawnable")
def test_eight_processes_race_for_three_redemptions(pg_url: str) -> None:
    """max_redemptions=3, eight students at once: three enroll, five are told it is exhausted."""
    store = SqlStore.from_url(pg_url)
    system = PaymentSystem(store=store)
    course = system.register_product(
        product_type="course",
        product_id="c-1",
        name="Course",
        price=Money.of("100.00", "USD"),
        payment_plan=FullPayment(),
    )
    system.create_coupon(Coupon("RACE", percent_off=2000, max_redemptions=3))
    audit_before = len(system.audit_log())

    outcomes = _race(pg_url, [(f"u-{n}", course.id) for n in range(PROCESSES)], "RACE")

    assert Counter(reason for _, reason, _ in outcomes) == {"enrolled": 3, "exhausted": 5}
    assert {kind for _, reason, kind in outcomes if reason == "exhausted"} == {
        "CouponExhaustedError"
    }
    winners = sorted(detail for _, reason, detail in outcomes if reason == "enrolled")
    enrollments = system.list_enrollments()
    assert sorted(e.id for e in enrollments) == winners
    assert {e.price for e in enrollments} == {Money.of("80.00", "USD")}
    assert {e.coupon_code for e in enrollments} == {"RACE"}
    assert sorted(i.enrollment_id for i in system.list_schedule_items()) == winners
    (coupon,) = system.list_coupons()
    assert coupon.redeemed == 3
    with store.transaction() as tx:
        assert sorted(e for _, e in tx.coupon_redemptions("RACE")) == winners
    events = Counter(e.kind for e in system.list_events())
    assert (events["enrollment.created"], events["discount.applied"]) == (3, 3)
    assert len(system.audit_log()) == audit_before + 3
    assert system.verify_audit_chain().ok
    store.close()


@pytest.mark.usefixtures("spawnable")
def test_one_student_racing_a_once_per_student_coupon_gets_it_once(pg_url: str) -> None:
    """One student enrolls in eight products at once with the same coupon: one redemption."""
    store = SqlStore.from_url(pg_url)
    system = PaymentSystem(store=store)
    products = [
        system.register_product(
            product_type="course",
            product_id=f"c-{n}",
            name=f"Course {n}",
            price=Money.of("100.00", "USD"),
            payment_plan=FullPayment(),
        )
        for n in range(PROCESSES)
    ]
    system.create_coupon(Coupon("ONCE", percent_off=1000))

    outcomes = _race(pg_url, [("u-1", p.id) for p in products], "ONCE")

    assert Counter(reason for _, reason, _ in outcomes) == {
        "enrolled": 1,
        "already_redeemed": PROCESSES - 1,
    }
    (enrollment,) = system.list_enrollments()
    assert enrollment.coupon_code == "ONCE"
    (coupon,) = system.list_coupons()
    assert coupon.redeemed == 1
    assert Counter(e.kind for e in system.list_events())["discount.applied"] == 1
    store.close()
