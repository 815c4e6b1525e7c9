"""The transactional outbox, and a status of their own for cancelled payment attempts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06

Outbox: ``enrollpay_outbox`` keeps the domain events each unit of work
caused, numbered by ``seq`` (an identity column; AUTOINCREMENT on SQLite
so a number is never handed out twice), with a partial index on the
undelivered ones; ``enrollpay_outbox_lease`` holds the one dispatch lease
in a single row, created here free. The outbox starts empty: events
describe changes made from this version on, none are invented for the
past.

Cancelled attempts: until now an on-session payment cancelled at the
gateway was stored as ``failed`` with ``decline_code = 'canceled'`` (a
declined checkout cancelled afterwards got that decline code too). The
``known_status`` CHECK now admits ``canceled`` and those rows get it.
Their ``decline_code`` stays ``'canceled'``: the upgrade loses nothing, so
the downgrade restores the rows exactly, and nothing better can be put
there (a later cancellation had overwritten the real decline code
already). The downgrade turns every ``canceled`` attempt back into
``failed`` with ``decline_code = 'canceled'``, which is how the older code
recognises a cancelled checkout, then narrows the CHECK again.

SQLite cannot alter a CHECK constraint: batch mode rebuilds the attempts
table, which is why :func:`enrollpay.storage.sql.migrate` runs migrations
on SQLite with foreign keys off (then checks them).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ATTEMPTS = "enrollpay_payment_attempts"
_KNOWN_STATUS = "ck_enrollpay_payment_attempts_known_status"
_STATUSES_0003 = ("failed", "pending", "requires_action", "succeeded", "unknown")
_STATUSES_0004 = (*_STATUSES_0003, "canceled")
_CANCELED = "canceled"
_FAILED = "failed"

_attempts = sa.table(_ATTEMPTS, sa.column("status", sa.String()), sa.column("decline_code"))
_lease = sa.table(
    "enrollpay_outbox_lease",
    sa.column("id", sa.Integer()),
    sa.column("holder", sa.String()),
    sa.column("lease_until", sa.DateTime(timezone=True)),
)


def _status_check(statuses: tuple[str, ...]) -> str:
    return "status IN ({})".format(", ".join(f"'{s}'" for s in sorted(statuses)))


def _set_known_statuses(statuses: tuple[str, ...]) -> None:
    with op.batch_alter_table(_ATTEMPTS) as batch:
        batch.drop_constraint(op.f(_KNOWN_STATUS), type_="check")
        batch.create_check_constraint(op.f(_KNOWN_STATUS), _status_check(statuses))


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "enrollpay_outbox",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(),
            nullable=False,
        ),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("enrollment_id", sa.String(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_enrollpay_outbox")),
        sa.UniqueConstraint("id", name=op.f("uq_enrollpay_outbox_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_enrollpay_outbox_undelivered",
        "enrollpay_outbox",
        ["seq"],
        unique=False,
        sqlite_where=sa.text("delivered_at IS NULL"),
        postgresql_where=sa.text("delivered_at IS NULL"),
    )
    op.create_table(
        "enrollpay_outbox_lease",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("holder", sa.String(), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_enrollpay_outbox_lease_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollpay_outbox_lease")),
    )
    op.bulk_insert(_lease, [{"id": 1, "holder": None, "lease_until": None}])

    _set_known_statuses(_STATUSES_0004)
    op.execute(
        _attempts.update()
        .where(_attempts.c.status == _FAILED, _attempts.c.decline_code == _CANCELED)
        .values(status=_CANCELED)
    )


def downgrade() -> None:
    """Revert this revision."""
    op.execute(
        _attempts.update()
        .where(_attempts.c.status == _CANCELED)
        .values(status=_FAILED, decline_code=_CANCELED)
    )
    _set_known_statuses(_STATUSES_0003)

    op.drop_table("enrollpay_outbox_lease")
    op.drop_index("ix_enrollpay_outbox_undelivered", table_name="enrollpay_outbox")
    op.drop_table("enrollpay_outbox")
