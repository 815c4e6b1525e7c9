"""Procrastinate tasks for the scheduled jobs, for schools that run only PostgreSQL.

Install the ``procrastinate`` extra, then register the blueprint on the
app the workers run (its ``PsycopgConnector`` on the same PostgreSQL, or
another one)::

    from procrastinate import App, PsycopgConnector
    from enrollpay.integrations.procrastinate import blueprint

    app = App(connector=PsycopgConnector(conninfo="postgresql://..."))
    app.add_tasks_from(blueprint, namespace="enrollpay")

The tasks are those of :mod:`enrollpay.integrations.celery`, named
``enrollpay:collect_due`` (sweeps, then defers ``width`` shards),
``enrollpay:collect_shard`` (charges up to ``shard_size`` due items claimed
with ``SKIP LOCKED``; a full shard defers one more), ``enrollpay:sweep``,
``enrollpay:reconcile`` and ``enrollpay:dispatch_events``, and do the
same work (:mod:`enrollpay.integrations.tasks`): each worker process
builds its :class:`~enrollpay.PaymentSystem` once, from
``ENROLLPAY_SYSTEM_FACTORY``, and a job that runs twice charges nothing
twice. Procrastinate's workers defer periodic jobs themselves, so there is
no separate beat: :data:`blueprint` carries the default schedule, and
:func:`make_blueprint` takes other cron lines (``None`` leaves a job out).
A job whose worker died stays ``doing`` in Procrastinate; its items are
taken by the next collection once their leases expire.
"""

from __future__ import annotations

from typing import Final

from procrastinate import Blueprint
from procrastinate.types import JSONDict

from enrollpay.integrations import tasks
from enrollpay.integrations.tasks import DEFAULT_SHARD_SIZE, DEFAULT_WIDTH, Summary

__all__ = ["blueprint", "make_blueprint"]


def make_blueprint(
    *,
    collect: str | None = "0 * * * *",
    sweep: str | None = "5 0 * * *",
    reconcile: str | None = "30 * * * *",
    dispatch_events: str | None = "* * * * *",
    width: int = DEFAULT_WIDTH,
    shard_size: int = DEFAULT_SHARD_SIZE,
) -> Blueprint:
    """A blueprint of the five tasks with these cron schedules (``None``: not periodic).

    The defaults match :func:`enrollpay.integrations.celery.beat_schedule`:
    collection every hour, a sweep at 00:05, reconcile at half past every
    hour, and the outbox every minute (leave it out when no
    ``ENROLLPAY_EVENT_HANDLER`` is set). ``width`` and ``shard_size`` are
    what the periodic collection uses.
    """
    bp = Blueprint()

    @bp.task(name="collect_shard")
    def collect_shard(shard_size: int = DEFAULT_SHARD_SIZE) -> Summary:
        """Charge up to ``shard_size`` due items; when the share was full, defer one more shard."""
        done = tasks.collect_shard(tasks.worker_system(), shard_size=shard_size)
        if done["more"]:
            collect_shard.defer(shard_size=shard_size)
        return done

    @bp.task(name="collect_due")
    def collect_due(
        width: int = DEFAULT_WIDTH,
        shard_size: int = DEFAULT_SHARD_SIZE,
        timestamp: int | None = None,
    ) -> Summary:
        """Sweep, then fan out ``width`` shards (``timestamp``: set by a periodic defer)."""
        started = tasks.start_collection(tasks.worker_system(), width=width, shard_size=shard_size)
        shard: JSONDict = {"shard_size": shard_size}
        collect_shard.batch_defer(*[shard] * width)  # one round trip for the whole fan-out
        return started

    @bp.task(name="sweep")
    def sweep_task(timestamp: int | None = None) -> Summary:
        """Let the calendar move statuses (overdue items, suspensions, reminders)."""
        return tasks.sweep(tasks.worker_system())

    @bp.task(name="reconcile")
    def reconcile_task(timestamp: int | None = None) -> Summary:
        """Resolve unknown outcomes and re-sync the gateway's record."""
        return tasks.reconcile(tasks.worker_system())

    @bp.task(name="dispatch_events")
    def dispatch_task(limit: int | None = None, timestamp: int | None = None) -> Summary:
        """Hand undelivered domain events to the ``ENROLLPAY_EVENT_HANDLER`` in order."""
        return tasks.dispatch(tasks.worker_system(), tasks.event_handler(), limit=limit)

    if collect is not None:
        bp.periodic(
            cron=collect,
            periodic_id="collect",
            task_kwargs={"width": width, "shard_size": shard_size},
        )(collect_due)
    for cron, task, periodic_id in (
        (sweep, sweep_task, "sweep"),
        (reconcile, reconcile_task, "reconcile"),
        (dispatch_events, dispatch_task, "dispatch"),
    ):
        if cron is not None:
            bp.periodic(cron=cron, periodic_id=periodic_id)(task)
    return bp


#: The tasks on the default schedule (see :func:`make_blueprint`).
blueprint: Final = make_blueprint()
