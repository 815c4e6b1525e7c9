"""Report queries of the SQL store.

For now every report loads the rows it needs and runs the reference
functions of :mod:`enrollpay.reports`, exactly as the in-memory store does,
so both stores give the same rows by construction. Aggregating SQL
(``GROUP BY`` per period and currency) can replace a method at a time; the
report contract test then proves it still agrees.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from enrollpay import reports
from enrollpay.storage.sql import mapping as m
from enrollpay.storage.sql.schema import (
    attempts,
    enrollments,
    payments,
    products,
    refunds,
    schedule_items,
)

__all__ = ["SqlReports"]


class SqlReports:
    """The :class:`~enrollpay.ports.ReportQueries` half of a SQL transaction."""

    _c: sa.Connection

    def _report_data(self) -> reports.ReportData:
        def rows(table: sa.Table, *order: sa.ColumnElement[object]) -> list[sa.RowMapping]:
            return list(self._c.execute(sa.select(table).order_by(*order)).mappings())

        return reports.ReportData(
            products=tuple(m.product_from_row(r) for r in rows(products, products.c.id)),
            enrollments=tuple(
                m.enrollment_from_row(r)
                for r in rows(enrollments, enrollments.c.created_at, enrollments.c.id)
            ),
            items=tuple(
                m.item_from_row(r)
                for r in rows(schedule_items, schedule_items.c.enrollment_id, schedule_items.c.seq)
            ),
            attempts=tuple(
                m.attempt_from_row(r) for r in rows(attempts, attempts.c.created_at, attempts.c.id)
            ),
            payments=tuple(
                m.payment_from_row(r) for r in rows(payments, payments.c.received_at, payments.c.id)
            ),
            refunds=tuple(
                m.refund_from_row(r) for r in rows(refunds, refunds.c.created_at, refunds.c.id)
            ),
        )

    def report_revenue(
        self, *, by: reports.Period, date_from: date | None, date_to: date | None, timezone: str
    ) -> list[reports.RevenueRow]:
        """Revenue per period and currency."""
        return reports.revenue(
            self._report_data(), by=by, date_from=date_from, date_to=date_to, timezone=timezone
        )

    def report_status(self) -> reports.StatusBreakdown:
        """Enrollments and items per status."""
        return reports.status_breakdown(self._report_data())

    def report_products(self) -> list[reports.ProductRow]:
        """Performance per product."""
        return reports.product_performance(self._report_data())

    def report_aging(self, *, as_of: date) -> list[reports.AgingRow]:
        """Overdue amounts per currency and bucket."""
        return reports.aging(self._report_data(), as_of=as_of)

    def report_forecast(self, *, date_from: date, months: int) -> list[reports.ForecastRow]:
        """Amounts scheduled per future month."""
        return reports.forecast(self._report_data(), date_from=date_from, months=months)

    def report_recovery(self) -> list[reports.RecoveryRow]:
        """Dunning recovery per currency."""
        return reports.recovery(self._report_data())
