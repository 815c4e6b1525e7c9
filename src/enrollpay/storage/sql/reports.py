"""Report queries of the SQL store: aggregating SQL, the reference functions' rows.

Every report is computed in the database with ``GROUP BY`` queries (SQLAlchemy
Core, the same statements on SQLite and PostgreSQL except where noted); Python
only turns the few aggregated rows into report rows. The definitions are those
of :mod:`enrollpay.reports`, and ``tests/contract/test_report_equivalence.py``
checks that every method returns exactly what the reference function returns
over the same rows.

Money stays exact: sums are of BIGINT minor units, grouped per currency
(PostgreSQL returns ``SUM(bigint)`` as an exact NUMERIC, which is turned back
into an ``int``). Grouping keys that are expressions are computed in a
subquery and grouped by its column, because PostgreSQL would not match a
``SELECT`` expression with the same ``GROUP BY`` expression when each holds
its own bound parameter.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import attrs
import sqlalchemy as sa

from enrollpay import reports
from enrollpay.domain.lifecycle import (
    EnrollmentStatus,
    ItemStatus,
)
from enrollpay.domain.money import Money
from enrollpay.report_rows import forecast_end, product_row
from enrollpay.storage.sql.disputereports import DisputeFigures, DisputeReports
from enrollpay.storage.sql.recovery import RecoveryReports
from enrollpay.storage.sql.reportbase import (
    CANCELLED,
    FAILED_REFUND,
    OPEN,
    as_int,
    count_if,
    total,
)
from enrollpay.storage.sql.revenue import RevenueReports
from enrollpay.storage.sql.schema import (
    enrollments,
    payments,
    products,
    refunds,
    schedule_items,
)

__all__ = ["SqlReports"]


def _shift(day: date, days: int) -> date | None:
    """``day + days``, or None past the calendar's ends."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return None


