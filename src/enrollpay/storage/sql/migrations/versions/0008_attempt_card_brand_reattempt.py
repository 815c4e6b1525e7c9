"""What the card-network retry caps count: the card's brand and the reattempts.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08

``enrollpay_payment_attempts.card_brand`` keeps the brand the gateway
reported with a decline (``visa``, ``mastercard``, ...), by which the retry
policy's caps are keyed; ``reattempt`` (not null, default false) marks an
attempt that retried a payment its payment method had declined before,
and an index on (enrollment_id, payment_method_id, created_at) finds a
user's attempts on one payment method of the last days.

Existing rows: ``reattempt`` is set where an earlier attempt of the same
item on the same payment method has a decline class (what the library
decides for new attempts), so the reattempts of the last 30 days count
from the upgrade on. ``card_brand`` stays empty (no gateway answer kept
it): a card is capped from its next decline, which reports the brand.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_TABLE = "enrollpay_payment_attempts"
_INDEX = "ix_enrollpay_payment_attempts_enrollment_method_created"


def _attempts(name: str) -> sa.TableClause:
    return sa.table(
        name,
        sa.column("item_id", sa.String()),
        sa.column("number", sa.Integer()),
        sa.column("payment_method_id", sa.String()),
        sa.column("decline_class", sa.String()),
        sa.column("reattempt", sa.Boolean()),
    )


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table(_TABLE) as batch:
        batch.add_column(sa.Column("card_brand", sa.String(), nullable=True))
        batch.add_column(
            sa.Column("reattempt", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_index(
        _INDEX, _TABLE, ["enrollment_id", "payment_method_id", "created_at"], unique=False
    )
    attempts = _attempts(_TABLE)
    earlier = _attempts(_TABLE).alias("earlier")
    declined_before = (
        sa.select(sa.literal(1))
        .where(
            earlier.c.item_id == attempts.c.item_id,
            earlier.c.payment_method_id == attempts.c.payment_method_id,
            earlier.c.number < attempts.c.number,
            earlier.c.decline_class.is_not(None),
        )
        .exists()
    )
    op.get_bind().execute(
        attempts.update()
        .where(attempts.c.payment_method_id.is_not(None), declined_before)
        .values(reattempt=sa.true())
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(_INDEX, table_name=_TABLE)
    with op.batch_alter_table(_TABLE) as batch:
        batch.drop_column("reattempt")
        batch.drop_column("card_brand")
