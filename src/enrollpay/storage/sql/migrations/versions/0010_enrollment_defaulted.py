"""Enrollments may be ``defaulted``: the ``after_final_failure="default"`` end state.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06

The ``known_status`` CHECK of ``enrollpay_enrollments`` admits
``defaulted``. No row changes on the way up. On the way down a defaulted
enrollment becomes ``suspended``, the status it had before the policy put
it in default (its items still say what it owes).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_ENROLLMENTS = "enrollpay_enrollments"
_KNOWN_STATUS = "ck_enrollpay_enrollments_known_status"
_STATUSES_0009 = (
    "active",
    "cancelled",
    "completed",
    "past_due",
    "paused",
    "pending_payment",
    "suspended",
)
_STATUSES_0010 = (*_STATUSES_0009, "defaulted")

_enrollments = sa.table(_ENROLLMENTS, sa.column("status", sa.String()))


def _set_known_statuses(statuses: tuple[str, ...]) -> None:
    check = "status IN ({})".format(", ".join(f"'{s}'" for s in sorted(statuses)))
    with op.batch_alter_table(_ENROLLMENTS) as batch:
        batch.drop_constraint(op.f(_KNOWN_STATUS), type_="check")
        batch.create_check_constraint(op.f(_KNOWN_STATUS), check)


def upgrade() -> None:
    """Apply this revision."""
    _set_known_statuses(_STATUSES_0010)


def downgrade() -> None:
    """Revert this revision."""
    op.execute(
        _enrollments.update().where(_enrollments.c.status == "defaulted").values(status="suspended")
    )
    _set_known_statuses(_STATUSES_0009)