class SqlReports(RevenueReports, RecoveryReports, DisputeReports):
    """The :class:`~enrollpay.ports.ReportQueries` half of a SQL transaction.

    Revenue is :mod:`.revenue`, dunning recovery :mod:`.recovery`, the
    product report's dispute figures :mod:`.disputereports`; the
    status breakdown, product performance, aging and forecast are here.
    """

    def report_status(self) -> reports.StatusBreakdown:
        """Enrollments and items per status."""
        counts = dict.fromkeys(EnrollmentStatus, 0)
        per_status = sa.select(enrollments.c.status, sa.func.count().label("n")).group_by(
            enrollments.c.status
        )
        for row in self._all(per_status):
            counts[EnrollmentStatus(row["status"])] = as_int(row["n"])
        i = schedule_items.c
        open_ = i.status.in_(OPEN)
        per_item_status = (
            sa.select(
                i.status,
                i.currency,
                sa.func.count().label("n"),
                total(i.amount_minor).label("amount"),
                total(sa.case((open_, i.amount_minor - i.amount_paid_minor), else_=0)).label(
                    "outstanding"
                ),
            )
            .group_by(i.status, i.currency)
            .order_by(self._order(i.status), self._order(i.currency))
        )
        rows = tuple(
            reports.ItemStatusRow(
                ItemStatus(row["status"]),
                row["currency"],
                as_int(row["n"]),
                Money(as_int(row["amount"]), row["currency"]),
                Money(as_int(row["outstanding"]), row["currency"]),
            )
            for row in self._all(per_item_status)
        )
        return reports.StatusBreakdown(counts, rows)

    # -- products ---------------------------------------------------------------------

    def report_products(self) -> list[reports.ProductRow]:
        """Performance per product and currency its enrollments were sold in."""
        e = enrollments.c
        defaulted = (
            sa.select(schedule_items.c.enrollment_id)
            .where(schedule_items.c.status == ItemStatus.DEFAULTED.value)
            .group_by(schedule_items.c.enrollment_id)
            .subquery("defaulted")
        )
        sold = (
            sa.select(
                e.product_id,
                e.currency,
                sa.func.count().label("n"),
                count_if(e.status == EnrollmentStatus.COMPLETED.value).label("completed"),
                count_if(e.status == EnrollmentStatus.CANCELLED.value).label("cancelled"),
                count_if(e.status == EnrollmentStatus.SUSPENDED.value).label("suspended"),
                sa.func.count(defaulted.c.enrollment_id).label("defaulted"),
            )
            .select_from(enrollments.outerjoin(defaulted, defaulted.c.enrollment_id == e.id))
            .group_by(e.product_id, e.currency)
            .subquery("sold")
        )
        gross = (
            sa.select(e.product_id, e.currency, total(payments.c.amount_minor).label("amount"))
            .select_from(payments.join(enrollments, payments.c.enrollment_id == e.id))
            .group_by(e.product_id, e.currency)
            .subquery("gross")
        )
        refunded = (
            sa.select(e.product_id, e.currency, total(refunds.c.amount_minor).label("amount"))
            .select_from(refunds.join(enrollments, refunds.c.enrollment_id == e.id))
            .where(refunds.c.status != FAILED_REFUND)
            .group_by(e.product_id, e.currency)
            .subquery("refunded")
        )
        p = products.c
        # An unsold product's row is in its default currency.
        currency = sa.func.coalesce(sold.c.currency, p.currency)
        stmt = (
            sa.select(
                p.id,
                p.name,
                currency.label("currency"),
                sold.c.n,
                sold.c.completed,
                sold.c.cancelled,
                sold.c.suspended,
                sold.c.defaulted,
                gross.c.amount.label("gross"),
                refunded.c.amount.label("refunded"),
            )
            .select_from(
                products.outerjoin(sold, sold.c.product_id == p.id)
                .outerjoin(
                    gross, sa.and_(gross.c.product_id == p.id, gross.c.currency == sold.c.currency)
                )
                .outerjoin(
                    refunded,
                    sa.and_(refunded.c.product_id == p.id, refunded.c.currency == sold.c.currency),
                )
            )
            .where(sa.or_(p.active, sold.c.n.is_not(None)))
            .order_by(self._order(p.name), self._order(p.id), self._order(currency))
        )
        mixes = self._plan_mixes()
        figures = self._dispute_figures()
        return [
            product_row(
                product_id=row["id"],
                name=row["name"],
                currency=row["currency"],
                enrollments=as_int(row["n"]),
                completed=as_int(row["completed"]),
                cancelled=as_int(row["cancelled"]),
                suspended=as_int(row["suspended"]),
                defaulted=as_int(row["defaulted"]),
                gross=as_int(row["gross"]),
                refunded=as_int(row["refunded"]),
                plan_mix=mixes.get((row["id"], row["currency"]), {}),
                **attrs.asdict(figures.get((row["id"], row["currency"]), DisputeFigures())),
            )
            for row in self._all(stmt)
        ]

    def _plan_mixes(self) -> dict[tuple[str, str], dict[str, int]]:
        """Enrollments per product, currency and plan kind (the ``kind`` of the plan JSON)."""
        kinds = sa.select(
            enrollments.c.product_id,
            enrollments.c.currency,
            enrollments.c.plan["kind"].as_string().label("kind"),
        ).subquery("kinds")
        stmt = sa.select(
            kinds.c.product_id, kinds.c.currency, kinds.c.kind, sa.func.count().label("n")
        ).group_by(kinds.c.product_id, kinds.c.currency, kinds.c.kind)
        mixes: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
        for row in self._all(stmt):
            mixes[(row["product_id"], row["currency"])][row["kind"]] = as_int(row["n"])
        return mixes

    # -- aging and forecast -------------------------------------------------------------

    @staticmethod
    def _expected() -> sa.Select[Any]:
        """Open items of enrollments that are not cancelled: what is still expected."""
        return (
            sa.select()
            .select_from(
                schedule_items.join(enrollments, enrollments.c.id == schedule_items.c.enrollment_id)
            )
            .where(schedule_items.c.status.in_(OPEN), enrollments.c.status != CANCELLED)
        )

    def report_aging(self, *, as_of: date) -> list[reports.AgingRow]:
        """Overdue amounts per currency and bucket."""
        i = schedule_items.c
        # Days overdue = as_of - due, so "between first and last days overdue" is
        # "due between as_of - last and as_of - first": the same on every database,
        # and the (status, due) index serves it.
        whens: list[tuple[sa.ColumnElement[bool], sa.ColumnElement[int]]] = []
        for index, (_, first, last) in enumerate(reports.AGING_BUCKETS):
            latest = _shift(as_of, -first)
            if latest is None:
                continue  # nothing can be due that long before as_of
            earliest = None if last is None else _shift(as_of, -last)
            condition = i.due <= latest
            if earliest is not None:
                condition = sa.and_(condition, i.due >= earliest)
            whens.append((condition, sa.literal_column(str(index), sa.Integer())))
        if not whens:
            return []
        bucketed = (
            self._expected()
            .add_columns(
                i.currency,
                sa.case(*whens, else_=None).label("bucket"),
                (i.amount_minor - i.amount_paid_minor).label("outstanding"),
            )
            .where(i.due < as_of)
            .subquery("bucketed")
        )
        stmt = (
            sa.select(
                bucketed.c.currency,
                bucketed.c.bucket,
                sa.func.count().label("n"),
                total(bucketed.c.outstanding).label("amount"),
            )
            .where(bucketed.c.bucket.is_not(None))
            .group_by(bucketed.c.currency, bucketed.c.bucket)
            .order_by(self._order(bucketed.c.currency), bucketed.c.bucket)
        )
        return [
            reports.AgingRow(
                row["currency"],
                reports.AGING_BUCKETS[as_int(row["bucket"])][0],
                as_int(row["n"]),
                Money(as_int(row["amount"]), row["currency"]),
            )
            for row in self._all(stmt)
        ]

    def report_forecast(self, *, date_from: date, months: int) -> list[reports.ForecastRow]:
        """Amounts scheduled per future month."""
        end = forecast_end(date_from, months)  # the first month left out
        i = schedule_items.c
        monthly = (
            self._expected()
            .add_columns(
                sa.cast(sa.extract("year", i.due), sa.Integer()).label("year"),
                sa.cast(sa.extract("month", i.due), sa.Integer()).label("month"),
                i.currency,
                (i.amount_minor - i.amount_paid_minor).label("outstanding"),
            )
            .where(i.due >= date_from)
        )
        if end // 12 <= date.max.year:
            monthly = monthly.where(i.due < date(end // 12, end % 12 + 1, 1))
        by_month = monthly.subquery("monthly")
        stmt = (
            sa.select(
                by_month.c.year,
                by_month.c.month,
                by_month.c.currency,
                sa.func.count().label("n"),
                total(by_month.c.outstanding).label("amount"),
            )
            .group_by(by_month.c.year, by_month.c.month, by_month.c.currency)
            .order_by(by_month.c.year, by_month.c.month, self._order(by_month.c.currency))
        )
        return [
            reports.ForecastRow(
                date(as_int(row["year"]), as_int(row["month"]), 1),
                row["currency"],
                as_int(row["n"]),
                Money(as_int(row["amount"]), row["currency"]),
            )
            for row in self._all(stmt)
        ]

    # -- recovery -----------------------------------------------------------------------
