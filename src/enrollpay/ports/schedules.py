"""The schedule-versions part of the write port: replacing what an enrollment still owes.

:class:`~enrollpay.ports.StoreTransaction` includes this verb. A plan change
(:mod:`enrollpay.domain.plan_change`) supersedes the open items of an
enrollment and adds the items of the next schedule version, in the unit of
work that holds the enrollment's lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from enrollpay.domain.records import ScheduleItem

__all__ = ["ScheduleRevisions"]


class ScheduleRevisions(Protocol):
    """Schedule versions, within one unit of work."""

    def replace_open_items(
        self,
        enrollment_id: str,
        superseded: Sequence[ScheduleItem],
        added: Sequence[ScheduleItem],
    ) -> None:
        """Store ``superseded`` (existing items, now ``superseded``) and insert ``added``.

        Every item must be the enrollment's; the superseded ones must exist
        and be ``superseded``; the added ones ``scheduled`` in one schedule
        version, one more than the newest stored, with sequence numbers not
        taken. Otherwise :class:`~enrollpay.errors.InvalidInputError` (or
        :class:`~enrollpay.errors.DuplicateError` for a taken id or sequence
        number), raised before anything is written.
        """
        ...
