"""Revenue per period and currency in SQL, grouped by business date.

Time zones. Revenue is grouped by the business date of each instant.
PostgreSQL converts in SQL: ``(received_at AT TIME ZONE :tz)`` is the local
wall-clock time of a ``timestamptz``, and ``date_trunc`` starts days, ISO
weeks (Mondays) and months. SQLite has no time-zone support (instants are
naive UTC text, see :class:`~enrollpay.storage.sql.schema.UTCDateTime`), so it
sums in SQL per UTC hour and currency (at most 24 rows a day, however many
payments there are) and Python maps each hour to its business date. An hour
maps to a single date when the zone's offset does not change inside it and its
first and last instants fall on the same local date: always so for zones whose
offsets are whole hours. Where an hour straddles local midnight (zones such as
Asia/Kolkata, +05:30) or holds an offset change that does not fall on the hour
(Australia/Lord_Howe), only the rows of those hours are summed again per
instant, so the result is exact for every zone.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from enrollpay import reports
from enrollpay.report_rows import check_period, in_dates, period_start, revenue_rows
from enrollpay.storage.sql.prepared import Row
from enrollpay.storage.sql.reportbase import FAILED_REFUND, ReportBase, as_int, one, total, zero
from enrollpay.storage.sql.schema import (
    payments,
    refunds,
)
from enrollpay.storage.sql.unit import chunks

__all__ = ["RevenueReports"]

_HOUR = "%Y-%m-%d %H"
#: Margin around a date range when filtering instants by UTC before the exact
#: local-date filter (no zone's offset reaches a day).
_MARGIN = timedelta(days=2)


def _instant(day: date, delta: timedelta) -> datetime | None:
    """Midnight UTC of ``day`` plus ``delta``, or None past the calendar's ends."""
    try:
        return datetime.combine(day, time.min, tzinfo=UTC) + delta
    except OverflowError:
        return None


