"""How many days of service each enrollment has spent in ended pauses.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

``enrollpay_enrollments.paused_days`` (not null, default 0, never
negative) lets a refund quote leave paused days out of the used days and
move the end of the service later by as many days. A pause in progress is
still told by ``paused_on``; resuming adds its days here.

Existing rows: until now a resume wrote an ``enrollment.resumed`` audit
entry whose data holds ``shifted_days``, the length of the pause it ended.
Each enrollment gets the sum of those, each cut to the days between the
service start and the resume (a pause before the start took no service),
with the resume's day taken in UTC because the business time zone is not
known here. Enrollments never resumed get 0. The audit trail is only read.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TABLE = "enrollpay_enrollments"
_CHECK = "ck_enrollpay_enrollments_paused_days_not_negative"

_enrollments = sa.table(
    _TABLE,
    sa.column("id", sa.String()),
    sa.column("start_date", sa.Date()),
    sa.column("paused_days", sa.Integer()),
)
_audit = sa.table(
    "enrollpay_audit_log",
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("action", sa.String()),
    sa.column("entity_type", sa.String()),
    sa.column("entity_id", sa.String()),
    sa.column("data", sa.JSON()),
)


def _utc_day(at: datetime) -> date:
    # SQLite gives the stored UTC time back naive; PostgreSQL in the session's zone.
    return at.date() if at.tzinfo is None else at.astimezone(UTC).date()


def _paused_days(connection: sa.Connection) -> dict[str, int]:
    """Days of service each enrollment was paused, from its resume entries."""
    query = (
        sa.select(_audit.c.entity_id, _audit.c.at, _audit.c.data, _enrollments.c.start_date)
        .join(_enrollments, _enrollments.c.id == _audit.c.entity_id)
        .where(_audit.c.action == "enrollment.resumed", _audit.c.entity_type == "enrollment")
    )
    totals: dict[str, int] = defaultdict(int)
    for enrollment_id, at, data, start in connection.execute(query):
        shifted = data.get("shifted_days") if isinstance(data, dict) else None
        if isinstance(shifted, int) and shifted > 0:
            served = max((_utc_day(at) - start).days, 0)
            totals[enrollment_id] += min(shifted, served)
    return {k: v for k, v in totals.items() if v}


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table(_TABLE) as batch:
        batch.add_column(sa.Column("paused_days", sa.Integer(), nullable=False, server_default="0"))
        batch.create_check_constraint(op.f(_CHECK), "paused_days >= 0")
    connection = op.get_bind()
    for enrollment_id, days in sorted(_paused_days(connection).items()):
        connection.execute(
            _enrollments.update().where(_enrollments.c.id == enrollment_id).values(paused_days=days)
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table(_TABLE) as batch:
        batch.drop_constraint(op.f(_CHECK), type_="check")
        batch.drop_column("paused_days")
