"""The task-queue integrations in one process: the factory setting, each task's work, schedules.

The real worker processes and brokers are in tests/integration
(test_celery_workers.py, test_procrastinate_workers.py); here the tasks run
eagerly (Celery) or on Procrastinate's in-memory connector, over the
in-memory store and the fake gateway.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from celery import Celery
from celery.schedules import crontab
from procrastinate import App
from procrastinate.testing import InMemoryConnector

from enrollpay import Installments, Money, PaymentSystem, PlanRule
from enrollpay.errors import InvalidInputError
from enrollpay.integrations import celery as celery_tasks
from enrollpay.integrations import tasks
from enrollpay.integrations.procrastinate import blueprint, make_blueprint
from enrollpay.storage.memory import InMemoryStore
from enrollpay.storage.sql import SqlStore
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds

from . import queue_support

SUPPORT = "tests.integrations.queue_support"
START = datetime(2027, 3, 15, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    """A frozen clock on a Monday morning."""
    return FrozenClock(START)


@pytest.fixture
def fake(clock: FrozenClock) -> FakeGateway:
    """The fake gateway on the frozen clock."""
    return FakeGateway(clock=clock)


@pytest.fixture
def system(fake: FakeGateway, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch) -> PaymentSystem:
    """The system the factory setting names; per-process caches start empty."""
    made = PaymentSystem(store=InMemoryStore(), gateway=fake, clock=clock, ids=SequentialIds())
    monkeypatch.setattr(queue_support, "current", [made])
    monkeypatch.setattr(queue_support, "built", [])
    monkeypatch.setattr(queue_support, "handled", [])
    monkeypatch.setattr(tasks, "_cache", {})
    monkeypatch.setenv(tasks.SYSTEM_FACTORY_VAR, f"{SUPPORT}:system")
    return made


def _due(system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, count: int) -> int:
    """``count`` students whose second of two installments is due now (the first paid).

    Returns how many charges the gateway has made so far (the on-session ones).
    """
    course = system.register_product(
        product_type="course",
        product_id="c-1",
        name="Course",
        price=Money.of("200.00", "USD"),
        auto_assign_payment_plan=True,
    )
    system.set_plan_rules([PlanRule(plan=Installments(2))])
    for n in range(count):
        result = system.enroll(user_id=f"u-{n}", product_id=course.id)
        assert result.client_secret is not None
        fake.complete_payment(result.client_secret)
    fake.deliver(system)
    clock.advance(days=31)
    return len(fake.charges)


def _keys_since(fake: FakeGateway, start: int) -> Counter[str]:
    """How often each idempotency key was charged, from charge number ``start`` on."""
    return Counter(c.idempotency_key or "" for c in fake.charges[start:])


# -- the factory setting -------------------------------------------------------------------


def test_the_factory_is_called_once_per_process_and_its_system_kept(
    system: PaymentSystem,
) -> None:
    """worker_system() builds from ENROLLPAY_SYSTEM_FACTORY on first use, then reuses it."""
    assert tasks.worker_system() is system
    assert tasks.worker_system() is system
    assert queue_support.built == ["system"]


def test_a_forked_process_builds_its_own_system(
    system: PaymentSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache is per process id: a child of a fork does not reuse its parent's pool."""
    assert tasks.worker_system() is system
    monkeypatch.setattr(os, "getpid", lambda: -1)
    assert tasks.worker_system() is system
    assert queue_support.built == ["system", "system"]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("no_colon_here", "expected 'package.module:attribute'"),
        (":system", "expected 'package.module:attribute'"),
        ("tests.integrations.no_such_module:system", "cannot import"),
        (f"{SUPPORT}:no_such_factory", "has no 'no_such_factory'"),
        (f"{SUPPORT}:NOT_CALLABLE", "is not callable"),
        (f"{SUPPORT}:not_a_system", "returned str, not a PaymentSystem"),
    ],
)
def test_a_bad_factory_setting_is_a_typed_error_naming_it(
    system: PaymentSystem, monkeypatch: pytest.MonkeyPatch, path: str, message: str
) -> None:
    """Malformed, unimportable, missing, not callable, or not returning a system: each says so."""
    monkeypatch.setenv(tasks.SYSTEM_FACTORY_VAR, path)
    with pytest.raises(InvalidInputError, match=message):
        tasks.worker_system()


