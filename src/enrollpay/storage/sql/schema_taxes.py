"""The tax columns of schedule items (migration 0020), added to the items' table definition.

Each is empty on an untaxed item; a taxed item has all four: the tax in
its amount (``tax_minor``, in the item's currency; the net is the amount
less it), the rate in parts per million, the jurisdiction, and whether the
price included the tax.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from enrollpay.domain.taxes import TAX_MODES
from enrollpay.storage.sql.metadata import not_negative, one_of

__all__ = ["item_tax_columns"]


def item_tax_columns() -> tuple[Any, ...]:
    """The columns of an item's tax and the checks that keep them whole."""
    return (
        sa.Column("tax_minor", sa.BigInteger(), nullable=True),
        sa.Column("tax_rate_ppm", sa.Integer(), nullable=True),
        sa.Column("tax_jurisdiction", sa.String(16), nullable=True),
        sa.Column("tax_mode", sa.String(16), nullable=True),
        not_negative("tax_minor"),
        one_of("tax_mode", TAX_MODES, "known_tax_mode"),
        sa.CheckConstraint(
            "(tax_minor IS NULL) = (tax_mode IS NULL)"
            " AND (tax_minor IS NULL) = (tax_rate_ppm IS NULL)"
            " AND (tax_minor IS NULL) = (tax_jurisdiction IS NULL)",
            name="tax_whole",
        ),
    )
