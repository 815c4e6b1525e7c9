"""The disputes part of the write port: a store keeps each gateway dispute once.

:class:`~enrollpay.ports.StoreTransaction` includes these verbs, as it
includes the outbox's (:class:`~enrollpay.ports.EventOutbox`). A dispute
belongs to one recorded payment and is known by the gateway's dispute id,
which no two disputes share.
"""

from __future__ import annotations

from typing import Protocol

from enrollpay.domain.records import Dispute

__all__ = ["DisputeRecords"]


class DisputeRecords(Protocol):
    """The disputes of recorded payments, within one unit of work."""

    def add_dispute(self, dispute: Dispute) -> None:
        """Insert a dispute of a recorded payment.

        ``PaymentNotFoundError`` if its payment is not recorded;
        ``DuplicateError`` if its id or its gateway dispute id is known.
        """
        ...

    def update_dispute(self, dispute: Dispute) -> None:
        """Replace an existing dispute (``StorageError`` if there is none)."""
        ...

    def find_dispute_by_gateway_id(self, gateway_dispute_id: str) -> Dispute | None:
        """The dispute the gateway knows as ``gateway_dispute_id``."""
        ...

    def disputes_of(self, enrollment_id: str) -> list[Dispute]:
        """The disputes of an enrollment's payments, oldest first (then by id)."""
        ...
