"""What the task-queue integrations share: the worker's system and each task's work.

:mod:`enrollpay.integrations.celery` and
:mod:`enrollpay.integrations.procrastinate` wrap these functions in their
engine's tasks, so both engines do exactly the same work; this module
imports neither engine.

**How a worker builds its system.** ``ENROLLPAY_SYSTEM_FACTORY`` names a
zero-argument callable as ``"package.module:attribute"`` (for example
``"myapp.payments:build_system"``) that returns the
:class:`~enrollpay.PaymentSystem` the tasks run on. It is called once per
worker process, on the first task, and the system is kept for the
process's later tasks (a forked child builds its own: a database pool must
not cross a fork). Unset, the system comes from
:func:`enrollpay.integrations.system_from_env` (``ENROLLPAY_DATABASE_URL``
and the Stripe keys). ``ENROLLPAY_EVENT_HANDLER`` names the handler that
``dispatch_events`` hands each domain event to, in the same form; it may
also be a zero-argument factory marked by a trailing ``()``
(``"myapp.payments:make_handler()"``), called once per process, for a
handler that needs set-up such as
:class:`~enrollpay.notifications.NotificationHandler`.

**Sharded collection.** :func:`start_collection` sweeps once; the engine
then starts ``width`` shard tasks. Each shard (:func:`collect_shard`)
claims up to ``shard_size`` due items with the store's leases
(PostgreSQL: ``FOR UPDATE ... SKIP LOCKED``, so shards running at once never
take the same item and never wait for each other) and charges them; a
shard that found a full share hands on to one more shard, so ``width``
shards stay in flight until nothing due is left, however many items there
are, and no task runs for long. Every charge goes through the same
per-item code as :meth:`~enrollpay.PaymentSystem.collect_due`: its attempt
and idempotency key are written before the gateway is called, so a task
that is retried, redelivered or run twice never charges an item twice; an
item whose task died stays leased until the lease
(``SystemConfig.lease``) expires, and a later collection takes it.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable, Mapping
from typing import Final

from enrollpay.domain.events import DomainEvent
from enrollpay.errors import InvalidInputError
from enrollpay.service.system import PaymentSystem

__all__ = [
    "DEFAULT_SHARD_SIZE",
    "DEFAULT_WIDTH",
    "EVENT_HANDLER_VAR",
    "SYSTEM_FACTORY_VAR",
    "ShardResult",
    "collect_shard",
    "dispatch",
    "event_handler",
    "load_object",
    "reconcile",
    "start_collection",
    "sweep",
    "worker_system",
]

SYSTEM_FACTORY_VAR: Final = "ENROLLPAY_SYSTEM_FACTORY"
EVENT_HANDLER_VAR: Final = "ENROLLPAY_EVENT_HANDLER"
#: Items one shard task claims and charges at most.
DEFAULT_SHARD_SIZE: Final = 50
#: Shard tasks a collection keeps in flight (at least the workers' total concurrency).
DEFAULT_WIDTH: Final = 8

#: A task's result: counts only, so any engine can serialise it as JSON.
Summary = dict[str, int]
ShardResult = Summary

_lock = threading.Lock()
_cache: dict[tuple[int, str, str], object] = {}


def load_object(path: str) -> object:
    """The object that ``"package.module:attribute"`` names (attributes may be dotted).

    Raises :class:`~enrollpay.errors.InvalidInputError` when the path is
    malformed, the module cannot be imported or the attribute is missing.
    """
    module_name, sep, attribute = path.strip().partition(":")
    if not sep or not module_name or not attribute:
        raise InvalidInputError(f"expected 'package.module:attribute', got {path!r}")
    try:
        found: object = importlib.import_module(module_name)
    except ImportError as error:
        raise InvalidInputError(f"cannot import {module_name!r} (from {path!r}): {error}") from None
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise InvalidInputError(f"{path!r}: {module_name} has no {attribute!r}") from None
    return found


def _per_process(kind: str, path: str, build: Callable[[], object]) -> object:
    """What ``build`` made for this process and path (built on first use)."""
    key = (os.getpid(), kind, path)
    with _lock:
        if key not in _cache:
            _cache[key] = build()
        return _cache[key]


def worker_system(environ: Mapping[str, str] = os.environ) -> PaymentSystem:
    """This worker process's :class:`~enrollpay.PaymentSystem` (see the module documentation)."""
    path = (environ.get(SYSTEM_FACTORY_VAR) or "").strip()

    def build() -> PaymentSystem:
        if not path:
            from enrollpay.integrations import system_from_env  # noqa: PLC0415 - no cycle at import

            return system_from_env(environ)
        factory = load_object(path)
        if not callable(factory):
            raise InvalidInputError(f"{SYSTEM_FACTORY_VAR}={path!r} is not callable")
        system = factory()
        if not isinstance(system, PaymentSystem):
            raise InvalidInputError(
                f"{SYSTEM_FACTORY_VAR}={path!r} returned {type(system).__name__}, "
                "not a PaymentSystem"
            )
        return system

    system = _per_process("system", path, build)
    assert isinstance(system, PaymentSystem)  # noqa: S101 - build checked it
    return system


