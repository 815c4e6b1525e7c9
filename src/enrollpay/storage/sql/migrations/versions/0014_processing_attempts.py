"""A status of their own for payment attempts that settle later (bank debits).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06

The ``known_status`` CHECK of ``enrollpay_payment_attempts`` admits
``processing``: a payment the gateway accepted and settles days later (a
SEPA, ACH or Bacs debit). Until now such an attempt was stored as
``unknown`` with the message ``processing at the gateway``, which made
``reconcile`` report it every day; those rows become ``processing``, their
message kept (the upgrade loses nothing, so the downgrade restores them
exactly). The window of such a row counts from its ``updated_at``, which
is when it was marked so.

The downgrade turns every ``processing`` attempt back into ``unknown``,
with that message where it has none (how the older code stored them), then
narrows the CHECK again. SQLite rebuilds the table in batch mode for the
CHECK, as in 0004.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_ATTEMPTS = "enrollpay_payment_attempts"
_KNOWN_STATUS = "ck_enrollpay_payment_attempts_known_status"
_STATUSES_0013 = ("canceled", "failed", "pending", "requires_action", "succeeded", "unknown")
_STATUSES_0014 = (*_STATUSES_0013, "processing")
_UNKNOWN = "unknown"
_PROCESSING = "processing"
#: What the older code wrote on an attempt the gateway answered ``processing``.
_OLD_MESSAGE = "processing at the gateway"

_attempts = sa.table(_ATTEMPTS, sa.column("status", sa.String()), sa.column("message"))


def _status_check(statuses: tuple[str, ...]) -> str:
    return "status IN ({})".format(", ".join(f"'{s}'" for s in sorted(statuses)))


def _set_known_statuses(statuses: tuple[str, ...]) -> None:
    with op.batch_alter_table(_ATTEMPTS) as batch:
        batch.drop_constraint(op.f(_KNOWN_STATUS), type_="check")
        batch.create_check_constraint(op.f(_KNOWN_STATUS), _status_check(statuses))


def upgrade() -> None:
    """Apply this revision."""
    _set_known_statuses(_STATUSES_0014)
    op.execute(
        _attempts.update()
        .where(_attempts.c.status == _UNKNOWN, _attempts.c.message == _OLD_MESSAGE)
        .values(status=_PROCESSING)
    )


def downgrade() -> None:
    """Revert this revision."""
    op.execute(
        _attempts.update()
        .where(_attempts.c.status == _PROCESSING, _attempts.c.message.is_(None))
        .values(message=_OLD_MESSAGE)
    )
    op.execute(_attempts.update().where(_attempts.c.status == _PROCESSING).values(status=_UNKNOWN))
    _set_known_statuses(_STATUSES_0013)
