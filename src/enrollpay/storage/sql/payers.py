"""Payers in a SQL transaction (table: :mod:`.payer_tables`; items name theirs in ``payer_id``)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from enrollpay.domain.payers import Payer
from enrollpay.domain.records import ScheduleItem
from enrollpay.errors import DuplicateError, StorageError
from enrollpay.storage.sql import mapping as m
from enrollpay.storage.sql.mapping.values import Row
from enrollpay.storage.sql.payer_tables import payers
from enrollpay.storage.sql.schema import schedule_items
from enrollpay.storage.sql.unit import SqlUnit

__all__ = ["PayerRepository"]

_P = payers.c
_I = schedule_items.c


def _row(p: Payer) -> dict[str, Any]:
    return {
        "id": p.id,
        "kind": p.kind,
        "name": p.name,
        "email": p.email,
        "gateway_customer_id": p.gateway_customer_id,
        "payment_method_id": p.payment_method_id,
        "created_at": p.created_at,
    }


def _payer(r: Row) -> Payer:
    return Payer(
        id=r["id"],
        kind=r["kind"],
        name=r["name"],
        email=r["email"],
        gateway_customer_id=r["gateway_customer_id"],
        payment_method_id=r["payment_method_id"],
        created_at=r["created_at"],
    )


class PayerRepository(SqlUnit):
    """The payer methods of one SQL transaction."""

    def add_payer(self, payer: Payer) -> None:
        """Insert a payer."""
        if self.get_payer(payer.id) is not None:
            raise DuplicateError("payer id", payer.id)
        self._d.run(sa.insert(payers).values(**_row(payer)))

    def update_payer(self, payer: Payer) -> None:
        """Replace a stored payer."""
        done = self._d.run(sa.update(payers).where(_P.id == payer.id).values(**_row(payer)))
        if not done.rowcount:
            raise StorageError(f"cannot update payer {payer.id!r}: it does not exist")

    def get_payer(self, payer_id: str) -> Payer | None:
        """The payer with this id."""
        row = self._d.run(sa.select(payers).where(_P.id == payer_id)).first()
        return None if row is None else _payer(row)

    def list_payers(self) -> list[Payer]:
        """Every payer, by id."""
        stmt = sa.select(payers).order_by(self._text(_P.id))
        return [_payer(r) for r in self._d.run(stmt).all()]

    def items_of_payer(self, payer_id: str) -> list[ScheduleItem]:
        """The items this payer owes, in due order (then by id)."""
        stmt = (
            sa.select(schedule_items)
            .where(_I.payer_id == payer_id)
            .order_by(_I.due, self._text(_I.id))
        )
        return [m.item_from_row(r) for r in self._d.run(stmt).all()]
