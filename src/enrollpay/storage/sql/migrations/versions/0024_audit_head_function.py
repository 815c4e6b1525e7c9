"""PostgreSQL: one call takes the audit chain's lock and reads its head.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07

``enrollpay_audit_head(lock_key)`` takes the advisory transaction lock
``lock_key`` and then returns the chain's last entry (no row when the chain
is empty). A writer of the chain used to send two statements for this, the
lock and then the read, while every other writer waited. A plain statement
cannot do both: under READ COMMITTED its snapshot is taken before it waits
for the lock, so it would read the head as it was before the previous
writer committed. A VOLATILE PL/pgSQL function takes a new snapshot for
each query it runs, so its read comes after the lock is granted and sees
the previous writer's entries. No table changes; SQLite gets nothing (its
writers are serialised by the database's write lock). The downgrade drops
the function.
"""

from __future__ import annotations

from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION enrollpay_audit_head(lock_key bigint)
        RETURNS SETOF enrollpay_audit_log
        LANGUAGE plpgsql VOLATILE
        AS $body$
        BEGIN
            PERFORM pg_advisory_xact_lock(lock_key);
            RETURN QUERY SELECT * FROM enrollpay_audit_log ORDER BY seq DESC LIMIT 1;
        END
        $body$
        """
    )


def downgrade() -> None:
    """Revert this revision."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION enrollpay_audit_head(bigint)")
