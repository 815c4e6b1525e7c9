"""Report queries of the in-memory store: the reference functions over its records."""

from __future__ import annotations

from datetime import date

from enrollpay import reports
from enrollpay.storage.memory_tables import MemoryTables

__all__ = ["MemoryReports"]


class MemoryReports:
    """The :class:`~enrollpay.ports.ReportQueries` half of an in-memory transaction."""

    _t: MemoryTables

    def _report_data(self) -> reports.ReportData:
        """The records the reference report functions take."""
        t = self._t
        return reports.ReportData(
            products=tuple(t.products.values()),
            enrollments=tuple(t.enrollments.values()),
            items=tuple(t.items.values()),
            attempts=tuple(t.attempts.values()),
            payments=tuple(t.payments.values()),
            refunds=tuple(t.refunds.values()),
            disputes=tuple(t.disputes.values()),
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
