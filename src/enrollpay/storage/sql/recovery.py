"""Dunning recovery in SQL: how many failed items were paid, and after how many retries."""

from __future__ import annotations

from collections import defaultdict

import attrs
import sqlalchemy as sa

from enrollpay import reports
from enrollpay.domain.lifecycle import (
    OPEN_ITEM_STATUSES,
    AttemptStatus,
    ItemStatus,
)
from enrollpay.domain.money import Money
from enrollpay.storage.sql.reportbase import ReportBase, as_int, total
from enrollpay.storage.sql.schema import (
    attempts,
    schedule_items,
)

__all__ = ["RecoveryReports"]


@attrs.define
class _Tally:
    failed: int = 0
    recovered: int = 0
    by_retry: dict[int, int] = attrs.Factory(dict)
    manual: int = 0
    defaulted: int = 0
    still_open: int = 0
    amount: int = 0


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
        tallies: dict[str, _Tally] = defaultdict(_Tally)
        for row in self._all(stmt):
            tally, n = tallies[row["currency"]], as_int(row["n"])
            tally.failed += n
            status = ItemStatus(row["status"])
            if status == ItemStatus.PAID:
                tally.recovered += n
                tally.amount += as_int(row["amount"])
                if row["before"] is None:
                    tally.manual += n
                else:
                    before = as_int(row["before"])
                    tally.by_retry[before] = tally.by_retry.get(before, 0) + n
            elif status == ItemStatus.DEFAULTED:
                tally.defaulted += n
            elif status in OPEN_ITEM_STATUSES:
                tally.still_open += n
        return [
            reports.RecoveryRow(
                currency=currency,
                failed_items=t.failed,
                recovered=t.recovered,
                recovered_by_retry=dict(sorted(t.by_retry.items())),
                recovered_manually=t.manual,
                defaulted=t.defaulted,
                still_open=t.still_open,
                recovered_amount=Money(t.amount, currency),
            )
            for currency, t in sorted(tallies.items())
        ]
