"""Helpers for the hand-written baselines: row values in the store's own formats.

The baselines write the very rows the library writes, through the database
driver directly (``sqlite3`` or ``psycopg``), in the formats SQLAlchemy
uses for the schema's types, so both read back the same.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

__all__ = ["AuditChain", "sqlite_instant"]


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
