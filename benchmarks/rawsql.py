"""Helpers for the hand-written baselines: row values in the store's own formats.

The baselines write the very rows the library writes, through the database
driver directly (``sqlite3`` or ``psycopg``), in the formats SQLAlchemy
uses for the schema's types, so both read back the same.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

__all__ = ["AuditChain", "add_events", "add_receipt", "sqlite_instant"]

Execute = Callable[[str, Sequence[Any]], Any]


def sqlite_instant(value: datetime) -> str:
    """An instant as the store keeps it on SQLite: naive UTC text, fixed width."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class AuditChain:
    """Audit rows chained by SHA-256, as :mod:`enrollpay.audit` chains them."""

    @staticmethod
    def row(
        last: tuple[int, str] | None,
        *,
        at: datetime,
        actor: str,
        action: str,
        entity_type: str,
        entity_id: str,
        data: dict[str, Any],
    ) -> tuple[int, str, str, str, str, str, str, str]:
        """``(seq, actor, action, entity_type, entity_id, data, prev_hash, hash)``."""
        seq = 1 if last is None else last[0] + 1
        prev = "0" * 64 if last is None else last[1]
        body = json.dumps(
            {
                "seq": seq,
                "at": at.astimezone(UTC).isoformat(),
                "actor": actor,
                "action": action,
                "entity_type": entity_type,
                "entity_id": entity_id,
                "data": data,
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        digest = hashlib.sha256(f"{prev}\n{body}".encode()).hexdigest()
        return seq, actor, action, entity_type, entity_id, json.dumps(data), prev, digest

    @classmethod
    def append(
        cls,
        execute: Callable[[str, Sequence[Any]], Any],
        *,
        at: datetime,
        stored_at: Any,
        actor: str,
        action: str,
        entity_type: str,
        entity_id: str,
        data: dict[str, Any],
        last: tuple[int, str] | None = None,
    ) -> tuple[int, str]:
        """Link an entry after ``last`` (read from the table unless given) and insert it.

        ``execute`` runs ``?``-style SQL (``sqlite3.Connection.execute`` or
        a wrapper); ``stored_at`` is ``at`` as the driver stores it. Returns
        the new entry's ``(seq, hash)``, the ``last`` of the next one.
        """
        if last is None:
            last = execute(
                "SELECT seq, hash FROM enrollpay_audit_log ORDER BY seq DESC LIMIT 1", ()
            ).fetchone()
        row = cls.row(
            last,
            at=at,
            actor=actor,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            data=data,
        )
        execute(
            "INSERT INTO enrollpay_audit_log (seq, at, actor, action, entity_type, entity_id, "
            "data, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (row[0], stored_at, *row[1:]),
        )
        return row[0], row[-1]


def add_receipt(
    execute: Execute,
    *,
    payment_id: str,
    enrollment_id: str,
    user_id: str,
    product: tuple[str, str],
    item: tuple[str, int, date],
    amount: tuple[int, str],
    stored_at: Any,
    reference: str | None,
) -> None:
    """The receipt of one payment, as the library issues it: the counter, then the row.

    The series counter is taken in the caller's transaction (``INSERT ...
    ON CONFLICT DO UPDATE ... RETURNING``), so numbers have no gaps; the
    row carries the receipt's one line as JSON. ``product`` is (id, name);
    ``item`` is (kind, seq, due); ``amount`` is (minor units, currency).
    """
    (sequence,) = execute(
        "INSERT INTO enrollpay_receipt_counters (issuer, kind, last) VALUES ('default', "
        "'receipt', 1) ON CONFLICT (issuer, kind) DO UPDATE SET "
        "last = enrollpay_receipt_counters.last + 1 RETURNING last",
        (),
    ).fetchone()
    kind, seq, due = item
    minor, currency = amount
    line = {"item_kind": kind, "minor": minor, "currency": currency, "item_seq": seq,
            "due": due.isoformat()}  # fmt: skip
    execute(
        "INSERT INTO enrollpay_receipts (id, issuer, kind, sequence, number, enrollment_id, "
        "user_id, product_id, product_name, payment_id, method, lines, total_minor, currency, "
        "paid_at, issued_at, reference) VALUES (?, 'default', 'receipt', ?, ?, ?, ?, ?, ?, ?, "
        "'gateway', ?, ?, ?, ?, ?, ?)",
        (f"rcp_{payment_id}", sequence, f"R-{sequence:06d}", enrollment_id, user_id,
         product[0], product[1], payment_id, json.dumps([line]), minor, currency, stored_at,
         stored_at, reference),
    )  # fmt: skip


def add_events(
    executemany: Callable[[str, Sequence[Sequence[Any]]], Any],
    enrollment_id: str,
    stored_at: Any,
    events: Sequence[tuple[str, dict[str, Any]]],
) -> None:
    """Outbox rows for ``events`` (kind, data), with random ids, in one ``executemany``."""
    executemany(
        "INSERT INTO enrollpay_outbox (id, kind, enrollment_id, at, data) VALUES (?, ?, ?, ?, ?)",
        [
            (f"evt_{os.urandom(16).hex()}", kind, enrollment_id, stored_at, json.dumps(data))
            for kind, data in events
        ],
    )
