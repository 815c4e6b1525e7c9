"""A webhook storm: many events, some twice, some late, ingested by several processes at once.

Issue 20, item 3. The seeded store holds ``items`` enrollments, each with an
off-session charge in flight (``pi_bench_<n>``, see
:func:`benchmarks.seed.seed_due_items`). :func:`storm_events` writes what
the gateway then reports about each, in the order it happened:

- 10% of the charges are declined (``payment_intent.payment_failed``);
- the rest succeed, 3% of them after a ``payment_intent.processing``;
- of the successes, 5% are partly refunded in the dashboard afterwards
  (``charge.refunded``) and 3% disputed (``charge.dispute.created``, then
  ``charge.dispute.closed``, won or lost).

:func:`storm_order` delivers that stream as a gateway under strain does:
a share of the events (``late``) arrives later than it happened (each moved
back by up to ``max_delay`` places, so a refund can come before its
payment's success), and another share (``duplicates``) is delivered a second
time at a random later place. :func:`ingest` is one receiving process: it
hands its share of the deliveries to ``handle_webhook`` and, as the gateway
does with an event that was not acknowledged (``deferred``, or an error),
delivers it again after the others. :func:`final_state` reads what the
store ends with, by the natural keys that do not depend on the order (ids
the library makes, receipt numbers and timestamps of writing aside), so
that the storm's end state can be compared with an in-order replay's.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from typing import Any, Final

import attrs
import sqlalchemy as sa

from benchmarks.seed import BENCH_NOW, INSTALLMENT_MINOR
from enrollpay import PaymentSystem
from enrollpay.gateways.signing import sign_payload
from enrollpay.storage.sql import SqlStore
from enrollpay.storage.sql.schema import (
    attempts,
    disputes,
    enrollments,
    outbox,
    payments,
    refunds,
    schedule_items,
    webhook_receipts,
)
from enrollpay.testing import FakeGateway, FrozenClock

__all__ = [
    "SECRET",
    "SETTLED",
    "Hook",
    "IngestReport",
    "differences",
    "final_state",
    "ingest",
    "inversions",
    "storm_events",
    "storm_order",
]

SECRET: Final = "whsec_storm"  # noqa: S105 - the storm's own test secret
REFUND_MINOR: Final = 2_500
#: Events that record a settled fact (a payment, a decline, a refund, a dispute and
#: its end): a storm must emit exactly what the in-order replay emits.
SETTLED: Final = frozenset({
    "installment.paid", "payment.failed", "refund.issued", "payment.disputed",
    "dispute.won", "dispute.lost", "dispute.closed",
})  # fmt: skip
#: Give up on events that cannot be applied after this long without progress.
_STUCK_AFTER_S: Final = 60.0


@attrs.frozen
class Hook:
    """One event as the gateway sends it: its id and type, the item it is about, its signed body."""

    event_id: str
    event_type: str
    item: int
    payload: bytes
    headers: dict[str, str] = attrs.field(hash=False)


def _intent(n: int, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"pi_bench_{n:07d}",
        "object": "payment_intent",
        "amount": INSTALLMENT_MINOR,
        "currency": "usd",
        "customer": f"cus_{n:07d}",
        "payment_method": "pm_card_visa",
        "status": status,
        "metadata": {"attempt_id": f"att_{n:07d}", "item_id": f"itm_{n:07d}_2"},
        "last_payment_error": None,
        **extra,
    }


def _declined(n: int) -> dict[str, Any]:
    error = {
        "code": "card_declined",
        "decline_code": "insufficient_funds",
        "message": "Your card has insufficient funds.",
    }
    return _intent(n, "requires_payment_method", last_payment_error=error)


def _charge_refunded(n: int) -> dict[str, Any]:
    refund = {
        "id": f"re_storm_{n:07d}",
        "object": "refund",
        "amount": REFUND_MINOR,
        "currency": "usd",
        "payment_intent": f"pi_bench_{n:07d}",
        "status": "succeeded",
        "metadata": {},
    }
    return {
        "id": f"ch_storm_{n:07d}",
        "object": "charge",
        "amount": INSTALLMENT_MINOR,
        "amount_refunded": REFUND_MINOR,
        "currency": "usd",
        "customer": f"cus_{n:07d}",
        "payment_intent": f"pi_bench_{n:07d}",
        "refunds": {"object": "list", "data": [refund]},
        "metadata": {},
    }


def _dispute(n: int, status: str, created: int) -> dict[str, Any]:
    taken = {"id": f"txn_storm_{n:07d}_w", "amount": -INSTALLMENT_MINOR}
    given_back = {"id": f"txn_storm_{n:07d}_r", "amount": INSTALLMENT_MINOR}
    return {
        "id": f"du_storm_{n:07d}",
        "object": "dispute",
        "amount": INSTALLMENT_MINOR,
        "currency": "usd",
        "charge": f"ch_storm_{n:07d}",
        "payment_intent": f"pi_bench_{n:07d}",
        "status": status,
        "reason": "fraudulent",
        "created": created,
        "evidence_details": {"due_by": created + 7 * 86_400},
        "balance_transactions": [taken, given_back] if status == "won" else [taken],
        "metadata": {},
    }


def _stories(items: int, rng: random.Random) -> list[list[tuple[str, Any]]]:
    """Per item, the event types and objects, in the order they happen (times come later)."""
    stories = []
    for n in range(items):
        if rng.random() < 0.10:
            stories.append([("payment_intent.payment_failed", _declined(n))])
            continue
        story: list[tuple[str, Any]] = []
        if rng.random() < 0.03:
            story.append(("payment_intent.processing", _intent(n, "processing")))
        story.append(("payment_intent.succeeded", _intent(n, "succeeded")))
        after = rng.random()
        if after < 0.05:
            story.append(("charge.refunded", _charge_refunded(n)))
        elif after < 0.08:
            story.append(("charge.dispute.created", "needs_response"))
            story.append(("charge.dispute.closed", rng.choice(("won", "lost"))))
        stories.append(story)
    return stories


def storm_events(items: int, *, seed: int = 20) -> list[Hook]:
    """Every event about the ``items`` seeded charges, in the order they happened."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible storm, not a secret
    stamp = int(BENCH_NOW.timestamp())
    span = max(items, 1) * 4  # seconds over which the stream happened, before BENCH_NOW
    timed: list[tuple[int, int, int, str, Any]] = []
    for n, story in enumerate(_stories(items, rng)):
        at = stamp - span + rng.randrange(span // 2)
        opened = 0
        for step, (event_type, obj) in enumerate(story):
            at += 1 + rng.randrange(max(span // 200, 2))
            if isinstance(obj, str):  # a dispute: the object as it stands, opened once
                opened = opened or at
                obj = _dispute(n, obj, opened)  # noqa: PLW2901 - the object for this event
            timed.append((at, n, step, event_type, obj))
    timed.sort(key=lambda t: (t[0], t[1], t[2]))
    hooks = []
    for number, (at, n, _step, event_type, body) in enumerate(timed):
        event_id = f"evt_storm_{number:07d}"
        event = {
            "id": event_id,
            "object": "event",
            "type": event_type,
            "created": min(at, stamp),
            "livemode": False,
            "data": {"object": body},
        }
        payload = json.dumps(event, separators=(",", ":")).encode()
        headers = {"Stripe-Signature": sign_payload(payload, SECRET, stamp)}
        hooks.append(Hook(event_id, event_type, n, payload, headers))
    return hooks


def storm_order(
    hooks: Sequence[Hook],
    *,
    late: float = 0.05,
    duplicates: float = 0.10,
    max_delay: int = 400,
    seed: int = 21,
) -> list[Hook]:
    """The deliveries of a storm: ``late`` of them moved back, ``duplicates`` sent twice."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible storm, not a secret
    keyed: list[tuple[float, int, Hook]] = []
    for place, hook in enumerate(hooks):
        delay = 1 + rng.randrange(max_delay) if rng.random() < late else 0
        keyed.append((place + delay + 0.5 * (delay > 0), place, hook))
    keyed.sort(key=lambda k: (k[0], k[1]))
    ordered = [hook for _, _, hook in keyed]
    for hook in rng.sample(list(hooks), round(len(hooks) * duplicates)):
        ordered.insert(rng.randrange(len(ordered) + 1), hook)
    return ordered


def inversions(deliveries: Iterable[Hook], hooks: Sequence[Hook]) -> int:
    """Deliveries that come before an earlier event about the same item (first copies only)."""
    place = {hook.event_id: n for n, hook in enumerate(hooks)}
    latest: dict[int, int] = {}
    seen: set[str] = set()
    count = 0
    for hook in deliveries:
        if hook.event_id in seen:
            continue
        seen.add(hook.event_id)
        happened = place[hook.event_id]
        if latest.get(hook.item, -1) > happened:
            count += 1
        latest[hook.item] = max(latest.get(hook.item, -1), happened)
    return count


@attrs.frozen
class IngestReport:
    """What one receiving process did: outcomes by result, redeliveries, its time."""

    results: dict[str, int]
    redelivered: int
    errors: dict[str, int]
    undelivered: int
    seconds: float


def ingest(url: str, deliveries: Sequence[Hook]) -> IngestReport:
    """Deliver ``deliveries`` to a system on ``url``; redeliver what was not acknowledged."""
    clock = FrozenClock(BENCH_NOW)
    store = SqlStore.from_url(url, pool_size=2)
    system = PaymentSystem(
        store=store,
        gateway=FakeGateway(webhook_secret=SECRET, clock=clock),
        clock=clock,
        wall_clock=clock,  # the events were signed at BENCH_NOW
    )
    results: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    queue = deque(deliveries)
    redelivered = misses = 0
    progress_at = started = time.perf_counter()
    while queue:
        hook = queue.popleft()
        result: str
        try:
            result = system.handle_webhook(hook.payload, hook.headers).result
        except Exception as exc:  # an endpoint answers 500; the gateway retries
            errors[type(exc).__name__] += 1
            result = "error"
        if result not in {"deferred", "error"}:
            results[result] += 1
            misses = 0
            progress_at = time.perf_counter()
            continue
        queue.append(hook)
        redelivered += 1
        misses += 1
        if misses >= len(queue):  # a whole round without progress: the other process is behind
            if time.perf_counter() - progress_at > _STUCK_AFTER_S:
                break
            time.sleep(0.01)
            misses = 0
    seconds = time.perf_counter() - started
    store.close()
    return IngestReport(dict(results), redelivered, dict(errors), len(queue), seconds)


def ingest_share(url: str, items: int, share: int, shares: int, out: Any) -> None:
    """A receiving process (spawned by name): every ``shares``-th delivery of the storm."""
    deliveries = storm_order(storm_events(items))
    out.put(ingest(url, deliveries[share::shares]))


def final_state(url: str) -> dict[str, Any]:
    """The store's end state by natural keys: comparable between two runs of the same storm."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    pay_gid = sa.select(payments.c.id, payments.c.gateway_payment_id).subquery()
    with engine.connect() as conn:
        state = {
            "enrollments": sorted(
                conn.execute(
                    sa.select(
                        enrollments.c.id,
                        enrollments.c.status,
                        enrollments.c.dispute_hold,
                        enrollments.c.cancel_reason,
                    )
                ).all()
            ),
            "items": sorted(
                conn.execute(
                    sa.select(
                        schedule_items.c.id,
                        schedule_items.c.status,
                        schedule_items.c.amount_paid_minor,
                        schedule_items.c.failures,
                        schedule_items.c.next_attempt_at,
                        schedule_items.c.last_decline_code,
                    )
                ).all()
            ),
            "attempts": sorted(
                conn.execute(
                    sa.select(
                        attempts.c.id,
                        attempts.c.status,
                        attempts.c.gateway_payment_id,
                        attempts.c.decline_code,
                    )
                ).all()
            ),
            "payments": sorted(
                conn.execute(
                    sa.select(
                        payments.c.item_id,
                        payments.c.amount_minor,
                        payments.c.method,
                        payments.c.gateway_payment_id,
                        payments.c.attempt_id,
                    )
                ).all(),
                key=repr,
            ),
            "refunds": sorted(
                conn.execute(
                    sa.select(
                        pay_gid.c.gateway_payment_id,
                        refunds.c.gateway_refund_id,
                        refunds.c.amount_minor,
                        refunds.c.status,
                    ).join(pay_gid, pay_gid.c.id == refunds.c.payment_id)
                ).all()
            ),
            "disputes": sorted(
                conn.execute(
                    sa.select(
                        pay_gid.c.gateway_payment_id,
                        disputes.c.gateway_dispute_id,
                        disputes.c.status,
                        disputes.c.gateway_status,
                        disputes.c.closed_at,
                    ).join(pay_gid, pay_gid.c.id == disputes.c.payment_id)
                ).all()
            ),
            "webhook_events": sorted(
                conn.execute(sa.select(webhook_receipts.c.event_id)).scalars()
            ),
            "outbox": sorted(
                Counter(
                    (row.enrollment_id, row.kind)
                    for row in conn.execute(sa.select(outbox.c.enrollment_id, outbox.c.kind))
                ).items()
            ),
        }
    engine.dispose()
    return state


def _events(state: dict[str, Any], kinds: frozenset[str] | None = None) -> Counter[Any]:
    return Counter({key: n for key, n in state["outbox"] if kinds is None or key[1] in kinds})


def differences(expected: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """How a storm's end state ``got`` differs from the in-order replay's; empty when it does not.

    Every table must be the same, row for row, and so must the settled facts'
    events (:data:`SETTLED`). The outbox as a whole may hold fewer events:
    stages the store never saw leave none (a ``payment_intent.processing``
    delivered after the success is stale; a dispute closed as won before its
    opening withdrew the funds never suspended access, so nothing was
    restored either). A storm must never emit what the in-order history lacks.
    """
    found = [
        f"{table}: {len(set(map(repr, got[table])) ^ set(map(repr, rows)))} rows differ"
        for table, rows in expected.items()
        if table != "outbox" and got[table] != rows
    ]
    if _events(got, SETTLED) != _events(expected, SETTLED):
        found.append("outbox: the settled facts' events differ")
    extra = _events(got) - _events(expected)
    if extra:
        found.append(f"outbox: events the in-order history lacks: {sorted(extra)[:5]}")
    return found
