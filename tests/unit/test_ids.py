"""The default id factory: a UUID's size, sortable by the time it was made."""

from __future__ import annotations

import re
from collections.abc import Callable

from enrollpay.service.base import uuid_ids

_SHAPE = re.compile(r"^enr_[0-9a-f]{32}$")


def _at(ns: int) -> Callable[[], int]:
    return lambda: ns


def test_ids_have_the_prefix_and_32_hex_digits() -> None:
    """The shape users and stores have always seen: ``prefix_`` and 32 hex digits."""
    assert _SHAPE.match(uuid_ids("enr"))


def test_the_first_12_digits_are_the_milliseconds() -> None:
    """The time part is the system time in milliseconds, zero-padded."""
    made = uuid_ids("pay", time_ns=_at(1_767_225_600_123_456_789))
    assert made.startswith("pay_")
    assert made[4:16] == f"{1_767_225_600_123:012x}"


def test_later_ids_sort_after_earlier_ones() -> None:
    """Index locality: a later id never sorts before an earlier one."""
    times = [1_700_000_000_000_000_000 + n * 1_000_000 for n in range(200)]
    made = [uuid_ids("evt", time_ns=_at(t)) for t in times]
    assert made == sorted(made)


def test_ids_made_in_the_same_millisecond_differ() -> None:
    """The 80 random bits keep ids of one millisecond apart."""
    made = {uuid_ids("evt", time_ns=_at(1_700_000_000_000_000_000)) for _ in range(1_000)}
    assert len(made) == 1_000
