"""The audit chain's hashes are pinned: the text they cover must never change for the same entry."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from enrollpay.audit import _CANONICAL, link_entry
from enrollpay.ports import AuditDraft

AWAY = timezone(timedelta(hours=-5))

#: Hashes the chain had before its encoder became a shared instance
#: (computed then with ``json.dumps(..., sort_keys=True, separators=(",", ":"),
#: ensure_ascii=False)``): a stored chain must still verify.
FIRST = "d13b578f708cb700753a4bcb5669f4d9782e99afb00339a1ddd66a4b6bd282b2"
SECOND = "d6835fa86eb3e0c79d7a5defc192863a9eb20c89c6f9585be52629f634e22121"


def test_an_entrys_hash_is_the_one_recorded_chains_hold() -> None:
    """Non-ASCII text, nested keys out of order, a non-UTC instant: the same hashes as ever."""
    draft = AuditDraft(
        at=datetime(2027, 1, 4, 9, 0, 0, 123456, tzinfo=AWAY),
        actor="système",
        action="refund.issued",
        entity_type="payment",
        entity_id="pay_ü1",
        data={
            "z": [3, "ñ", None, True],
            "a": {"b": 1.5, "c": 'x\n"y"'},
            "amount_minor": 1250,
        },
    )
    first = link_entry(draft, None)
    second = link_entry(draft, first)
    assert (first.hash, second.hash) == (FIRST, SECOND)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(_JSON)
def test_the_shared_encoder_writes_what_json_dumps_writes(value: Any) -> None:
    """The one encoder instance gives exactly ``json.dumps``'s text with the same options."""
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert _CANONICAL.encode(value) == expected
