"""The tamper-evident audit trail: entries chained by SHA-256.

Each entry's hash covers its own content and the previous entry's hash, so
changing, removing or reordering any entry breaks every hash after it.
:func:`verify_audit_chain` walks the chain and names the first broken entry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import attrs

from enrollpay.domain.money import Money
from enrollpay.domain.records import AuditEntry
from enrollpay.ports import AuditDraft

__all__ = ["GENESIS_HASH", "AuditVerification", "jsonable", "link_entry", "verify_audit_chain"]

#: The "previous hash" of the first entry.
GENESIS_HASH = "0" * 64


def jsonable(value: Any) -> Any:
    """Turn audit data into plain JSON values (Money -> {"minor", "currency"})."""
    if value is None or type(value) in _PLAIN:  # the common leaves, before the ABC checks
        return value
    if type(value) is dict:  # the common branch: a plain dict skips the checks below
        return {k if type(k) is str else str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, Money):
        return {"minor": value.minor, "currency": value.currency}
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [jsonable(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


_PLAIN = frozenset({str, int, bool})


def _digest(prev_hash: str, seq: int, draft: AuditDraft | AuditEntry, data: Any = None) -> str:
    """The entry's hash; ``data``: ``jsonable(draft.data)`` when the caller has it."""
    body = json.dumps(
        {
            "seq": seq,
            "at": draft.at.astimezone(UTC).isoformat(),
            "actor": draft.actor,
            "action": draft.action,
            "entity_type": draft.entity_type,
            "entity_id": draft.entity_id,
            "data": jsonable(draft.data) if data is None else data,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def link_entry(draft: AuditDraft, previous: AuditEntry | None) -> AuditEntry:
    """Make the entry that follows ``previous`` (or starts the chain)."""
    seq = 1 if previous is None else previous.seq + 1
    prev_hash = GENESIS_HASH if previous is None else previous.hash
    data = jsonable(draft.data)
    return AuditEntry(
        seq=seq,
        at=draft.at,
        actor=draft.actor,
        action=draft.action,
        entity_type=draft.entity_type,
        entity_id=draft.entity_id,
        data=data,
        prev_hash=prev_hash,
        hash=_digest(prev_hash, seq, draft, data),
    )


@attrs.frozen
class AuditVerification:
    """The result of walking the chain; true when it is intact."""

    ok: bool
    checked: int
    first_broken_seq: int | None = None
    reason: str | None = None

    def __bool__(self) -> bool:
        return self.ok


def verify_audit_chain(entries: Iterable[AuditEntry]) -> AuditVerification:
    """Check every link: sequence numbers, previous hashes and content hashes."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    for entry in entries:
        if entry.seq != expected_seq:
            return AuditVerification(
                False, checked, entry.seq, f"expected entry {expected_seq}, found {entry.seq}"
            )
        if entry.prev_hash != expected_prev:
            return AuditVerification(False, checked, entry.seq, "previous-hash link does not match")
        if _digest(entry.prev_hash, entry.seq, entry) != entry.hash:
            return AuditVerification(False, checked, entry.seq, "content does not match its hash")
        checked += 1
        expected_prev = entry.hash
        expected_seq += 1
    return AuditVerification(True, checked)