def event_handler(environ: Mapping[str, str] = os.environ) -> Callable[[DomainEvent], object]:
    """The handler ``ENROLLPAY_EVENT_HANDLER`` names, made once per process when a factory."""
    path = (environ.get(EVENT_HANDLER_VAR) or "").strip()
    if not path:
        raise InvalidInputError(
            f"set {EVENT_HANDLER_VAR} to the handler of dispatch_events "
            "('package.module:handler', or 'package.module:make_handler()')"
        )

    def build() -> object:
        if path.endswith("()"):
            factory = load_object(path[:-2])
            if not callable(factory):
                raise InvalidInputError(f"{EVENT_HANDLER_VAR}={path!r} is not callable")
            return factory()
        return load_object(path)

    handler = _per_process("handler", path, build)
    if not callable(handler):
        raise InvalidInputError(f"{EVENT_HANDLER_VAR}={path!r} is not a callable handler")
    return handler


def _positive(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(f"{name} must be a positive int, got {value!r}")
    return value


def start_collection(
    system: PaymentSystem, *, width: int = DEFAULT_WIDTH, shard_size: int = DEFAULT_SHARD_SIZE
) -> Summary:
    """Sweep once before a fanned-out collection; the engine then starts ``width`` shards.

    Both numbers are checked first (a typed error, nothing swept or sent).
    """
    shards = _positive("width", width)
    _positive("shard_size", shard_size)
    swept = system.sweep()
    return {
        "shards": shards,
        "items_overdue": swept.items_overdue,
        "enrollments_changed": swept.changed,
        "suspended": swept.suspended,
        "items_reminded": swept.items_reminded,
    }


def collect_shard(system: PaymentSystem, *, shard_size: int = DEFAULT_SHARD_SIZE) -> ShardResult:
    """Claim and charge up to ``shard_size`` due items; ``more`` is 1 when the share was full."""
    size = _positive("shard_size", shard_size)
    report = system.collect_due(limit=size, sweep=False, keep_outcomes=False)
    collected = sum(report.counted.values()) if report.counted is not None else 0
    return {
        "collected": collected,
        "charged": report.charged,
        "succeeded": report.succeeded,
        "failed": report.failed,
        "requires_action": report.requires_action,
        "more": int(collected >= size),
    }


def sweep(system: PaymentSystem) -> Summary:
    """Run :meth:`~enrollpay.PaymentSystem.sweep` and count what it did."""
    swept = system.sweep()
    return {
        "checked": swept.checked,
        "items_overdue": swept.items_overdue,
        "enrollments_changed": swept.changed,
        "suspended": swept.suspended,
        "items_reminded": swept.items_reminded,
    }


def reconcile(system: PaymentSystem) -> Summary:
    """Run :meth:`~enrollpay.PaymentSystem.reconcile` and count what it did."""
    done = system.reconcile()
    return {
        "checked": done.checked,
        "resolved": done.resolved,
        "resent": done.resent,
        "still_unknown": done.still_unknown,
        "settling": done.settling,
        "refunds_completed": done.refunds_completed,
        "refunds_failed": done.refunds_failed,
        "needs_person": int(done.needs_person),
    }


def dispatch(
    system: PaymentSystem, handler: Callable[[DomainEvent], object], *, limit: int | None = None
) -> Summary:
    """Run :meth:`~enrollpay.PaymentSystem.dispatch_events` (one dispatcher at a time)."""
    return {"delivered": system.dispatch_events(handler, limit=limit)}
