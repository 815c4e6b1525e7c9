"""What drift re-sync needs of a store: cursors, and look-ups of many records at once.

``reconcile`` walks the gateway's record page by page
(:mod:`enrollpay.service.drift`). For each page it asks the read port once
for every record the page's objects may match (:class:`SyncLookups`),
instead of once per object. Where the last walk of each kind of object
ended is kept per gateway and kind as a :class:`SyncCursor`
(:class:`SyncCursorWrites` on the write port), and moved only forwards.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Protocol

import attrs

from enrollpay.domain.records import Payment, PaymentAttempt, Refund

__all__ = ["SyncCursor", "SyncCursorWrites", "SyncLookups"]


@attrs.frozen
class SyncCursor:
    """How far the gateway's record of one kind of object has been compared.

    ``position`` is the gateway's creation time of the newest object the
    last complete walk saw; the next walk lists from there, less the
    overlap window. ``updated_at`` is when it was last moved (the clock's).
    """

    gateway: str
    kind: str
    position: datetime
    updated_at: datetime


class SyncLookups(Protocol):
    """Read-port look-ups for one page of gateway objects: every match in one query each."""

    def sync_cursor(self, gateway: str, kind: str) -> SyncCursor | None:
        """The cursor of ``kind`` at ``gateway`` (None: never walked)."""
        ...

    def find_attempts(
        self, *, ids: Collection[str] = (), gateway_payment_ids: Collection[str] = ()
    ) -> list[PaymentAttempt]:
        """The attempts whose id is in ``ids`` or whose gateway payment id is in the other."""
        ...

    def find_payments(self, *, gateway_payment_ids: Collection[str]) -> list[Payment]:
        """The payments recorded for these gateway payment ids."""
        ...

    def find_refunds(
        self,
        *,
        ids: Collection[str] = (),
        gateway_refund_ids: Collection[str] = (),
        payment_ids: Collection[str] = (),
    ) -> list[Refund]:
        """The refunds with one of ``ids``, one of the gateway ids, or of one of the payments."""
        ...


class SyncCursorWrites(Protocol):
    """The write-port verb of the cursors (kept apart from the domain's verbs)."""

    def advance_sync_cursor(self, cursor: SyncCursor) -> SyncCursor:
        """Store ``cursor`` unless the stored one is further already; return what is stored.

        A cursor never moves backwards: of two walks that end in either
        order, the further position stays.
        """
        ...