class RevenueReports(ReportBase):
    """Revenue per period and currency (see the module doc)."""

    @staticmethod
    def _flows(date_from: date | None, date_to: date | None) -> sa.Subquery:
        """Payments and (not failed) refunds as one stream of ``(at, currency, amounts)``.

        Rows are pre-filtered by UTC instant with a margin of days, so the
        indexes on the instants serve; the exact filter is on the local date.
        """

        def window(column: sa.ColumnElement[datetime]) -> list[sa.ColumnElement[bool]]:
            where = []
            low = None if date_from is None else _instant(date_from, -_MARGIN)
            high = None if date_to is None else _instant(date_to, _MARGIN)
            if low is not None:
                where.append(column >= low)
            if high is not None:
                where.append(column < high)
            return where

        money_in = sa.select(
            payments.c.received_at.label("at"),
            payments.c.currency.label("currency"),
            payments.c.amount_minor.label("gross"),
            zero().label("refunded"),
            one().label("payments"),
            zero().label("refunds"),
        ).where(*window(payments.c.received_at))
        money_out = sa.select(
            refunds.c.created_at,
            refunds.c.currency,
            zero(),
            refunds.c.amount_minor,
            zero(),
            one(),
        ).where(refunds.c.status != FAILED_REFUND, *window(refunds.c.created_at))
        return sa.union_all(money_in, money_out).subquery("flows")

    def report_revenue(
        self, *, by: reports.Period, date_from: date | None, date_to: date | None, timezone: str
    ) -> list[reports.RevenueRow]:
        """Revenue per period and currency."""
        check_period(by)
        zone = ZoneInfo(timezone)  # an unknown zone fails here, as in the reference
        flows = self._flows(date_from, date_to)
        if self._on_pg:
            cells = self._revenue_in_zone(flows, by, date_from, date_to, timezone)
        else:
            cells = self._revenue_by_utc_hour(flows, by, date_from, date_to, zone)
        return revenue_rows(cells)

    def _revenue_in_zone(
        self,
        flows: sa.Subquery,
        by: reports.Period,
        date_from: date | None,
        date_to: date | None,
        timezone: str,
    ) -> dict[tuple[date, str], list[int]]:
        """PostgreSQL: local dates and periods computed in SQL with ``AT TIME ZONE``."""
        local = flows.c.at.op("AT TIME ZONE", return_type=sa.DateTime())(
            sa.literal(timezone, sa.Text())
        )
        # ``by`` is one of three known words; date_trunc('week', ...) is an ISO Monday.
        period = sa.func.date_trunc(sa.literal_column(f"'{by}'"), local)
        dated = sa.select(
            sa.cast(period, sa.Date()).label("period"),
            sa.cast(local, sa.Date()).label("day"),
            flows.c.currency,
            flows.c.gross,
            flows.c.refunded,
            flows.c.payments,
            flows.c.refunds,
        ).subquery("dated")
        stmt = sa.select(
            dated.c.period,
            dated.c.currency,
            total(dated.c.gross).label("gross"),
            total(dated.c.refunded).label("refunded"),
            total(dated.c.payments).label("payments"),
            total(dated.c.refunds).label("refunds"),
        ).group_by(dated.c.period, dated.c.currency)
        if date_from is not None:
            stmt = stmt.where(dated.c.day >= date_from)
        if date_to is not None:
            stmt = stmt.where(dated.c.day <= date_to)
        return {
            (row["period"], row["currency"]): [
                as_int(row["gross"]),
                as_int(row["refunded"]),
                as_int(row["payments"]),
                as_int(row["refunds"]),
            ]
            for row in self._all(stmt)
        }

    def _revenue_by_utc_hour(
        self,
        flows: sa.Subquery,
        by: reports.Period,
        date_from: date | None,
        date_to: date | None,
        zone: ZoneInfo,
    ) -> dict[tuple[date, str], list[int]]:
        """SQLite: sums per UTC hour in SQL, business dates in Python (see the module doc)."""
        hourly = sa.select(
            sa.func.strftime(_HOUR, flows.c.at).label("hour"),
            flows.c.at,
            flows.c.currency,
            flows.c.gross,
            flows.c.refunded,
            flows.c.payments,
            flows.c.refunds,
        ).subquery("hourly")
        sums = (
            total(hourly.c.gross).label("gross"),
            total(hourly.c.refunded).label("refunded"),
            total(hourly.c.payments).label("payments"),
            total(hourly.c.refunds).label("refunds"),
        )
        cells: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])

        def add(day: date, row: Row) -> None:
            if in_dates(day, date_from, date_to):
                cell = cells[(period_start(day, by), row["currency"])]
                cell[0] += as_int(row["gross"])
                cell[1] += as_int(row["refunded"])
                cell[2] += as_int(row["payments"])
                cell[3] += as_int(row["refunds"])

        straddling: set[str] = set()
        per_hour = sa.select(hourly.c.hour, hourly.c.currency, *sums).group_by(
            hourly.c.hour, hourly.c.currency
        )
        for row in self._all(per_hour):
            day = _one_local_date(row["hour"], zone)
            if day is None:
                straddling.add(row["hour"])
            else:
                add(day, row)
        for chunk in chunks(sorted(straddling)):
            per_instant = (
                sa.select(hourly.c.at, hourly.c.currency, *sums)
                .where(hourly.c.hour.in_(chunk))
                .group_by(hourly.c.at, hourly.c.currency)
            )
            for row in self._all(per_instant):
                add(row["at"].astimezone(zone).date(), row)
        return cells

    # -- status -----------------------------------------------------------------------


def _one_local_date(hour: str, zone: ZoneInfo) -> date | None:
    """The business date of every instant of a UTC hour, or None if they differ.

    With one offset for the whole hour, local time moves with UTC, so the
    first and last instants having the same local date means all do.
    """
    start = datetime.strptime(hour, _HOUR).replace(tzinfo=UTC)
    try:
        last = start + timedelta(hours=1, microseconds=-1)
    except OverflowError:  # pragma: no cover - the calendar's last hour
        return None
    first_local, last_local = start.astimezone(zone), last.astimezone(zone)
    if first_local.utcoffset() != last_local.utcoffset():
        return None
    day = first_local.date()
    return day if last_local.date() == day else None
