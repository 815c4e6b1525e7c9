"""Seat limits under real concurrency: processes racing on one PostgreSQL database.

A seat is added under the product row's lock after counting the live
seats, in each enrollment's transaction: however the processes interleave,
exactly the free seats' worth of enrollments commit; every other process
gets ``SeatsFullError`` (or joins the waitlist) and leaves no enrollment,
item, seat, event or audit entry behind.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from pathlib import Path

import pytest

from enrollpay import FullPayment, Money, PaymentSystem
from enrollpay.domain.records import Product
from enrollpay.domain.seats import SeatStatus
from enrollpay.storage.sql import SqlStore

from . import pg_seat_workers

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
SPAWN = multiprocessing.get_context("spawn")
PROCESSES = 8
LIMIT = 5
#: Seats taken before the race: three left for eight students.
TAKEN = 2


@pytest.fixture
def spawnable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let spawned children import ``tests.integration.pg_seat_workers`` by name."""
    monkeypatch.syspath_prepend(str(ROOT))


def _race(url: str, product_id: str, *, waitlist: bool) -> list[tuple[str, str, str]]:
    """One process per student, all enrolling in ``product_id`` at once."""
    barrier = SPAWN.Barrier(PROCESSES)
    results = SPAWN.Queue()
    workers = [
        SPAWN.Process(
            target=pg_seat_workers.enroll_worker,
            args=(url, f"racer-{n}", product_id, waitlist, barrier, results),
        )
        for n in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert [w.exitcode for w in workers] == [0] * len(workers)
    return outcomes


def _program(system: PaymentSystem) -> Product:
    """A program of LIMIT seats with TAKEN of them enrolled already."""
    program = system.register_product(
        product_type="program",
        product_id="cohort-1",
        name="Cohort",
        price=Money.of("500.00", "USD"),
        payment_plan=FullPayment(),
    )
    system.set_seat_limit(program.id, LIMIT)
    for n in range(TAKEN):
        system.enroll(user_id=f"early-{n}", product_id=program.id)
    return program


@pytest.mark.usefixtures("spawnable")
def test_eight_processes_race_for_the_last_three_seats(pg_url: str) -> None:
    """Three enroll, five are told the program is full; nothing of theirs is written."""
    store = SqlStore.from_url(pg_url)
    system = PaymentSystem(store=store)
    program = _program(system)
    audit_before = len(system.audit_log())
    events_before = len(system.list_events())

    outcomes = _race(pg_url, program.id, waitlist=False)

    free = LIMIT - TAKEN
    assert Counter(outcome for _, outcome, _ in outcomes) == {
        "enrolled": free,
        "full": PROCESSES - free,
    }
    assert {detail for _, outcome, detail in outcomes if outcome == "full"} == {
        f"{program.id}:{LIMIT}"
    }
    winners = sorted(detail for _, outcome, detail in outcomes if outcome == "enrolled")
    enrollments = system.list_enrollments()
    assert len(enrollments) == LIMIT
    racers = sorted(e.id for e in enrollments if e.user_id.startswith("racer-"))
    assert racers == winners
    assert len(system.list_schedule_items()) == LIMIT
    view = system.seats(program.id)
    assert (view.counts.taken, view.counts.reserved, view.counts.free) == (LIMIT, LIMIT, 0)
    assert sorted(s.enrollment_id or "" for s in view.seats) == sorted(e.id for e in enrollments)
    assert {s.status for s in view.seats} == {SeatStatus.RESERVED}
    new_events = Counter(e.kind for e in system.list_events()[events_before:])
    assert (new_events["enrollment.created"], new_events["seat.reserved"]) == (free, free)
    # Each winner wrote its enrollment's entry and its seat's; the losers nothing.
    assert len(system.audit_log()) == audit_before + 2 * free
    assert system.verify_audit_chain().ok
    store.close()


@pytest.mark.usefixtures("spawnable")
def test_the_losers_of_a_race_join_the_waitlist_once_each(pg_url: str) -> None:
    """Racers refused a seat join the line: five entries, no offer, the limit kept."""
    store = SqlStore.from_url(pg_url)
    system = PaymentSystem(store=store)
    program = _program(system)

    outcomes = _race(pg_url, program.id, waitlist=True)

    free = LIMIT - TAKEN
    assert Counter(outcome for _, outcome, _ in outcomes) == {
        "enrolled": free,
        "waitlisted": PROCESSES - free,
    }
    view = system.seats(program.id)
    assert (view.counts.taken, view.counts.free, view.offers) == (LIMIT, 0, ())
    waitlisted = sorted(user for user, outcome, _ in outcomes if outcome == "waitlisted")
    assert sorted(e.user_id for e in view.waiting) == waitlisted
    assert len({e.id for e in view.waiting}) == PROCESSES - free
    store.close()
