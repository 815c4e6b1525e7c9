"""The payers part of the store's ports: who pays, and which items they owe.

:class:`PayerLookups` is in both the read port and the write port;
:class:`PayerRecords` (the write port's part) adds and updates payers. A
schedule item names its payer (``ScheduleItem.payer_id``, None: the
student); it is written with the item (``add_items``), not here.
"""

from __future__ import annotations

from typing import Protocol

from enrollpay.domain.payers import Payer
from enrollpay.domain.records import ScheduleItem

__all__ = ["PayerLookups", "PayerRecords"]


class PayerLookups(Protocol):
    """Payers and the items they owe, as one snapshot or unit of work sees them."""

    def get_payer(self, payer_id: str) -> Payer | None:
        """The payer with this id."""
        ...

    def list_payers(self) -> list[Payer]:
        """Every payer, by id."""
        ...

    def items_of_payer(self, payer_id: str) -> list[ScheduleItem]:
        """Every schedule item this payer owes, in due order (then by id)."""
        ...


class PayerRecords(PayerLookups, Protocol):
    """Payers, within one unit of work."""

    def add_payer(self, payer: Payer) -> None:
        """Insert a payer (``DuplicateError`` if its id is taken)."""
        ...

    def update_payer(self, payer: Payer) -> None:
        """Replace a stored payer (``StorageError`` if there is none with its id)."""
        ...
