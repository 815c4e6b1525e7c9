"""The tamper-evident audit trail: entries chained by SHA-256.

Each entry's hash covers its own content and the previous entry's hash, so
changing, removing or reordering any entry breaks every hash after it.
:func:`verify_audit_chain` walks the chain and names the first broken entry.

Deleting entries from the *end* leaves a shorter chain that is still intact,
and so does rewriting the chain and recomputing every hash: the chain alone
cannot tell. An :class:`AuditAnchor` (the entry count and the head hash,
kept somewhere the database's writers cannot change) can:
``verify_audit_chain(entries, anchor=...)`` fails when the chain is shorter
than the anchor, or when its entry at the anchor's position has another hash.
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
from enrollpay.errors import InvalidInputError
from enrollpay.ports import AuditDraft

__all__ = [
    "GENESIS_HASH",
    "AuditAnchor",
    "AuditVerification",
    "jsonable",
    "link_entry",
    "verify_audit_chain",
]

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

#: The text an entry's hash is taken over. One encoder for every entry:
#: ``json.dumps`` with these options builds a new one per call. ``encode``
#: keeps no state between calls, so sharing it is safe across threads.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _digest(prev_hash: str, seq: int, draft: AuditDraft | AuditEntry, data: Any = None) -> str:
    """The entry's hash; ``data``: ``jsonable(draft.data)`` when the caller has it."""
    body = _CANONICAL.encode(
        {
            "seq": seq,
            "at": draft.at.astimezone(UTC).isoformat(),
            "actor": draft.actor,
            "action": draft.action,
            "entity_type": draft.entity_type,
            "entity_id": draft.entity_id,
            "data": jsonable(draft.data) if data is None else data,
        }
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


def _is_hash(value: object) -> bool:
    return (
        isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
    )


@attrs.frozen
class AuditAnchor:
    """The head of the chain at one moment: ``count`` entries, the last one's ``hash``.

    An empty chain's anchor is ``AuditAnchor(0, GENESIS_HASH)``. Its JSON
    form, ``{"count": 12, "hash": "<64 hex digits>"}``, is what
    ``enrollpay audit anchor`` writes and ``audit verify --anchor`` reads.
    """

    count: int
    hash: str

    def __attrs_post_init__(self) -> None:
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 0:
            raise InvalidInputError(f"anchor count must be an int >= 0, got {self.count!r}")
        if not _is_hash(self.hash):
            raise InvalidInputError("anchor hash must be 64 lower-case hex digits")
        if self.count == 0 and self.hash != GENESIS_HASH:
            raise InvalidInputError("an anchor of an empty chain has the genesis hash")

    def to_json(self) -> str:
        """``{"count": ..., "hash": ...}`` on one line."""
        return json.dumps({"count": self.count, "hash": self.hash})

    @classmethod
    def from_json(cls, text: str | bytes) -> AuditAnchor:
        """Read :meth:`to_json`'s form; anything else is an ``InvalidInputError``."""
        try:
            data = json.loads(text)
        except ValueError:
            raise InvalidInputError(
                'an audit anchor is JSON: {"count": ..., "hash": ...}'
            ) from None
        if not isinstance(data, dict) or set(data) != {"count", "hash"}:
            raise InvalidInputError("an audit anchor has exactly the keys count and hash")
        return cls(data["count"], data["hash"])


@attrs.frozen
class AuditVerification:
    """The result of walking the chain; true when it is intact.

    ``head_hash`` is the hash of the last entry checked (the genesis hash
    when none was), so ``checked`` and ``head_hash`` are the chain's head
    when it is intact (:attr:`anchor`).
    """

    ok: bool
    checked: int
    first_broken_seq: int | None = None
    reason: str | None = None
    head_hash: str = attrs.field(default=GENESIS_HASH, repr=False)

    def __bool__(self) -> bool:
        return self.ok

    @property
    def anchor(self) -> AuditAnchor | None:
        """The intact chain's head as an anchor; None when the chain is broken."""
        return AuditAnchor(self.checked, self.head_hash) if self.ok else None


def verify_audit_chain(
    entries: Iterable[AuditEntry], *, anchor: AuditAnchor | None = None
) -> AuditVerification:
    """Check every link: sequence numbers, previous hashes and content hashes.

    With ``anchor``, also check that the chain still reaches it: at least
    ``anchor.count`` entries (fewer: entries were deleted from the end), and
    entry ``anchor.count`` has ``anchor.hash`` (another hash: the chain was
    rewritten up to there). Entries added after the anchor are fine.
    """
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    at_anchor = GENESIS_HASH
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
        if anchor is not None and checked == anchor.count:
            at_anchor = entry.hash
    if anchor is not None and checked < anchor.count:
        return AuditVerification(
            False,
            checked,
            checked + 1,
            f"the chain ends at entry {checked} but the anchor recorded {anchor.count}: "
            "entries were deleted from the end",
            expected_prev,
        )
    if anchor is not None and at_anchor != anchor.hash:
        return AuditVerification(
            False,
            checked,
            anchor.count,
            f"entry {anchor.count} does not have the anchor's hash: "
            "the chain was rewritten up to there",
            expected_prev,
        )
    return AuditVerification(True, checked, head_hash=expected_prev)
