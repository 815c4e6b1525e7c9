"""Payers of :class:`~enrollpay.storage.memory.InMemoryStore` (a table among its tables)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from enrollpay.domain.payers import Payer
from enrollpay.domain.records import ScheduleItem
from enrollpay.errors import DuplicateError
from enrollpay.storage.memory_tables import require

if TYPE_CHECKING:
    from enrollpay.storage.memory_tables import MemoryTables

__all__ = ["MemoryPayers"]


class MemoryPayers:
    """The payer methods of an in-memory transaction."""

    _t: MemoryTables

    def add_payer(self, payer: Payer) -> None:
        """Insert a payer."""
        if payer.id in self._t.payers:
            raise DuplicateError("payer id", payer.id)
        self._t.payers[payer.id] = payer

    def update_payer(self, payer: Payer) -> None:
        """Replace a stored payer."""
        require(self._t.payers, payer.id, "payer")
        self._t.payers[payer.id] = payer

    def get_payer(self, payer_id: str) -> Payer | None:
        """The payer with this id."""
        return self._t.payers.get(payer_id)

    def list_payers(self) -> list[Payer]:
        """Every payer, by id."""
        return [self._t.payers[key] for key in sorted(self._t.payers)]

    def items_of_payer(self, payer_id: str) -> list[ScheduleItem]:
        """The items this payer owes, in due order (then by id)."""
        owed = (item for item in self._t.items.values() if item.payer_id == payer_id)
        return sorted(owed, key=lambda item: (item.due, item.id))