def test_without_a_factory_the_system_comes_from_the_environment(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unset: system_from_env (ENROLLPAY_DATABASE_URL; no Stripe keys, so no gateway)."""
    monkeypatch.setattr(tasks, "_cache", {})
    environ = {"ENROLLPAY_DATABASE_URL": f"sqlite:///{tmp_path}/worker.db"}
    made = tasks.worker_system(environ)
    assert made.gateway is None
    assert tasks.worker_system(environ) is made
    assert isinstance(made.store, SqlStore)
    made.store.close()


def test_the_event_handler_setting_names_a_handler_or_a_factory(
    system: PaymentSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``:record`` is the handler itself; ``:make_handler()`` is called once per process."""
    monkeypatch.setenv(tasks.EVENT_HANDLER_VAR, f"{SUPPORT}:record")
    assert tasks.event_handler() is queue_support.record
    monkeypatch.setenv(tasks.EVENT_HANDLER_VAR, f"{SUPPORT}:make_handler()")
    assert tasks.event_handler() is queue_support.record
    assert tasks.event_handler() is queue_support.record
    assert queue_support.built == ["handler"]
    monkeypatch.setenv(tasks.EVENT_HANDLER_VAR, f"{SUPPORT}:NOT_CALLABLE")
    with pytest.raises(InvalidInputError, match="not a callable handler"):
        tasks.event_handler()
    monkeypatch.setenv(tasks.EVENT_HANDLER_VAR, f"{SUPPORT}:NOT_CALLABLE()")
    with pytest.raises(InvalidInputError, match="is not callable"):
        tasks.event_handler()
    monkeypatch.delenv(tasks.EVENT_HANDLER_VAR)
    with pytest.raises(InvalidInputError, match="set ENROLLPAY_EVENT_HANDLER"):
        tasks.event_handler()


# -- each task's work ------------------------------------------------------------------------


def test_a_shard_charges_at_most_its_size_and_says_whether_more_may_wait(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock
) -> None:
    """5 due items, shards of 2: 2 (more), 2 (more), 1 (done); each charged once."""
    on_session = _due(system, fake, clock, 5)
    shards = [tasks.collect_shard(system, shard_size=2) for _ in range(3)]
    assert [(s["collected"], s["succeeded"], s["more"]) for s in shards] == [
        (2, 2, 1),
        (2, 2, 1),
        (1, 1, 0),
    ]
    assert tasks.collect_shard(system, shard_size=2)["collected"] == 0
    keys = _keys_since(fake, on_session)
    assert len(keys) == 5
    assert set(keys.values()) == {1}


def test_collect_due_without_the_sweep_leaves_it_to_the_fan_out(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock
) -> None:
    """collect_due(sweep=False) reports no sweep and leaves the reminders to a later sweep."""
    _due(system, fake, clock, 2)
    clock.set(START + timedelta(days=28))  # 3 days before the second installments fall due
    report = system.collect_due(sweep=False)
    assert report.sweep is None
    assert report.outcomes == ()
    assert system.sweep().items_reminded == 2  # nothing had reminded them yet
    assert system.collect_due().sweep is not None


@pytest.mark.parametrize(("width", "shard_size"), [(0, 10), (2, 0), (True, 10), (2, 1.5)])
def test_a_fan_out_with_bad_numbers_sweeps_nothing(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, width: object, shard_size: object
) -> None:
    """Width and shard_size must be positive ints; the check comes before the sweep."""
    _due(system, fake, clock, 1)
    clock.set(START + timedelta(days=28))  # 3 days before the second installments fall due
    with pytest.raises(InvalidInputError, match="must be a positive int"):
        tasks.start_collection(system, width=width, shard_size=shard_size)  # type: ignore[arg-type]
    assert system.sweep().items_reminded == 1  # the failed fan-out had not swept


def test_sweep_reconcile_and_dispatch_report_counts(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The three other tasks run the facade's jobs and return their counts (JSON-ready)."""
    _due(system, fake, clock, 2)
    clock.set(START + timedelta(days=28))  # 3 days before the second installments fall due
    assert tasks.sweep(system)["items_reminded"] == 2
    assert tasks.reconcile(system)["needs_person"] == 0
    monkeypatch.setenv(tasks.EVENT_HANDLER_VAR, f"{SUPPORT}:record")
    delivered = tasks.dispatch(system, tasks.event_handler())["delivered"]
    assert delivered == len(queue_support.handled) > 0
    assert len(set(queue_support.handled)) == delivered
    assert tasks.dispatch(system, tasks.event_handler())["delivered"] == 0


# -- Celery ------------------------------------------------------------------------------------


@pytest.fixture
def eager_celery() -> Iterator[Celery]:
    """A current Celery app that runs every sent task at once, in this process."""
    app = Celery("enrollpay-unit", set_as_current=True)
    app.conf.update(task_always_eager=True, task_eager_propagates=True)
    yield app
    app.close()


@pytest.mark.usefixtures("eager_celery")
def test_the_celery_fan_out_chains_shards_until_nothing_is_due(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock
) -> None:
    """collect_due(width=2, shard_size=3) over 10 due items: all paid once, then a no-op rerun."""
    on_session = _due(system, fake, clock, 10)
    started = celery_tasks.collect_due.delay(width=2, shard_size=3).get()
    assert started["shards"] == 2
    keys = _keys_since(fake, on_session)
    assert len(keys) == 10
    assert set(keys.values()) == {1}
    assert len(system.list_schedule_items(status=["paid"])) == 20
    assert celery_tasks.collect_shard.delay(3).get()["collected"] == 0  # a rerun: nothing


def test_the_celery_tasks_ack_late_and_requeue_when_their_worker_dies() -> None:
    """Every task: acks_late and reject_on_worker_lost, under its documented name."""
    named: dict[Any, str] = {
        celery_tasks.collect_due: "enrollpay.collect_due",
        celery_tasks.collect_shard: "enrollpay.collect_shard",
        celery_tasks.sweep: "enrollpay.sweep",
        celery_tasks.reconcile: "enrollpay.reconcile",
        celery_tasks.dispatch_events: "enrollpay.dispatch_events",
    }
    for task, name in named.items():
        assert task.name == name
        assert task.acks_late is True
        assert task.reject_on_worker_lost is True


def test_the_beat_schedule_names_each_task_and_can_leave_one_out() -> None:
    """Four entries by default; None drops one; the collection carries width and shard size."""
    default = celery_tasks.BEAT_SCHEDULE
    assert sorted(default) == [
        "enrollpay.collect_due",
        "enrollpay.dispatch_events",
        "enrollpay.reconcile",
        "enrollpay.sweep",
    ]
    assert {name: entry["task"] for name, entry in default.items()} == {n: n for n in default}
    assert default["enrollpay.collect_due"]["schedule"] == crontab(minute="0")
    custom = celery_tasks.beat_schedule(
        dispatch_events=None, collect=timedelta(minutes=15), width=4, shard_size=100
    )
    assert "enrollpay.dispatch_events" not in custom
    assert custom["enrollpay.collect_due"]["schedule"] == timedelta(minutes=15)
    assert custom["enrollpay.collect_due"]["kwargs"] == {"width": 4, "shard_size": 100}


# -- Procrastinate ---------------------------------------------------------------------------


def test_the_procrastinate_fan_out_runs_on_a_worker_until_nothing_is_due(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock
) -> None:
    """On the in-memory connector: the fan-out defers shards, shards defer more, all paid once."""
    on_session = _due(system, fake, clock, 7)
    app = App(connector=InMemoryConnector())
    app.add_tasks_from(
        make_blueprint(collect=None, sweep=None, reconcile=None, dispatch_events=None),
        namespace="enrollpay",
    )

    def defer_and_work() -> None:
        with app.open():
            app.configure_task("enrollpay:collect_due").defer(width=2, shard_size=2)
            app.run_worker(wait=False, install_signal_handlers=False, listen_notify=False)

    # In a thread of its own: Procrastinate's sync calls refuse a thread with a
    # running event loop, and an earlier test (a browser driver) may leave one here.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(defer_and_work).result(timeout=120)
    keys = _keys_since(fake, on_session)
    assert len(keys) == 7
    assert set(keys.values()) == {1}
    assert len(system.list_schedule_items(status=["paid"])) == 14


def test_the_procrastinate_blueprint_schedules_the_jobs_and_can_leave_one_out() -> None:
    """The default blueprint: five tasks, four periodic; None drops one from the schedule."""
    assert sorted(blueprint.tasks) == [
        "collect_due",
        "collect_shard",
        "dispatch_events",
        "reconcile",
        "sweep",
    ]
    registered = blueprint.periodic_registry.periodic_tasks.values()
    periodic = {(p.task.name, p.periodic_id): p.cron for p in registered}
    assert periodic == {
        ("collect_due", "collect"): "0 * * * *",
        ("sweep", "sweep"): "5 0 * * *",
        ("reconcile", "reconcile"): "30 * * * *",
        ("dispatch_events", "dispatch"): "* * * * *",
    }
    fewer = make_blueprint(dispatch_events=None, collect="*/15 * * * *")
    crons = {p.periodic_id: p.cron for p in fewer.periodic_registry.periodic_tasks.values()}
    assert crons == {"collect": "*/15 * * * *", "sweep": "5 0 * * *", "reconcile": "30 * * * *"}


def test_the_shared_task_module_imports_neither_engine() -> None:
    """enrollpay.integrations.tasks needs no extra: each engine's module brings its own."""
    probe = (
        "import sys, enrollpay.integrations.tasks\n"
        "print(sorted(m for m in ('celery', 'kombu', 'procrastinate') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"
