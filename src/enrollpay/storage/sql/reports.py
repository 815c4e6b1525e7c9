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
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import sqlalchemy as sa

from enrollpay import reports
from enrollpay.domain.lifecycle import (
    OPEN_ITEM_STATUSES,
    AttemptStatus,
    EnrollmentStatus,
    ItemStatus,
)
from enrollpay.domain.money import Money
from enrollpay.errors import InvalidInputError
from enrollpay.storage.sql.schema import (
    attempts,
    enrollments,
    payments,
    products,
    refunds,
    schedule_items,
)

__all__ = ["SqlReports"]

_OPEN = tuple(sorted(s.value for s in OPEN_ITEM_STATUSES))
_CANCELLED = EnrollmentStatus.CANCELLED.value
_FAILED_REFUND = "failed"
_HOUR = "%Y-%m-%d %H"
_CHUNK = 500  # bound on IN (...) lists
#: Margin around a date range when filtering instants by UTC before the exact
#: local-date filter (no zone's offset reaches a day).
_MARGIN = timedelta(days=2)


def _int(value: object) -> int:
    """An aggregate as an int (SUM over BIGINT is an exact NUMERIC on PostgreSQL)."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    raise TypeError(f"expected an integer aggregate, got {value!r}")  # pragma: no cover


def _total(column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """``SUM`` that is 0, not NULL, over no rows."""
    return sa.func.coalesce(sa.func.sum(column), 0)


def _count_if(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
    return _total(sa.case((condition, _one()), else_=_zero()))


def _zero() -> sa.ColumnElement[Any]:
    return sa.literal_column("0", sa.BigInteger())


def _one() -> sa.ColumnElement[Any]:
    return sa.literal_column("1", sa.BigInteger())


def _shift(day: date, days: int) -> date | None:
    """``day + days``, or None past the calendar's ends."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return None


def _instant(day: date, delta: timedelta) -> datetime | None:
    """Midnight UTC of ``day`` plus ``delta``, or None past the calendar's ends."""
    try:
        return datetime.combine(day, time.min, tzinfo=UTC) + delta
    except OverflowError:
        return None


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


@attrs.define
class _Tally:
    failed: int = 0
    recovered: int = 0
    by_retry: dict[int, int] = attrs.Factory(dict)
    manual: int = 0
    defaulted: int = 0
    still_open: int = 0
    amount: int = 0


