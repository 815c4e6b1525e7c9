"""Charging what is due off-session: ``collect_due`` and ``retry_now``.

Each item is charged by :func:`enrollpay.service.charge.collect_item`; the
thread pool of ``collect_due(concurrency=N)`` is in :mod:`.parallel`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime

import attrs

from enrollpay.domain.calendar import ensure_aware
from enrollpay.domain.lifecycle import ItemStatus
from enrollpay.domain.records import ScheduleItem
from enrollpay.errors import InvalidInputError, InvalidStateError
from enrollpay.gateways.ratelimit import ThrottledGateway, TokenBucket
from enrollpay.ports import Gateway
from enrollpay.service.attempts import lock_chargeable_item
from enrollpay.service.charge import collect_item
from enrollpay.service.context import Context
from enrollpay.service.parallel import collect_concurrently
from enrollpay.service.results import CollectionReport, ItemOutcome, OutcomeLog
from enrollpay.service.sweep import sweep

__all__ = ["collect_due", "retry_now"]

# Logs ids, statuses and decline codes only: never client secrets or card data.
logger = logging.getLogger(__name__)

# Not requires_action: that payment waits for the customer to authenticate it
# (start_payment reopens it); a second one beside it could be paid twice.
_RETRYABLE = frozenset(
    {
        ItemStatus.SCHEDULED,
        ItemStatus.FAILED,
        ItemStatus.REQUIRES_PAYMENT_METHOD,
        ItemStatus.DEFAULTED,
    }
)


def collect_due(
    ctx: Context,
    now: datetime | None = None,
    limit: int | None = None,
    *,
    progress: Callable[[ItemOutcome], None] | None = None,
    concurrency: int | None = None,
    rate_limit: float | TokenBucket | None = None,
    keep_outcomes: bool = True,
    sweep_first: bool = True,
) -> CollectionReport:
    """Sweep (see :mod:`.sweep`), then charge every item that is due (retries included).

    ``sweep_first=False`` skips the sweep: a shard of a collection fanned out
    over task-queue workers runs after the one sweep its fan-out made.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidInputError(f"limit must be a positive int, got {limit!r}")
    at = ensure_aware(now, "now") if now is not None else ctx.now()
    gateway = ctx.gateway
    outcomes = OutcomeLog(keep=keep_outcomes)
    if gateway is None:
        return CollectionReport(sweep=sweep(ctx, at) if sweep_first else None)
    workers, bucket = _throughput_settings(ctx, concurrency, rate_limit)
    swept = sweep(ctx, at) if sweep_first else None
    if bucket is not None:
        gateway = ThrottledGateway(gateway, bucket)
    if workers > 1:
        outcomes.extend(_collect_in_threads(ctx, gateway, at, limit, workers, progress))
    while workers == 1 and (limit is None or len(outcomes) < limit):
        size = (
            ctx.config.batch_size
            if limit is None
            else min(ctx.config.batch_size, limit - len(outcomes))
        )
        batch = _claim(ctx, at, size)
        if not batch:
            break
        for item in batch:
            outcome = _collect_claimed(ctx, gateway, item)
            outcomes.append(outcome)
            if progress is not None:
                progress(outcome)
    report = attrs.evolve(outcomes.report(), sweep=swept)
    if outcomes:
        logger.info("collect_due: %s", report.summary())
    return report


def _throughput_settings(
    ctx: Context, concurrency: int | None, rate_limit: float | TokenBucket | None
) -> tuple[int, TokenBucket | None]:
    """The thread count and the rate limiter of one ``collect_due`` run."""
    workers = ctx.config.collect_concurrency if concurrency is None else concurrency
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidInputError(f"concurrency must be a positive int, got {workers!r}")
    rate = ctx.config.gateway_rate_limit if rate_limit is None else rate_limit
    if rate is None or isinstance(rate, TokenBucket):
        return workers, rate
    return workers, TokenBucket(rate)


def _collect_in_threads(  # noqa: PLR0917 - a private step: the old method's arguments and ctx
    ctx: Context,
    gateway: Gateway,
    at: datetime,
    limit: int | None,
    workers: int,
    progress: Callable[[ItemOutcome], None] | None,
) -> Iterator[ItemOutcome]:
    """The items' outcomes as ``workers`` threads collect them (see :mod:`.parallel`)."""
    for outcome in collect_concurrently(
        claim=lambda size: _claim(ctx, at, size),
        collect=lambda item: _collect_claimed(ctx, gateway, item),
        workers=workers,
        batch_size=ctx.config.batch_size,
        limit=limit,
    ):
        if progress is not None:
            progress(outcome)
        yield outcome


def _claim(ctx: Context, at: datetime, size: int) -> list[ScheduleItem]:
    """Lease up to ``size`` collectible items (one transaction)."""
    with ctx.unit() as tx:
        return tx.claim_due(
            today=ctx.today(at), now=at, lease_until=at + ctx.config.lease, limit=size
        )


def _collect_claimed(ctx: Context, gateway: Gateway, item: ScheduleItem) -> ItemOutcome:
    """Collect an item this run has leased, and log its outcome."""
    assert item.lease_until is not None  # noqa: S101 - claim_due sets it
    outcome = collect_item(
        ctx, gateway, item.id, item.lease_until, item.enrollment_id, automatic=True
    )
    logger.debug(
        "collected item %s: %s (attempt %s, decline %s)",
        outcome.item_id,
        outcome.result,
        outcome.attempt_id,
        outcome.decline_code,
    )
    return outcome


def retry_now(ctx: Context, item_id: str, *, actor: str = "customer") -> ItemOutcome:
    """Charge one failed, defaulted or card-less item immediately (once)."""
    gateway = ctx.require_gateway()
    now = ctx.now()
    lease = now + ctx.config.lease
    with ctx.unit() as tx:
        item = lock_chargeable_item(ctx, tx, item_id)
        if item.status not in _RETRYABLE or (
            item.lease_until is not None and item.lease_until > now
        ):
            raise InvalidStateError(f"schedule item {item_id!r} is {item.status}; nothing to retry")
        tx.update_item(attrs.evolve(item, lease_until=lease))
        ctx.audit(
            tx,
            actor=actor,
            action="payment.retry_requested",
            entity_type="schedule_item",
            entity_id=item_id,
        )
    return collect_item(ctx, gateway, item_id, lease)
