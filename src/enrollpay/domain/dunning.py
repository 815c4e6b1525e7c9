"""One dunning cycle per enrollment: which items collection may charge on its own.

The rule ``collect_due`` (and each store's ``claim_due``) follows:

- a paused or cancelled enrollment is never charged automatically;
- while an item of an enrollment is in dunning (a retry pending, waiting
  for the customer to authenticate, for a new card, or defaulted), its
  *later* scheduled items of the same payer are not charged on their own:
  one retry cycle at a time, and no new debt piled on a card that is
  failing (an enrollment split between payers has one cycle per payer,
  see :mod:`enrollpay.domain.payers`);
- a suspended or defaulted enrollment gets no new charges either: only
  an item whose retry is due (its retry cycle, or an item the payer put
  back in line by saving a new card) is tried.

When the item in dunning is paid (a retry succeeds, a payment by hand) or
the payer acts (``update_payment_method``), the later items become
collectible again and are charged oldest first, each on its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal

from enrollpay.domain.records import ScheduleItem
from enrollpay.domain.statuses import EnrollmentStatus, ItemStatus

__all__ = [
    "DUNNING_ITEM_STATUSES",
    "FINAL_FAILURE_POLICIES",
    "FinalFailure",
    "charged_automatically",
]

#: Items that hold their enrollment's later items back.
DUNNING_ITEM_STATUSES: Final = frozenset(
    {
        ItemStatus.FAILED,
        ItemStatus.REQUIRES_ACTION,
        ItemStatus.REQUIRES_PAYMENT_METHOD,
        ItemStatus.DEFAULTED,
    }
)

#: What happens to an enrollment when the last retry of an item fails:
#: ``suspend`` (it stays suspended until the payer acts, the default),
#: ``default`` (it is put in default: access withheld, the debt kept, no
#: automatic charge, until the arrears are paid) or ``cancel`` (it is
#: cancelled; nothing more is collected).
FinalFailure = Literal["suspend", "default", "cancel"]
FINAL_FAILURE_POLICIES: Final = ("suspend", "default", "cancel")

#: Enrollments that get no new charges, only retries that are due.
_HELD = frozenset({EnrollmentStatus.SUSPENDED, EnrollmentStatus.DEFAULTED})

_NEVER = frozenset({EnrollmentStatus.PAUSED, EnrollmentStatus.CANCELLED})


def charged_automatically(
    enrollment: EnrollmentStatus, item: ScheduleItem, items: Iterable[ScheduleItem]
) -> bool:
    """Whether ``collect_due`` may charge ``item`` of an enrollment in status ``enrollment``.

    ``items`` are the enrollment's items (``item`` among them or not). Only
    the enrollment's status and the items' statuses and order count; the
    due date and lease are the claim's business.
    """
    if enrollment in _NEVER:
        return False
    if item.status != ItemStatus.SCHEDULED:
        return True  # a retry that is due, or a charge a dead worker left
    if enrollment in _HELD:
        return False
    # One cycle per payer: another payer's failing card holds back none of this payer's items.
    return not any(
        o.status in DUNNING_ITEM_STATUSES and o.seq < item.seq and o.payer_id == item.payer_id
        for o in items
    )
