"""The hand-written baseline of ``collect_due``: the same claim and the same row changes.

Per batch: the claim queries the store runs (one query per kind of
collectible item, each in the index's (due, id) order with a limit, as the
store does; ``FOR UPDATE ... SKIP LOCKED`` on PostgreSQL) and the lease
update. Per item, with the guarantees the library
gives (the attempt and its key committed before the gateway is called, the
audit chain extended in the same transactions as the changes it records):

1. insert the pending attempt, mark the item ``processing``, audit; commit;
2. call the same gateway;
3. mark the attempt ``succeeded``, insert the payment, mark the item
   ``paid``, audit; complete the enrollment when nothing is left open, audit;
   commit.

It runs on the database driver directly (``sqlite3`` / ``psycopg``).
"""

from __future__ import annotations

import itertools
import sqlite3
import time
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import psycopg
import sqlalchemy as sa

from benchmarks.gateways import InstantGateway
from benchmarks.rawsql import AuditChain, add_events, add_receipt, sqlite_instant
from enrollpay.domain.money import Money

__all__ = ["RawCollector"]

_AUDIT_LOCK_KEY = 0x656E726F6C6C6175

_CLAIM_KIND = """
SELECT i.id, i.enrollment_id, i.amount_minor, i.currency, c.gateway_customer_id,
       c.payment_method_id, i.due, e.user_id, i.kind, i.seq, p.id, p.name
FROM enrollpay_schedule_items i
JOIN enrollpay_enrollments e ON e.id = i.enrollment_id
JOIN enrollpay_customers c ON c.user_id = e.user_id
JOIN enrollpay_products p ON p.id = e.product_id
WHERE e.status NOT IN ('paused', 'cancelled')
  AND (i.lease_until IS NULL OR i.lease_until <= ?)
  AND {kind}
ORDER BY i.due, i.id
LIMIT ? {lock}
"""
_KINDS = (
    "i.status = 'scheduled' AND i.due <= ?",
    "i.status = 'failed' AND i.next_attempt_at IS NOT NULL AND i.next_attempt_at <= ?",
    "i.status = 'processing' AND i.lease_until IS NOT NULL",
)


