"""Dunning recovery in SQL: how many failed items were paid, and after how many retries."""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa

from enrollpay import reports
from enrollpay.domain.lifecycle import AttemptStatus, ItemStatus
from enrollpay.report_rows import RecoveryTally
from enrollpay.storage.sql.reportbase import ReportBase, as_int, total
from enrollpay.storage.sql.schema import (
    attempts,
    schedule_items,
)

__all__ = ["RecoveryReports"]


class RecoveryReports(ReportBase):
    """Dunning recovery per currency."""

    def report_recovery(self) -> list[reports.RecoveryRow]:
        """Dunning recovery per currency."""
        a = attempts.c
        declined = (
            sa.select(a.item_id)
            .where(a.status == AttemptStatus.FAILED.value, a.mode == "off_session")
            .group_by(a.item_id)
            .subquery("declined")
        )
        won = (
            sa.select(a.item_id, sa.func.min(a.number).label("number"))
            .where(a.status == AttemptStatus.SUCCEEDED.value)
            .group_by(a.item_id)
            .subquery("won")
        )
        earlier = attempts.alias("earlier")
        retry = (
            sa.select(won.c.item_id, sa.func.count(earlier.c.id).label("before"))
            .select_from(
                won.outerjoin(
                    earlier,
                    sa.and_(earlier.c.item_id == won.c.item_id, earlier.c.number < won.c.number),
                )
            )
            .group_by(won.c.item_id)
            .subquery("retry")
        )
        i = schedule_items.c
        outcomes = (
            sa.select(i.currency, i.status, retry.c.before, i.amount_minor)
            .select_from(
                schedule_items.join(declined, declined.c.item_id == i.id).outerjoin(
                    retry, retry.c.item_id == i.id
                )
            )
            .subquery("outcomes")
        )
        o = outcomes.c
        stmt = sa.select(
            o.currency,
            o.status,
            o.before,
            sa.func.count().label("n"),
            total(o.amount_minor).label("amount"),
        ).group_by(o.currency, o.status, o.before)
        tallies: dict[str, RecoveryTally] = defaultdict(RecoveryTally)
        for row in self._all(stmt):
            before = None if row["before"] is None else as_int(row["before"])
            tallies[row["currency"]].add(
                ItemStatus(row["status"]), as_int(row["amount"]), before, as_int(row["n"])
            )
        return [t.row(currency) for currency, t in sorted(tallies.items())]
