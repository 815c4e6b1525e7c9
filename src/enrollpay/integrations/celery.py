"""Celery tasks for the scheduled jobs: sharded ``collect_due``, ``sweep``, ``reconcile``, events.

Install the ``celery`` extra and import this module in the worker (list it
in the app's ``include``, or import it where the app is made): the tasks
are shared tasks, so they bind to whichever Celery app the worker runs.

=============================  ====================================================
task name                      what it does
=============================  ====================================================
``enrollpay.collect_due``      sweeps once, then sends ``width`` shard tasks
``enrollpay.collect_shard``    charges up to ``shard_size`` due items, claimed
                               with ``SKIP LOCKED``; a full shard sends one more
``enrollpay.sweep``            :meth:`~enrollpay.PaymentSystem.sweep`
``enrollpay.reconcile``        :meth:`~enrollpay.PaymentSystem.reconcile`
``enrollpay.dispatch_events``  :meth:`~enrollpay.PaymentSystem.dispatch_events`
                               to the ``ENROLLPAY_EVENT_HANDLER``
=============================  ====================================================

Each worker process builds its :class:`~enrollpay.PaymentSystem` once, from
``ENROLLPAY_SYSTEM_FACTORY`` (see :mod:`enrollpay.integrations.tasks`).
Every task acknowledges its message late (after it ran) and is rejected back
to the queue when its worker process is lost, so a task may run again: that
is safe, because a shard only charges items it has just leased and every
charge carries its attempt's idempotency key. Results are counts only
(JSON). :data:`BEAT_SCHEDULE` (or :func:`beat_schedule` for other times)
is a ``beat_schedule`` to put in the app's configuration.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final

from celery import shared_task
from celery.schedules import crontab

from enrollpay.integrations import tasks
from enrollpay.integrations.tasks import DEFAULT_SHARD_SIZE, DEFAULT_WIDTH, Summary

__all__ = [
    "BEAT_SCHEDULE",
    "beat_schedule",
    "collect_due",
    "collect_shard",
    "dispatch_events",
    "reconcile",
    "sweep",
]

Schedule = crontab | timedelta | float


@shared_task(name="enrollpay.collect_shard", acks_late=True, reject_on_worker_lost=True)
def collect_shard(shard_size: int = DEFAULT_SHARD_SIZE) -> Summary:
    """Charge up to ``shard_size`` due items; when the share was full, send one more shard."""
    done = tasks.collect_shard(tasks.worker_system(), shard_size=shard_size)
    if done["more"]:
        collect_shard.delay(shard_size)
    return done


@shared_task(name="enrollpay.collect_due", acks_late=True, reject_on_worker_lost=True)
def collect_due(width: int = DEFAULT_WIDTH, shard_size: int = DEFAULT_SHARD_SIZE) -> Summary:
    """Sweep, then fan the collection out: ``width`` shards of ``shard_size`` items at a time."""
    started = tasks.start_collection(tasks.worker_system(), width=width, shard_size=shard_size)
    for _ in range(width):
        collect_shard.delay(shard_size)
    return started


@shared_task(name="enrollpay.sweep", acks_late=True, reject_on_worker_lost=True)
def sweep() -> Summary:
    """Let the calendar move statuses (overdue items, suspensions, reminders)."""
    return tasks.sweep(tasks.worker_system())


@shared_task(name="enrollpay.reconcile", acks_late=True, reject_on_worker_lost=True)
def reconcile() -> Summary:
    """Resolve unknown outcomes and re-sync the gateway's record."""
    return tasks.reconcile(tasks.worker_system())


@shared_task(name="enrollpay.dispatch_events", acks_late=True, reject_on_worker_lost=True)
def dispatch_events(limit: int | None = None) -> Summary:
    """Hand undelivered domain events to the ``ENROLLPAY_EVENT_HANDLER`` in order."""
    return tasks.dispatch(tasks.worker_system(), tasks.event_handler(), limit=limit)


def beat_schedule(
    *,
    collect: Schedule | None = crontab(minute="0"),  # noqa: B008 - an immutable schedule
    sweep: Schedule | None = crontab(minute="5", hour="0"),  # noqa: B008
    reconcile: Schedule | None = crontab(minute="30"),  # noqa: B008
    dispatch_events: Schedule | None = timedelta(seconds=30),
    width: int = DEFAULT_WIDTH,
    shard_size: int = DEFAULT_SHARD_SIZE,
) -> dict[str, dict[str, Any]]:
    """A Celery ``beat_schedule`` for the jobs; ``None`` leaves a job out.

    Defaults: collection every hour on the hour (retries fall due at any
    hour; a run with nothing due costs one sweep and ``width`` empty
    claims), a sweep at 00:05 for the days nothing is collected, reconcile
    every hour at half past, and the outbox every 30 seconds (leave it out
    if no ``ENROLLPAY_EVENT_HANDLER`` is set). Times are the app's
    ``timezone`` (UTC by default).
    """
    entries: dict[str, dict[str, Any]] = {}
    if collect is not None:
        entries["enrollpay.collect_due"] = {
            "task": "enrollpay.collect_due",
            "schedule": collect,
            "kwargs": {"width": width, "shard_size": shard_size},
        }
    for name, when in (
        ("enrollpay.sweep", sweep),
        ("enrollpay.reconcile", reconcile),
        ("enrollpay.dispatch_events", dispatch_events),
    ):
        if when is not None:
            entries[name] = {"task": name, "schedule": when}
    return entries


#: :func:`beat_schedule` with its defaults.
BEAT_SCHEDULE: Final = beat_schedule()
