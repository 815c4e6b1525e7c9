"""Schedule versions: a plan change supersedes open items and adds the next version.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06

``enrollpay_schedule_items.schedule_version`` (not null, default 1) says
which version of its enrollment's schedule an item belongs to: 1 for the
schedule written at enrollment, one more after each plan change. The
``known_status`` CHECK admits ``superseded``, the status of an open item a
plan change replaced. Existing rows are all version 1, as they were written.

On the way down the column goes and a superseded item becomes
``cancelled`` (it will never be collected; the items that replaced it stay,
with what is owed).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from alembic.operations import BatchOperations

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_ITEMS = "enrollpay_schedule_items"
_KNOWN_STATUS = "ck_enrollpay_schedule_items_known_status"
_STATUSES_0019 = (
    "cancelled",
    "defaulted",
    "failed",
    "paid",
    "paused",
    "processing",
    "requires_action",
    "requires_payment_method",
    "scheduled",
    "waived",
)
_STATUSES_0020 = (*_STATUSES_0019, "superseded")

_items = sa.table(_ITEMS, sa.column("status", sa.String()))


def _set_known_statuses(batch: BatchOperations, statuses: tuple[str, ...]) -> None:
    check = "status IN ({})".format(", ".join(f"'{s}'" for s in sorted(statuses)))
    batch.drop_constraint(op.f(_KNOWN_STATUS), type_="check")
    batch.create_check_constraint(op.f(_KNOWN_STATUS), check)


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table(_ITEMS) as batch:
        batch.add_column(
            sa.Column("schedule_version", sa.Integer(), nullable=False, server_default="1")
        )
        _set_known_statuses(batch, _STATUSES_0020)


def downgrade() -> None:
    """Revert this revision."""
    op.execute(_items.update().where(_items.c.status == "superseded").values(status="cancelled"))
    with op.batch_alter_table(_ITEMS) as batch:
        batch.drop_column("schedule_version")
        _set_known_statuses(batch, _STATUSES_0019)