class RawCollector:
    """Collects every due item of one database the hand-written way."""

    def __init__(self, url: str, gateway: InstantGateway, *, every_write: bool = False) -> None:
        """``every_write``: also write the receipt and the outbox rows, as the library does."""
        self.every_write = every_write
        parsed = sa.make_url(url)
        self.pg = parsed.get_backend_name() == "postgresql"
        self.gateway = gateway
        self.conn: Any
        if self.pg:
            libpq = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
            self.conn = psycopg.connect(libpq, autocommit=True)
        else:
            self.conn = sqlite3.connect(str(parsed.database), isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
        lock = "FOR UPDATE OF i SKIP LOCKED" if self.pg else ""
        self._claims = [self._sql(_CLAIM_KIND.format(kind=kind, lock=lock)) for kind in _KINDS]

    def _sql(self, text: str) -> str:
        return text.replace("?", "%s") if self.pg else text

    def _at(self, value: datetime) -> Any:
        return value if self.pg else sqlite_instant(value)

    def _x(self, text: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(self._sql(text), params)

    def _begin(self) -> None:
        self.conn.execute("BEGIN" if self.pg else "BEGIN IMMEDIATE")

    def _audit(  # noqa: PLR0917 - one entry's fields
        self,
        now: datetime,
        action: str,
        entity_type: str,
        entity_id: str,
        data: dict[str, Any],
        actor: str = "gateway",
    ) -> None:
        """Chain one entry; ``actor`` as the library names it (the gateway's answer settles)."""
        if self.pg:
            self._x("SELECT pg_advisory_xact_lock(?)", (_AUDIT_LOCK_KEY,))
        AuditChain.append(
            self._x,
            at=now,
            stored_at=self._at(now),
            actor=actor,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            data=data,
        )

    def claim(self, now: datetime, lease: timedelta, size: int) -> list[tuple[Any, ...]]:
        """Lease up to ``size`` due items."""
        today = now.date() if self.pg else now.date().isoformat()
        self._begin()
        at = self._at(now)
        found = [
            *self._x(self._claims[0], (at, today, size)),
            *self._x(self._claims[1], (at, at, size)),
            *self._x(self._claims[2], (at, size)),
        ]
        found.sort(key=lambda row: (row[6], row[0]))
        rows = found[:size]
        if rows:
            ids = [r[0] for r in rows]
            if self.pg:
                self._x(
                    "UPDATE enrollpay_schedule_items SET lease_until = ? WHERE id = ANY(?)",
                    (now + lease, ids),
                )
            else:
                marks = ", ".join("?" * len(ids))
                self._x(
                    f"UPDATE enrollpay_schedule_items SET lease_until = ? WHERE id IN ({marks})",  # noqa: S608 - placeholders only
                    (self._at(now + lease), *ids),
                )
        self.conn.execute("COMMIT")
        return list(rows)

    def collect_item(self, row: tuple[Any, ...], now: datetime) -> None:
        """Attempt, charge and settle one claimed item."""
        item_id, enrollment_id, amount_minor, currency, customer_id, method = row[:6]
        at = self._at(now)
        attempt_id = f"att_{item_id}"
        key = f"item:{item_id}:attempt:1"
        self._begin()
        self._x(
            "INSERT INTO enrollpay_payment_attempts (id, item_id, enrollment_id, number, "
            "idempotency_key, status, amount_minor, currency, mode, created_at, updated_at, "
            "payment_method_id) VALUES (?, ?, ?, 1, ?, 'pending', ?, ?, 'off_session', ?, ?, ?)",
            (attempt_id, item_id, enrollment_id, key, amount_minor, currency, at, at, method),
        )
        self._x(
            "UPDATE enrollpay_schedule_items SET status = 'processing', updated_at = ? "
            "WHERE id = ?",
            (at, item_id),
        )
        self._audit(
            now,
            "attempt.created",
            "schedule_item",
            item_id,
            {
                "attempt_id": attempt_id,
                "number": 1,
                "amount": {"minor": amount_minor, "currency": currency},
            },
            actor="system",
        )
        self.conn.execute("COMMIT")
        result = self.gateway.charge_off_session(
            customer_id=customer_id,
            payment_method_id=method,
            amount=Money(amount_minor, currency),
            idempotency_key=key,
            metadata={"enrollment_id": enrollment_id, "item_id": item_id, "attempt_id": attempt_id},
        )
        self._begin()
        self._x(
            "UPDATE enrollpay_payment_attempts SET status = 'succeeded', "
            "gateway_payment_id = ?, updated_at = ? WHERE id = ?",
            (result.gateway_payment_id, at, attempt_id),
        )
        self._x(
            "INSERT INTO enrollpay_payments (id, enrollment_id, item_id, amount_minor, currency, "
            "method, received_at, gateway_payment_id, attempt_id) "
            "VALUES (?, ?, ?, ?, ?, 'gateway', ?, ?, ?)",
            (
                f"pay_{item_id}",
                enrollment_id,
                item_id,
                amount_minor,
                currency,
                at,
                result.gateway_payment_id,
                attempt_id,
            ),
        )
        self._x(
            "UPDATE enrollpay_schedule_items SET status = 'paid', amount_paid_minor = ?, "
            "paid_at = ?, lease_until = NULL, next_attempt_at = NULL, updated_at = ? "
            "WHERE id = ?",
            (amount_minor, at, at, item_id),
        )
        if self.every_write:
            self._receipt(row, at, result.gateway_payment_id)
        self._audit(
            now,
            "payment.succeeded",
            "schedule_item",
            item_id,
            {"attempt_id": attempt_id, "payment_id": f"pay_{item_id}"},
        )
        (still_open,) = self._x(
            "SELECT count(*) FROM enrollpay_schedule_items WHERE enrollment_id = ? "
            "AND status NOT IN ('paid', 'waived', 'cancelled')",
            (enrollment_id,),
        ).fetchone()
        if not still_open:
            self._x(
                "UPDATE enrollpay_enrollments SET status = 'completed', updated_at = ? "
                "WHERE id = ?",
                (at, enrollment_id),
            )
            self._audit(
                now,
                "enrollment.status_changed",
                "enrollment",
                enrollment_id,
                {"from": "active", "to": "completed"},
            )
        if self.every_write:
            self._events(row, at, completed=not still_open)
        self.conn.execute("COMMIT")

    def _receipt(self, row: tuple[Any, ...], at: Any, reference: str | None) -> None:
        """The payment's numbered receipt, in the settling transaction."""
        item_id, enrollment_id, amount_minor, currency = row[:4]
        due, user_id, kind, seq, product_id, product_name = row[6:12]
        add_receipt(
            self._x,
            payment_id=f"pay_{item_id}",
            enrollment_id=enrollment_id,
            user_id=user_id,
            product=(product_id, product_name),
            item=(kind, seq, due if isinstance(due, date) else date.fromisoformat(due)),
            amount=(amount_minor, currency),
            stored_at=at,
            reference=reference,
        )

    def _events(self, row: tuple[Any, ...], at: Any, *, completed: bool) -> None:
        """The outbox rows of the settled item (and of the completed enrollment)."""
        item_id, enrollment_id, amount_minor, currency = row[:4]
        amount = {"minor": amount_minor, "currency": currency}
        events = [("installment.paid", {"item_id": item_id, "seq": row[9], "amount": amount,
                                        "paid": amount})]  # fmt: skip
        if completed:
            events.append(("enrollment.completed", {"from": "active", "to": "completed"}))
        cursor = self.conn.cursor()
        add_events(lambda sql, rows: cursor.executemany(self._sql(sql), rows), enrollment_id,
                   at, events)  # fmt: skip

    def collect_all(self, now: datetime, segment: int, batch: int = 100) -> list[float]:
        """Collect everything due; return the seconds each ``segment`` items took."""
        lease = timedelta(minutes=10)
        marks = [time.perf_counter()]
        done = 0
        while rows := self.claim(now, lease, batch):
            for row in rows:
                self.collect_item(row, now)
                done += 1
                if done % segment == 0:
                    marks.append(time.perf_counter())
        return [b - a for a, b in itertools.pairwise(marks)]

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()
