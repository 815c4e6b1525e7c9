"""Drift re-sync: walk the gateway's own record since the cursor and set the store right.

``reconcile`` ends with this walk when its gateway lists its record
(:class:`~enrollpay.ports.LedgerGateway`). For each kind of object, in the
order of :data:`WALKS` (payments, then refunds and disputes, so a refund or
a dispute finds the payment the same run recorded):

1. the kind's cursor is read, and the gateway lists what it created since
   the cursor less ``config.drift_overlap`` (the first time: the last
   ``config.drift_lookback``), newest first, a page per request. A kind
   whose objects change long after they were made reaches further back:
   disputes are decided weeks after they open, so their walk starts no
   later than ``drift_lookback`` before the oldest dispute the store holds
   undecided, and a lost ``won`` or ``lost`` webhook is found all the same;
2. each page is looked up, compared and applied
   (:mod:`enrollpay.service.drift_apply`): an applicable difference in a
   transaction of its own, as the lost webhook would have applied it;
3. once every kind has been read and every page stored, each kind whose
   listing was read to its end has its cursor moved to its newest object's
   creation time (one transaction for all kinds).

Nothing but step 3 moves a cursor. A crash, or a gateway that stops
answering halfway, leaves it where it was: the next run reads the same
objects again, and what was applied then compares as in sync. Reading only
what is newer than the cursor keeps an hourly run cheap; the overlap
window catches objects the gateway lists a little after they were made.

A kind of object joins the walk with a listing verb on the port, a pure
comparison in :mod:`enrollpay.domain.drift`, a page settler, and an entry in
:data:`WALKS`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import attrs

from enrollpay.domain.disputes import UNDECIDED_DISPUTES
from enrollpay.errors import GatewayUnavailableError
from enrollpay.ports import (
    Gateway,
    LedgerDispute,
    LedgerGateway,
    LedgerKind,
    LedgerPayment,
    LedgerRefund,
    LivemodeAware,
    StoreReader,
    SyncCursor,
)
from enrollpay.service.context import Context
from enrollpay.service.drift_apply import settle_payments, settle_refunds
from enrollpay.service.drift_disputes import settle_disputes
from enrollpay.service.drift_report import DriftEntry, DriftReport

__all__ = ["WALKS", "Walk", "cursor_source", "resync"]

logger = logging.getLogger(__name__)


@attrs.frozen
class Walk:
    """One kind of gateway object: how to list it, and how to settle a page of it."""

    kind: LedgerKind
    pages: Callable[[LedgerGateway, datetime], Iterator[Sequence[Any]]]
    settle: Callable[[Context, Sequence[Any]], list[DriftEntry]]
    #: The oldest instant the walk must reach whatever its cursor says (None: the cursor's).
    reach: Callable[[StoreReader], datetime | None] | None = None


def _payments(gateway: LedgerGateway, since: datetime) -> Iterator[Sequence[LedgerPayment]]:
    return gateway.list_payments(since=since)


def _refunds(gateway: LedgerGateway, since: datetime) -> Iterator[Sequence[LedgerRefund]]:
    return gateway.list_refunds(since=since)


def _disputes(gateway: LedgerGateway, since: datetime) -> Iterator[Sequence[LedgerDispute]]:
    return gateway.list_disputes(since=since)


def _undecided_disputes(view: StoreReader) -> datetime | None:
    """When the oldest dispute the store holds undecided was first reported."""
    undecided = view.list_disputes(statuses=UNDECIDED_DISPUTES)
    return min((d.opened_at for d in undecided), default=None)


#: The kinds walked, in order.
WALKS: Final = (
    Walk("payments", _payments, settle_payments),
    Walk("refunds", _refunds, settle_refunds),
    Walk("disputes", _disputes, settle_disputes, reach=_undecided_disputes),
)


def cursor_source(gateway: Gateway) -> str:
    """The name cursors are kept under: the gateway's, and its mode when it has one.

    A test-mode and a live-mode Stripe account have different records, so
    they keep different cursors (``stripe:test``, ``stripe:live``).
    """
    if isinstance(gateway, LivemodeAware):
        return f"{gateway.name}:{'live' if gateway.livemode else 'test'}"
    return gateway.name


@attrs.define
class _Outcome:
    scanned: int = 0
    entries: list[DriftEntry] = attrs.Factory(list)
    #: Where the cursor stood, then where it stands.
    cursor: datetime | None = None
    #: The newest object the walk read (None: none).
    newest: datetime | None = None
    complete: bool = True


def resync(ctx: Context, gateway: Gateway) -> DriftReport:
    """Walk every kind of the gateway's record since its cursor; apply or report what differs."""
    if not isinstance(gateway, LedgerGateway):
        return DriftReport()
    source = cursor_source(gateway)
    now = ctx.now()
    outcomes = {walk.kind: _walk(ctx, gateway, walk, source, now) for walk in WALKS}
    ctx.checkpoint("drift_before_cursor")
    _move_cursors(ctx, source, outcomes, now)
    report = DriftReport(
        listed=True,
        scanned={kind: o.scanned for kind, o in outcomes.items()},
        entries=tuple(e for o in outcomes.values() for e in o.entries),
        cursors={kind: o.cursor for kind, o in outcomes.items()},
        incomplete=tuple(kind for kind, o in outcomes.items() if not o.complete),
    )
    logger.info("reconcile: %s", report.summary())
    for entry in report.entries:
        log = logger.info if entry.applied else logger.warning
        log("drift %s %s: %s %s", entry.kind, entry.gateway_id, entry.detail, entry.change)
    return report


def _walk(ctx: Context, gateway: LedgerGateway, walk: Walk, source: str, now: datetime) -> _Outcome:
    """List one kind since its cursor and settle it page by page (the cursor is not moved)."""
    with ctx.store.reader() as view:
        cursor = view.sync_cursor(source, walk.kind)
        reach = None if walk.reach is None else walk.reach(view)
    if cursor is None:
        since = now - ctx.config.drift_lookback
    else:
        since = cursor.position - ctx.config.drift_overlap
    if reach is not None:
        since = min(since, reach - ctx.config.drift_lookback)
    outcome = _Outcome(cursor=None if cursor is None else cursor.position)
    try:
        for page in walk.pages(gateway, since):
            outcome.entries += walk.settle(ctx, page)
            outcome.scanned += len(page)
            top = max(o.created for o in page)
            outcome.newest = top if outcome.newest is None else max(top, outcome.newest)
    except GatewayUnavailableError as exc:
        logger.warning("reconcile: listing %s stopped (%s); the cursor stays", walk.kind, exc)
        outcome.complete = False
    return outcome


def _move_cursors(
    ctx: Context, source: str, outcomes: Mapping[LedgerKind, _Outcome], now: datetime
) -> None:
    """Move each completely read kind's cursor to its newest object, in one transaction."""
    moving = {kind: o for kind, o in outcomes.items() if o.complete and o.newest is not None}
    if not moving:
        return
    with ctx.unit() as tx:
        for kind, outcome in moving.items():
            assert outcome.newest is not None  # noqa: S101 - filtered above
            stored = tx.advance_sync_cursor(SyncCursor(source, kind, outcome.newest, now))
            outcome.cursor = stored.position
