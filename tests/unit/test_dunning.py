"""The dunning rule: which items collection may charge on its own."""

from __future__ import annotations

import pytest

from enrollpay.domain.dunning import DUNNING_ITEM_STATUSES, charged_automatically
from enrollpay.domain.records import ScheduleItem
from enrollpay.domain.statuses import EnrollmentStatus, ItemStatus

from .transition_records import an_item

ENR, ITM = EnrollmentStatus, ItemStatus


def schedule(*statuses: ItemStatus) -> list[ScheduleItem]:
    """Items itm_1.. in ``statuses``, by sequence."""
    return [an_item(s, item_id=f"itm_{n}", seq=n) for n, s in enumerate(statuses, start=1)]


@pytest.mark.parametrize("enrollment", [ENR.PAUSED, ENR.CANCELLED])
@pytest.mark.parametrize("status", [ITM.SCHEDULED, ITM.FAILED, ITM.PROCESSING])
def test_paused_and_cancelled_enrollments_are_never_charged(
    enrollment: EnrollmentStatus, status: ItemStatus
) -> None:
    """Whatever the item, a paused or cancelled enrollment takes no automatic charge."""
    items = schedule(status)
    assert not charged_automatically(enrollment, items[0], items)


@pytest.mark.parametrize("dunning", sorted(DUNNING_ITEM_STATUSES))
def test_a_later_item_waits_while_an_earlier_one_is_in_dunning(dunning: ItemStatus) -> None:
    """One retry cycle at a time: item 3 waits while item 2 is in dunning; item 1 does not."""
    items = schedule(ITM.SCHEDULED, dunning, ITM.SCHEDULED)
    assert not charged_automatically(ENR.PAST_DUE, items[2], items)
    assert charged_automatically(ENR.PAST_DUE, items[0], items)


@pytest.mark.parametrize("held", [ENR.SUSPENDED, ENR.DEFAULTED])
def test_a_retry_that_is_due_is_tried_even_while_suspended(held: EnrollmentStatus) -> None:
    """The retry cycle itself goes on (or an item the payer requeued); new charges do not."""
    items = schedule(ITM.PAID, ITM.FAILED, ITM.SCHEDULED)
    assert charged_automatically(held, items[1], items)
    assert not charged_automatically(held, items[2], items)
    # Nothing earlier in dunning: a held enrollment still charges no scheduled item.
    assert not charged_automatically(held, items[2], [items[0], items[2]])


def test_an_active_enrollment_charges_its_scheduled_items() -> None:
    """Nothing in dunning: every scheduled item is collectible, paid ones do not matter."""
    items = schedule(ITM.PAID, ITM.SCHEDULED, ITM.SCHEDULED)
    assert all(charged_automatically(ENR.ACTIVE, item, items) for item in items[1:])
