"""paid_through: the last due date with nothing owed on or before it."""

from __future__ import annotations

from datetime import date, timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollpay.domain.schedule import paid_through
from enrollpay.domain.statuses import ItemStatus

JAN, FEB, MAR = date(2027, 1, 1), date(2027, 2, 1), date(2027, 3, 1)
PAID, OPEN = ItemStatus.PAID, ItemStatus.SCHEDULED


@attrs.frozen
class Item:
    """Just what paid_through reads of a schedule item."""

    due: date
    status: ItemStatus


def items(*pairs: tuple[date, ItemStatus]) -> list[Item]:
    """Items from (due, status) pairs."""
    return [Item(due, status) for due, status in pairs]


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ([], None),
        ([(JAN, OPEN), (FEB, OPEN)], None),
        ([(JAN, PAID), (FEB, PAID), (MAR, OPEN)], FEB),
        ([(JAN, PAID), (FEB, PAID), (MAR, PAID)], MAR),
        ([(JAN, PAID), (FEB, ItemStatus.WAIVED), (MAR, OPEN)], FEB),
        ([(JAN, PAID), (FEB, OPEN), (MAR, PAID)], JAN),
        ([(JAN, PAID), (FEB, ItemStatus.FAILED), (MAR, OPEN)], JAN),
        ([(JAN, PAID), (FEB, ItemStatus.CANCELLED), (MAR, ItemStatus.CANCELLED)], JAN),
        ([(JAN, ItemStatus.DEFAULTED), (FEB, PAID)], None),
        # Rescheduled: the unpaid first item now falls due after the paid second one.
        ([(MAR, OPEN), (FEB, PAID)], FEB),
        # Two items due the same day, one still owed: that day is not paid through.
        ([(JAN, PAID), (FEB, PAID), (FEB, OPEN)], JAN),
        # A plan change superseded the open February item: it is no longer owed.
        ([(JAN, PAID), (FEB, ItemStatus.SUPERSEDED), (MAR, PAID)], MAR),
        ([(JAN, ItemStatus.SUPERSEDED)], None),
    ],
)
def test_paid_through_by_example(
    schedule: list[tuple[date, ItemStatus]], expected: date | None
) -> None:
    """The documented definition, case by case."""
    assert paid_through(items(*schedule)) == expected


@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=90), st.sampled_from(list(ItemStatus))),
        max_size=12,
    )
)
def test_nothing_is_owed_on_or_before_paid_through_and_it_is_as_late_as_that_allows(
    pairs: list[tuple[int, ItemStatus]],
) -> None:
    """Every item due by the date is settled; the first item still owed is due after it.

    Superseded items (replaced by a plan change) are not part of the schedule.
    """
    everything = [Item(JAN + timedelta(days=offset), status) for offset, status in pairs]
    schedule = [i for i in everything if i.status != ItemStatus.SUPERSEDED]
    settled = {ItemStatus.PAID, ItemStatus.WAIVED}

    result = paid_through(everything)

    owed = [i.due for i in schedule if i.status not in settled]
    candidates = [i.due for i in schedule if i.status in settled and all(d > i.due for d in owed)]
    assert result == max(candidates, default=None)
    if result is not None:
        assert all(i.status in settled for i in schedule if i.due <= result)
