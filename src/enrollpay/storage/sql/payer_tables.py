"""The payers table (migration 0021).

Kept beside :mod:`.schema` (which imports this module, so the table is on
its metadata). A schedule item names the payer who owes it in
``enrollpay_schedule_items.payer_id`` (NULL: the student), indexed for a
payer's statement.
"""

from __future__ import annotations

import sqlalchemy as sa

from enrollpay.domain.payers import PAYER_KINDS
from enrollpay.storage.sql.instants import UTCDateTime
from enrollpay.storage.sql.metadata import ID, metadata, one_of

__all__ = ["payers"]

payers = sa.Table(
    "enrollpay_payers",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("name", sa.Text(), nullable=False),
    sa.Column("email", sa.Text(), nullable=False),
    sa.Column("gateway_customer_id", sa.String(), nullable=True),
    sa.Column("payment_method_id", sa.String(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=True),
    one_of("kind", PAYER_KINDS, "known_kind"),
)