class SqlReports:
    """The :class:`~enrollpay.ports.ReportQueries` half of a SQL transaction."""

    _c: sa.Connection

    # -- helpers ---------------------------------------------------------------------

    @property
    def _on_pg(self) -> bool:
        return self._c.dialect.name == "postgresql"

    def _order(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        """Order strings by code point, as Python does (PostgreSQL's default collation does not)."""
        return column.collate("C") if self._on_pg else column

    def _all(self, stmt: sa.Select[Any]) -> Sequence[sa.Row[Any]]:
        return self._c.execute(stmt).all()

    # -- revenue -----------------------------------------------------------------------

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
            _zero().label("refunded"),
            _one().label("payments"),
            _zero().label("refunds"),
        ).where(*window(payments.c.received_at))
        money_out = sa.select(
            refunds.c.created_at,
            refunds.c.currency,
            _zero(),
            refunds.c.amount_minor,
            _zero(),
            _one(),
        ).where(refunds.c.status != _FAILED_REFUND, *window(refunds.c.created_at))
        return sa.union_all(money_in, money_out).subquery("flows")

    def report_revenue(
        self, *, by: reports.Period, date_from: date | None, date_to: date | None, timezone: str
    ) -> list[reports.RevenueRow]:
        """Revenue per period and currency."""
        if by not in ("day", "week", "month"):
            raise InvalidInputError(f"period must be day, week or month, got {by!r}")
        zone = ZoneInfo(timezone)  # an unknown zone fails here, as in the reference
        flows = self._flows(date_from, date_to)
        if self._on_pg:
            cells = self._revenue_in_zone(flows, by, date_from, date_to, timezone)
        else:
            cells = self._revenue_by_utc_hour(flows, by, date_from, date_to, zone)
        return [
            reports.RevenueRow(
                period,
                currency,
                Money(g, currency),
                Money(r, currency),
                Money(g - r, currency),
                n,
                m,
            )
            for (period, currency), (g, r, n, m) in sorted(cells.items())
        ]

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
            _total(dated.c.gross).label("gross"),
            _total(dated.c.refunded).label("refunded"),
            _total(dated.c.payments).label("payments"),
            _total(dated.c.refunds).label("refunds"),
        ).group_by(dated.c.period, dated.c.currency)
        if date_from is not None:
            stmt = stmt.where(dated.c.day >= date_from)
        if date_to is not None:
            stmt = stmt.where(dated.c.day <= date_to)
        return {
            (row.period, row.currency): [
                _int(row.gross),
                _int(row.refunded),
                _int(row.payments),
                _int(row.refunds),
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
            _total(hourly.c.gross).label("gross"),
            _total(hourly.c.refunded).label("refunded"),
            _total(hourly.c.payments).label("payments"),
            _total(hourly.c.refunds).label("refunds"),
        )
        cells: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])

        def add(day: date, row: sa.Row[Any]) -> None:
            if (date_from is None or day >= date_from) and (date_to is None or day <= date_to):
                cell = cells[(reports.period_start(day, by), row.currency)]
                cell[0] += _int(row.gross)
                cell[1] += _int(row.refunded)
                cell[2] += _int(row.payments)
                cell[3] += _int(row.refunds)

        straddling: set[str] = set()
        per_hour = sa.select(hourly.c.hour, hourly.c.currency, *sums).group_by(
            hourly.c.hour, hourly.c.currency
        )
        for row in self._all(per_hour):
            day = _one_local_date(row.hour, zone)
            if day is None:
                straddling.add(row.hour)
            else:
                add(day, row)
        for chunk in _chunks(sorted(straddling)):
            per_instant = (
                sa.select(hourly.c.at, hourly.c.currency, *sums)
                .where(hourly.c.hour.in_(chunk))
                .group_by(hourly.c.at, hourly.c.currency)
            )
            for row in self._all(per_instant):
                add(row.at.astimezone(zone).date(), row)
        return cells

    # -- status -----------------------------------------------------------------------

    def report_status(self) -> reports.StatusBreakdown:
        """Enrollments and items per status."""
        counts = dict.fromkeys(EnrollmentStatus, 0)
        per_status = sa.select(enrollments.c.status, sa.func.count().label("n")).group_by(
            enrollments.c.status
        )
        for row in self._all(per_status):
            counts[EnrollmentStatus(row.status)] = _int(row.n)
        i = schedule_items.c
        open_ = i.status.in_(_OPEN)
        per_item_status = (
            sa.select(
                i.status,
                i.currency,
                sa.func.count().label("n"),
                _total(i.amount_minor).label("amount"),
                _total(sa.case((open_, i.amount_minor - i.amount_paid_minor), else_=0)).label(
                    "outstanding"
                ),
            )
            .group_by(i.status, i.currency)
            .order_by(self._order(i.status), self._order(i.currency))
        )
        rows = tuple(
            reports.ItemStatusRow(
                ItemStatus(row.status),
                row.currency,
                _int(row.n),
                Money(_int(row.amount), row.currency),
                Money(_int(row.outstanding), row.currency),
            )
            for row in self._all(per_item_status)
        )
        return reports.StatusBreakdown(counts, rows)

    # -- products ---------------------------------------------------------------------

    def report_products(self) -> list[reports.ProductRow]:
        """Performance per product."""
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
                sa.func.count().label("n"),
                _count_if(e.status == EnrollmentStatus.COMPLETED.value).label("completed"),
                _count_if(e.status == EnrollmentStatus.CANCELLED.value).label("cancelled"),
                _count_if(e.status == EnrollmentStatus.SUSPENDED.value).label("suspended"),
                sa.func.count(defaulted.c.enrollment_id).label("defaulted"),
            )
            .select_from(enrollments.outerjoin(defaulted, defaulted.c.enrollment_id == e.id))
            .group_by(e.product_id)
            .subquery("sold")
        )
        gross = (
            sa.select(e.product_id, _total(payments.c.amount_minor).label("amount"))
            .select_from(payments.join(enrollments, payments.c.enrollment_id == e.id))
            .group_by(e.product_id)
            .subquery("gross")
        )
        refunded = (
            sa.select(e.product_id, _total(refunds.c.amount_minor).label("amount"))
            .select_from(refunds.join(enrollments, refunds.c.enrollment_id == e.id))
            .where(refunds.c.status != _FAILED_REFUND)
            .group_by(e.product_id)
            .subquery("refunded")
        )
        p = products.c
        stmt = (
            sa.select(
                p.id,
                p.name,
                p.currency,
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
                .outerjoin(gross, gross.c.product_id == p.id)
                .outerjoin(refunded, refunded.c.product_id == p.id)
            )
            .where(sa.or_(p.active, sold.c.n.is_not(None)))
            .order_by(self._order(p.name), self._order(p.id))
        )
        mixes = self._plan_mixes()
        rows = []
        for row in self._all(stmt):
            currency = row.currency
            n, g, r = _int(row.n), _int(row.gross), _int(row.refunded)
            rows.append(
                reports.ProductRow(
                    product_id=row.id,
                    name=row.name,
                    currency=currency,
                    enrollments=n,
                    completed=_int(row.completed),
                    cancelled=_int(row.cancelled),
                    suspended=_int(row.suspended),
                    gross=Money(g, currency),
                    refunded=Money(r, currency),
                    net=Money(g - r, currency),
                    refund_rate=reports.ratio(r, g),
                    default_rate=reports.ratio(_int(row.defaulted), n),
                    plan_mix=dict(sorted(mixes.get(row.id, {}).items())),
                )
            )
        return rows

    def _plan_mixes(self) -> dict[str, dict[str, int]]:
        """Enrollments per product and plan kind (the ``kind`` of the plan JSON)."""
        kinds = sa.select(
            enrollments.c.product_id,
            enrollments.c.plan["kind"].as_string().label("kind"),
        ).subquery("kinds")
        stmt = sa.select(kinds.c.product_id, kinds.c.kind, sa.func.count().label("n")).group_by(
            kinds.c.product_id, kinds.c.kind
        )
        mixes: dict[str, dict[str, int]] = defaultdict(dict)
        for row in self._all(stmt):
            mixes[row.product_id][row.kind] = _int(row.n)
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
            .where(schedule_items.c.status.in_(_OPEN), enrollments.c.status != _CANCELLED)
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
                _total(bucketed.c.outstanding).label("amount"),
            )
            .where(bucketed.c.bucket.is_not(None))
            .group_by(bucketed.c.currency, bucketed.c.bucket)
            .order_by(self._order(bucketed.c.currency), bucketed.c.bucket)
        )
        return [
            reports.AgingRow(
                row.currency,
                reports.AGING_BUCKETS[_int(row.bucket)][0],
                _int(row.n),
                Money(_int(row.amount), row.currency),
            )
            for row in self._all(stmt)
        ]

    def report_forecast(self, *, date_from: date, months: int) -> list[reports.ForecastRow]:
        """Amounts scheduled per future month."""
        if months < 1:
            raise InvalidInputError(f"months must be at least 1, got {months}")
        i = schedule_items.c
        end = date_from.year * 12 + date_from.month - 1 + months  # first month left out
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
                _total(by_month.c.outstanding).label("amount"),
            )
            .group_by(by_month.c.year, by_month.c.month, by_month.c.currency)
            .order_by(by_month.c.year, by_month.c.month, self._order(by_month.c.currency))
        )
        return [
            reports.ForecastRow(
                date(_int(row.year), _int(row.month), 1),
                row.currency,
                _int(row.n),
                Money(_int(row.amount), row.currency),
            )
            for row in self._all(stmt)
        ]

    # -- recovery -----------------------------------------------------------------------

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
            _total(o.amount_minor).label("amount"),
        ).group_by(o.currency, o.status, o.before)
        tallies: dict[str, _Tally] = defaultdict(_Tally)
        for row in self._all(stmt):
            tally, n = tallies[row.currency], _int(row.n)
            tally.failed += n
            status = ItemStatus(row.status)
            if status == ItemStatus.PAID:
                tally.recovered += n
                tally.amount += _int(row.amount)
                if row.before is None:
                    tally.manual += n
                else:
                    before = _int(row.before)
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
