"""When each enrollment first gave its student access.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06

``enrollpay_enrollments.access_granted_at`` lets the state machine tell a
first ``access.granted`` from an ``access.restored`` (a trial that ended
unpaid and was paid later, a pause from ``pending_payment``): the status
alone cannot say whether access was ever given.

Existing rows: the column is set to ``created_at`` where access was
certainly given at some point (the enrollment is ``active``, ``past_due``
or ``completed`` now, or has a payment) and left empty elsewhere. The
history that would date it exactly is not kept; an enrollment left empty
here that gets access later announces it as ``access.granted``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_enrollments = sa.table(
    "enrollpay_enrollments",
    sa.column("id", sa.String()),
    sa.column("status", sa.String()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("access_granted_at", sa.DateTime(timezone=True)),
)
_payments = sa.table("enrollpay_payments", sa.column("enrollment_id", sa.String()))


def upgrade() -> None:
    """Apply this revision."""
    op.add_column(
        "enrollpay_enrollments",
        sa.Column("access_granted_at", sa.DateTime(timezone=True), nullable=True),
    )
    paid = sa.select(_payments.c.enrollment_id).where(
        _payments.c.enrollment_id == _enrollments.c.id
    )
    op.execute(
        _enrollments.update()
        .where(
            sa.or_(
                _enrollments.c.status.in_(("active", "past_due", "completed")),
                paid.exists(),
            )
        )
        .values(access_granted_at=_enrollments.c.created_at)
    )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("enrollpay_enrollments") as batch:
        batch.drop_column("access_granted_at")
