"""Audit anchors: the chain's head kept elsewhere catches truncation and rewrites."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollpay.audit import (
    GENESIS_HASH,
    AuditAnchor,
    AuditVerification,
    link_entry,
    verify_audit_chain,
)
from enrollpay.domain.records import AuditEntry
from enrollpay.errors import InvalidInputError
from enrollpay.ports import AuditDraft

T0 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


def draft(n: int, actor: str = "admin") -> AuditDraft:
    """The n-th audit draft of a made-up trail."""
    return AuditDraft(
        at=T0 + timedelta(minutes=n),
        actor=actor,
        action="enrollment.created",
        entity_type="enrollment",
        entity_id=f"enr_{n}",
        data={"n": n},
    )


def chain(drafts: list[AuditDraft]) -> list[AuditEntry]:
    """Link drafts into a chain, as a store does."""
    entries: list[AuditEntry] = []
    for each in drafts:
        entries.append(link_entry(each, entries[-1] if entries else None))
    return entries


def trail(length: int) -> list[AuditEntry]:
    """A valid chain of ``length`` entries."""
    return chain([draft(n) for n in range(1, length + 1)])


def head(entries: list[AuditEntry]) -> AuditAnchor:
    """The anchor of an intact chain."""
    anchor = verify_audit_chain(entries).anchor
    assert anchor is not None
    return anchor


def test_an_intact_chain_reports_its_head() -> None:
    """Verification gives the count and the last entry's hash; an empty chain the genesis."""
    entries = trail(5)

    result = verify_audit_chain(entries)

    assert (result.ok, result.checked, result.head_hash) == (True, 5, entries[-1].hash)
    assert result.anchor == AuditAnchor(5, entries[-1].hash)
    assert verify_audit_chain([]).anchor == AuditAnchor(0, GENESIS_HASH)


def test_the_chain_still_reaching_its_anchor_verifies_with_entries_added_since() -> None:
    """An anchor of the first 6 entries holds for the same 6 and for 9 (appends are fine)."""
    entries = trail(9)
    anchor = head(entries[:6])

    assert verify_audit_chain(entries[:6], anchor=anchor).ok
    assert verify_audit_chain(entries, anchor=anchor).ok


def test_entries_deleted_from_the_end_pass_alone_and_fail_against_the_anchor() -> None:
    """Dropping the last 3 of 10 leaves an intact chain; the anchor names entry 8 as missing."""
    entries = trail(10)
    anchor = head(entries)
    truncated = entries[:7]

    assert verify_audit_chain(truncated).ok  # why anchors exist
    result = verify_audit_chain(truncated, anchor=anchor)

    assert (result.ok, result.checked, result.first_broken_seq) == (False, 7, 8)
    assert result.reason == (
        "the chain ends at entry 7 but the anchor recorded 10: entries were deleted from the end"
    )
    assert result.anchor is None
    assert not result


def test_a_chain_rewritten_with_fresh_hashes_fails_against_the_anchor() -> None:
    """Entry 4 changed and every hash recomputed: intact alone, refused at the anchor's entry."""
    drafts = [draft(n) for n in range(1, 9)]
    anchor = head(chain(drafts))
    drafts[3] = draft(4, actor="mallory")
    forged = chain(drafts)

    assert verify_audit_chain(forged).ok
    result = verify_audit_chain(forged, anchor=anchor)

    assert (result.ok, result.checked, result.first_broken_seq) == (False, 8, 8)
    assert result.reason == (
        "entry 8 does not have the anchor's hash: the chain was rewritten up to there"
    )


def test_a_broken_link_is_reported_before_the_anchor_is_looked_at() -> None:
    """A changed entry without recomputed hashes is named as before, anchor or not."""
    entries = trail(6)
    anchor = head(entries)
    entries[2] = attrs.evolve(entries[2], actor="mallory")

    result = verify_audit_chain(entries, anchor=anchor)

    assert (result.ok, result.first_broken_seq, result.checked) == (False, 3, 2)
    assert result.reason == "content does not match its hash"


def test_the_empty_anchor_holds_for_every_chain() -> None:
    """Anchoring an empty trail promises nothing, so nothing breaks it."""
    empty = AuditAnchor(0, GENESIS_HASH)

    assert verify_audit_chain([], anchor=empty).ok
    assert verify_audit_chain(trail(3), anchor=empty).ok


@given(
    length=st.integers(min_value=0, max_value=12),
    anchored=st.integers(min_value=0, max_value=12),
    kept=st.integers(min_value=0, max_value=12),
)
def test_a_truncated_chain_passes_exactly_when_it_still_reaches_the_anchor(
    length: int, anchored: int, kept: int
) -> None:
    """Anchor after ``anchored`` entries, keep ``kept``: ok iff kept >= anchored."""
    entries = trail(max(length, anchored, kept))
    anchor = head(entries[:anchored])

    result = verify_audit_chain(entries[:kept], anchor=anchor)

    assert result.ok is (kept >= anchored)
    if not result.ok:
        assert result.first_broken_seq == kept + 1


def test_an_anchor_round_trips_through_json() -> None:
    """to_json and from_json (text or bytes) give the same anchor back."""
    anchor = head(trail(4))

    text = anchor.to_json()

    assert AuditAnchor.from_json(text) == anchor
    assert AuditAnchor.from_json(text.encode()) == anchor
    assert text == f'{{"count": 4, "hash": "{anchor.hash}"}}'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "is JSON"),
        ("[4]", "exactly the keys"),
        ('{"count": 4}', "exactly the keys"),
        ('{"count": 4, "hash": "' + "a" * 64 + '", "at": 1}', "exactly the keys"),
        ('{"count": -1, "hash": "' + "a" * 64 + '"}', "count must be"),
        ('{"count": true, "hash": "' + "a" * 64 + '"}', "count must be"),
        ('{"count": "4", "hash": "' + "a" * 64 + '"}', "count must be"),
        ('{"count": 4, "hash": "' + "A" * 64 + '"}', "64 lower-case hex"),
        ('{"count": 4, "hash": "abc"}', "64 lower-case hex"),
        ('{"count": 4, "hash": 7}', "64 lower-case hex"),
        ('{"count": 0, "hash": "' + "a" * 64 + '"}', "genesis hash"),
    ],
)
def test_a_malformed_anchor_is_refused(text: str, message: str) -> None:
    """Anything but a count >= 0 and a 64-hex hash is an InvalidInputError."""
    with pytest.raises(InvalidInputError, match=message):
        AuditAnchor.from_json(text)


def test_old_verifications_keep_their_shape() -> None:
    """The positional form and the repr stay as they were (head_hash is keyword, not shown)."""
    result = AuditVerification(True, 3)

    assert repr(result) == (
        "AuditVerification(ok=True, checked=3, first_broken_seq=None, reason=None)"
    )
    assert result.head_hash == GENESIS_HASH
