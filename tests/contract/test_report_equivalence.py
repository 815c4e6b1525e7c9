"""The SQL store's aggregating report queries return exactly the reference functions' rows.

Histories are made through the public service API (``PaymentSystem`` with the
fake gateway, a frozen clock and sequential ids) over a ``SqlStore`` on SQLite
and on PostgreSQL. The rows are then read back through the store's
transaction methods into a :class:`~enrollpay.reports.ReportData`, and every
report the store computes in SQL must equal the reference function applied
to that data, for many parameters (periods, date ranges, time zones whose
offsets are not whole hours, aging dates, forecast windows).

The business time zone is America/New_York, payments land minutes either side
of local midnight, and the histories cross both 2027 DST changes (14 March and
7 November). One scripted history also pins the expected revenue rows, so the
time-zone grouping is checked against known answers, not only against the
reference.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from enrollpay import (
    FullPayment,
    Installments,
    Interval,
    Money,
    PaymentSystem,
    Subscription,
    SystemConfig,
)
from enrollpay import reports as ref
from enrollpay.domain.lifecycle import OPEN_ITEM_STATUSES, AttemptStatus, ItemStatus
from enrollpay.domain.records import Payment, Product
from enrollpay.errors import EnrollpayError, InvalidInputError
from enrollpay.gateways.fake import Outcome
from enrollpay.ports import ItemQuery, Store, StoreReader
from enrollpay.reports import ReportData, RevenueRow
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds

BUSINESS_ZONE = "America/New_York"
NY = ZoneInfo(BUSINESS_ZONE)
#: Zones the revenue report is also asked for: half- and quarter-hour offsets
#: (Kolkata, Kathmandu, St John's), a half-hour DST shift (Lord Howe), +14:00.
ZONES = (
    BUSINESS_ZONE,
    "UTC",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "America/St_Johns",
    "Australia/Lord_Howe",
    "Pacific/Kiritimati",
)
PERIODS: tuple[ref.Period, ...] = ("day", "week", "month")
SPRING_FORWARD = date(2027, 3, 14)  # 02:00 EST -> 03:00 EDT
FALL_BACK = date(2027, 11, 7)  # 02:00 EDT -> 01:00 EST
SEEDS = (1, 2)

SQL_STORES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", marks=pytest.mark.postgres, id="postgres"),
]


def local(day: date, hour: int, minute: int) -> datetime:
    """A wall-clock time in New York (the earlier one when ambiguous)."""
    return datetime.combine(day, time(hour, minute), tzinfo=NY)


def usd(amount: str) -> Money:
    """Dollars."""
    return Money.of(amount, "USD")


@pytest.fixture
def sql_store(store_factory: Callable[[], Store]) -> Store:
    """A fresh SQL store (the tests parametrise ``store_factory`` with the SQL kinds only)."""
    return store_factory()


class World:
    """A payment system over one store, with its fake gateway and clock."""

    def __init__(self, store: Store, start: datetime) -> None:
        self.store = store
        self.clock = FrozenClock(start)
        self.fake = FakeGateway(clock=self.clock)
        self.system = PaymentSystem(
            store=store,
            gateway=self.fake,
            clock=self.clock,
            ids=SequentialIds(),
            config=SystemConfig(timezone=BUSINESS_ZONE),
        )

    def at(self, instant: datetime) -> None:
        """Move the clock to ``instant`` (never backwards)."""
        assert instant >= self.clock.now()
        self.clock.set(instant)

    def deliver(self) -> None:
        """Hand every queued webhook to the system."""
        self.fake.deliver(self.system)


@pytest.fixture
def world(sql_store: Store) -> Iterator[World]:
    """A world starting on Saturday 2027-03-13, 22:00 in New York (still EST)."""
    made = World(sql_store, local(date(2027, 3, 13), 22, 0))
    yield made
    verification = made.system.verify_audit_chain()
    assert verification.ok, verification


# --- reading the rows back -------------------------------------------------------------


def read_data(tx: StoreReader) -> ReportData:
    """Every row the reference functions read, through the store's own methods."""
    enrollments = tx.list_enrollments()
    items = tx.list_items(ItemQuery())
    return ReportData(
        products=tuple(tx.list_products()),
        enrollments=tuple(enrollments),
        items=tuple(items),
        attempts=tuple(a for i in items for a in tx.attempts_of(i.id)),
        payments=tuple(p for e in enrollments for p in tx.payments_of(e.id)),
        refunds=tuple(r for e in enrollments for r in tx.refunds_of(e.id)),
        disputes=tuple(tx.list_disputes()),
    )


def days_of_interest(data: ReportData) -> list[date]:
    """Dates where boundaries matter: DST days, the data's edges, item due dates."""
    instants = [p.received_at for p in data.payments] + [r.created_at for r in data.refunds]
    local_days = sorted({i.astimezone(NY).date() for i in instants})
    dues = sorted({i.due for i in data.items})
    picked = {SPRING_FORWARD, FALL_BACK, date(2027, 3, 15), date(2027, 3, 31)}
    for days in (local_days, dues):
        if days:
            picked |= {days[0], days[len(days) // 2], days[-1]}
    return sorted(picked)


def assert_reports_agree(world: World) -> ReportData:
    """Each SQL report equals the reference function over the same rows."""
    with world.store.reader() as tx:
        data = read_data(tx)
        days = days_of_interest(data)
        ranges: list[tuple[date | None, date | None]] = [
            (None, None),
            (SPRING_FORWARD, None),
            (None, SPRING_FORWARD),
            (SPRING_FORWARD, SPRING_FORWARD),
            (date(2027, 3, 15), FALL_BACK),
            (days[1], days[-2]),
            (date.min, date.max),  # the calendar's ends: no overflow
        ]
        for zone in ZONES:
            for by in PERIODS:
                for date_from, date_to in ranges:
                    got = tx.report_revenue(
                        by=by, date_from=date_from, date_to=date_to, timezone=zone
                    )
                    want = ref.revenue(
                        data, by=by, date_from=date_from, date_to=date_to, timezone=zone
                    )
                    assert got == want, (zone, by, date_from, date_to)
        assert tx.report_status() == ref.status_breakdown(data)
        assert tx.report_products() == ref.product_performance(data)
        assert tx.report_recovery() == ref.recovery(data)
        dues = sorted({i.due for i in data.items})
        as_of_days = {*days, date.min, date(1, 1, 20), date.max}
        for due in dues[:: max(1, len(dues) // 6)]:
            as_of_days |= {due + timedelta(days=n) for n in (0, 1, 30, 31, 60, 61, 90, 91, 400)}
        for as_of in sorted(as_of_days):
            assert tx.report_aging(as_of=as_of) == ref.aging(data, as_of=as_of), as_of
        for date_from in [*days, date.min, date(9999, 6, 1)]:
            for months in (1, 3, 12):
                got_forecast = tx.report_forecast(date_from=date_from, months=months)
                want_forecast = ref.forecast(data, date_from=date_from, months=months)
                assert got_forecast == want_forecast, (date_from, months)
        with pytest.raises(InvalidInputError):
            tx.report_revenue(by="year", date_from=None, date_to=None, timezone="UTC")  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError):
            tx.report_forecast(date_from=days[0], months=0)
    # The service path, in the business time zone, agrees too.
    for by in PERIODS:
        assert world.system.revenue_report(by=by) == ref.revenue(
            data, by=by, date_from=None, date_to=None, timezone=BUSINESS_ZONE
        )
    return data


# --- random histories --------------------------------------------------------------------


#: Zones whose midnights the random instants cluster around (New York's most):
#: an hour of UTC straddles local midnight in Kolkata and St John's, and Lord
#: Howe's DST moves its midnight by half an hour.
MIDNIGHTS = (NY, NY, NY, ZoneInfo("Asia/Kolkata"), ZoneInfo("America/St_Johns"),
             ZoneInfo("Australia/Lord_Howe"))  # fmt: skip


def near_midnight(day: date, rng: random.Random) -> datetime:
    """An instant a few minutes before or after the start of ``day`` in one of the zones."""
    minutes = rng.choice((-7, -3, -1, 1, 2, 9))
    start = datetime.combine(day, time(0), tzinfo=rng.choice(MIDNIGHTS))
    return start + timedelta(minutes=minutes)


def catalogue(system: PaymentSystem) -> tuple[list[Product], Product]:
    """Products in USD, EUR and JPY with every plan kind; plus one that will be retired."""
    course = system.register_product(
        product_type="course", product_id="c-usd", name="Course", price=usd("300.00"),
        payment_plan=Installments(3), offered_plans=(FullPayment(), Installments(2)),
    )  # fmt: skip
    euro = system.register_product(
        product_type="course", product_id="c-eur", name="Cours", price=Money.of("60", "EUR"),
        offered_plans=(Installments(2, Interval.weeks(2)),),
    )  # fmt: skip
    yen = system.register_product(
        product_type="club", product_id="c-jpy", name="Club", price=Money.of("5000", "JPY"),
        payment_plan=Subscription(Interval.months(1), cycles=6),
    )  # fmt: skip
    retired = system.register_product(
        product_type="course", product_id="c-old", name="Archive", price=usd("90.00"),
        payment_plan=Installments(3, Interval.weeks(4)),
    )  # fmt: skip
    system.register_product(
        product_type="course", product_id="c-never", name="Never sold", price=usd("10.00"),
        active=False,
    )  # fmt: skip
    return [course, euro, yen], retired


def random_history(world: World, seed: int) -> None:
    """Enrollments, checkouts, collection with declines, refunds, cancellations, recoveries."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    system, fake = world.system, world.fake
    sellable, retired = catalogue(system)
    enrollment_ids: list[str] = []
    cast_ids: dict[str, str] = {}

    def enroll(
        user: str, product: Product, script: list[Outcome | str], *, cast: bool = False
    ) -> None:
        plans = [None, *product.offered_plans]
        plan = None if cast else rng.choice(plans)
        result = system.enroll(user_id=user, product_id=product.id, plan=plan)
        if cast:  # random admin actions leave the fixed cast alone
            cast_ids[user] = result.enrollment_id
        else:
            enrollment_ids.append(result.enrollment_id)
        method = f"pm_{user}"
        if result.client_secret is not None:
            checkout = "succeed" if cast else rng.choice(("succeed",) * 8 + ("decline", "leave"))
            if checkout == "succeed":
                fake.complete_payment(result.client_secret, payment_method=method)
            elif checkout == "decline":
                fake.complete_payment(
                    result.client_secret, fake.decline("card_declined"), payment_method=method
                )
        fake.script_method(method, *script)
        world.deliver()

    decline = fake.decline("insufficient_funds")
    # A fixed cast, so every history has each kind of outcome ...
    enroll("u-retry", sellable[0], [decline, "succeed"], cast=True)
    enroll("u-default", sellable[0], [decline] * 4, cast=True)
    enroll("u-eur", sellable[1], [], cast=True)
    enroll("u-old", retired, [decline, decline, "succeed"], cast=True)
    enroll("u-hard", sellable[0], [fake.decline("stolen_card")], cast=True)
    enroll("u-manual", sellable[0], [decline] * 4, cast=True)  # defaults, then pays by hand
    enroll("u-drop", sellable[0], [decline] * 4, cast=True)  # cancels while being retried
    # ... and random students, enrolling near midnight over the first days.
    day = SPRING_FORWARD
    for n in range(rng.randint(4, 7)):
        world.at(max(world.clock.now(), near_midnight(day, rng)))
        script: list[Outcome | str] = [
            rng.choice((decline, "succeed", "succeed", "succeed")) for _ in range(6)
        ]
        enroll(f"u-{n}", rng.choice(sellable), script)
        day += timedelta(days=rng.randint(0, 2))
    system.deactivate_product(retired.id)

    def admin_action() -> None:
        action = rng.choice(("refund", "cancel", "manual", "waive", "retry", "pause", "none"))
        enrollment_id = rng.choice(enrollment_ids)
        details = system.payment_details(enrollment_id)
        open_items = [i for i in details.items if i.status in OPEN_ITEM_STATUSES]
        with contextlib.suppress(EnrollpayError):
            if action == "refund" and details.payments:
                payment = rng.choice(details.payments)
                minor = max(1, payment.amount.minor // rng.choice((2, 3, 4)))
                system.refund_payment(
                    payment.id, Money(minor, payment.amount.currency), actor="admin"
                )
            elif action == "cancel" and rng.random() < 0.5:
                system.cancel_enrollment(enrollment_id, reason="random", actor="admin")
            elif action == "manual" and open_items:
                item = rng.choice(open_items)
                part = rng.choice(
                    (None, Money(max(1, item.outstanding.minor // 2), item.amount.currency))
                )
                system.record_manual_payment(item.id, method="cash", actor="desk", amount=part)
            elif action == "waive" and open_items:
                system.waive_item(rng.choice(open_items).id, actor="admin")
            elif action == "retry" and open_items:
                system.retry_now(rng.choice(open_items).id)
            elif action == "pause":
                if details.enrollment.paused_on is None:
                    system.pause(enrollment_id, actor="admin")
                else:
                    system.resume(enrollment_id, actor="admin")
        world.deliver()

    def cast_action(when: date) -> None:
        """The cast's own story: u-drop cancels mid-dunning, u-manual pays its default."""
        if when >= date(2027, 4, 17) and "u-drop" in cast_ids:
            system.cancel_enrollment(cast_ids.pop("u-drop"), reason="dropped", actor="admin")
        if when >= date(2027, 5, 20) and "u-manual" in cast_ids:
            for item in system.payment_details(cast_ids.pop("u-manual")).items:
                if item.status == ItemStatus.DEFAULTED:
                    system.record_manual_payment(item.id, method="check", actor="desk")

    # Collect daily, at times either side of local midnight, through both DST changes.
    end = date(2027, 11, 20)
    while day < end:
        day += timedelta(days=rng.choice((1, 2, 5, 8, 13)))
        world.at(max(world.clock.now(), near_midnight(day, rng)))
        system.collect_due()
        world.deliver()
        cast_action(day)
        if rng.random() < 0.25:
            world.clock.advance(minutes=rng.randint(1, 5))
            admin_action()

    # A refund the gateway refuses (already refunded from its dashboard): a failed refund.
    paid = [
        p for e in enrollment_ids for p in system.payment_details(e).payments
        if p.gateway_payment_id is not None
    ]  # fmt: skip
    if paid:
        payment = rng.choice(paid)
        assert payment.gateway_payment_id is not None
        refunded = sum(r.amount.minor for r in fake.refunds_for(payment.gateway_payment_id))
        left = payment.amount.minor - refunded
        if left > 0:
            fake.refund_from_dashboard(
                payment.gateway_payment_id, Money(left, payment.amount.currency)
            )
            with contextlib.suppress(EnrollpayError):
                system.refund_payment(payment.id, Money(1, payment.amount.currency), actor="admin")
            world.deliver()
    dispute_some(world, rng, paid)


def dispute_some(world: World, rng: random.Random, paid: list[Payment]) -> None:
    """Cardholders dispute some card payments: won, lost, still open, inquiries, in part.

    Payments refunded in full cannot be disputed (the fake refuses, as Stripe does).
    """
    fake = world.fake

    def disputable(payment: Payment) -> bool:
        assert payment.gateway_payment_id is not None
        refunded = sum(r.amount.minor for r in fake.refunds_for(payment.gateway_payment_id))
        return refunded < payment.amount.minor

    stories = ["won", "lost", "lost", "open", "inquiry", "part"]
    candidates = [p for p in paid if disputable(p)]
    for payment, story in zip(
        rng.sample(candidates, min(len(candidates), len(stories))), stories, strict=False
    ):
        assert payment.gateway_payment_id is not None
        part = Money(max(1, payment.amount.minor // 3), payment.amount.currency)
        dispute_id = fake.disputes.open(
            payment.gateway_payment_id,
            inquiry=story == "inquiry",
            amount=part if story == "part" else None,
        )
        if story in ("won", "lost", "part"):
            fake.disputes.close(dispute_id, "lost" if story in ("lost", "part") else "won")
    world.deliver()


@pytest.mark.parametrize("store_factory", SQL_STORES, indirect=True)
@pytest.mark.parametrize("seed", SEEDS)
def test_sql_reports_equal_the_reference_on_random_histories(world: World, seed: int) -> None:
    """Many report parameters over a random history; the history has every kind of row."""
    random_history(world, seed)

    data = assert_reports_agree(world)

    currencies = {i.amount.currency for i in data.items}
    assert {"USD", "EUR", "JPY"} <= currencies
    assert any(e.status == "cancelled" for e in data.enrollments) or data.refunds
    assert any(r.status != "failed" for r in data.refunds)
    assert any(a.status == AttemptStatus.FAILED and a.mode == "off_session" for a in data.attempts)
    recovery = {row.currency: row for row in ref.recovery(data)}
    usd_row = recovery["USD"]
    assert usd_row.recovered_by_retry
    assert usd_row.defaulted >= 1
    assert usd_row.recovered_manually >= 1
    # u-drop's declined item was cancelled: counted as failed, in no outcome column.
    assert usd_row.failed_items > usd_row.recovered + usd_row.defaulted + usd_row.still_open
    assert any(p.received_at.astimezone(NY).date() != p.received_at.date() for p in data.payments)
    assert {d.status for d in data.disputes} >= {"won", "lost", "funds_withdrawn", "inquiry"}
    assert any(row.withheld.minor and row.dispute_rate for row in ref.product_performance(data))


# --- one scripted history with known answers -----------------------------------------------


@pytest.mark.parametrize("store_factory", SQL_STORES, indirect=True)
def test_revenue_groups_by_the_business_date_across_midnight_and_dst(world: World) -> None:
    """Payments minutes either side of New York midnight, on both DST days.

    Twelve 10.00 USD installments: the checkout is paid at 23:59 on Saturday
    13 March (04:59 UTC on the 14th), the rest by hand at chosen instants. UTC
    dates differ from New York dates for half of them, and the New York day
    starts at 05:00 UTC before 14 March, at 04:00 UTC after, and at 05:00 UTC
    again after 7 November. The last two are a minute either side of
    Kolkata's midnight (18:30 UTC): the same UTC hour, two Indian dates.
    """
    system, fake = world.system, world.fake
    product = system.register_product(
        product_type="course", product_id="tz", name="Midnight", price=usd("120.00"),
        payment_plan=Installments(12, Interval.weeks(1)),
    )  # fmt: skip
    result = system.enroll(user_id="u-tz", product_id=product.id)
    assert result.client_secret is not None
    world.at(local(date(2027, 3, 13), 23, 59))
    fake.complete_payment(result.client_secret)
    world.deliver()
    items = [i.id for i in result.schedule]
    instants = [
        local(date(2027, 3, 14), 0, 1),  # 05:01 UTC: Sunday in both
        local(date(2027, 3, 14), 1, 59),  # 06:59 UTC, EST
        local(date(2027, 3, 14), 3, 1),  # 07:01 UTC, EDT (02:00-03:00 never happened)
        local(date(2027, 3, 14), 23, 59),  # 03:59 UTC on Monday the 15th
        local(date(2027, 3, 15), 0, 1),  # 04:01 UTC on Monday
        local(date(2027, 3, 31), 23, 30),  # 03:30 UTC on 1 April: still March here
        local(FALL_BACK - timedelta(days=1), 23, 59),  # 03:59 UTC on 7 November
        local(FALL_BACK, 23, 59),  # 04:59 UTC on 8 November (EST again)
    ]
    payment_ids = []
    for item_id, instant in zip(items[1:9], instants, strict=True):
        world.at(instant)
        payment_ids.append(system.record_manual_payment(item_id, method="cash", actor="desk").id)
    world.at(local(date(2027, 11, 30), 23, 30))  # 04:30 UTC on 1 December
    system.refund_payment(payment_ids[0], usd("4.00"), actor="admin")
    world.deliver()
    for item_id, minute in ((items[9], 29), (items[10], 31)):
        world.at(datetime(2027, 12, 5, 18, minute, tzinfo=UTC))  # 23:59 / 00:01 in Kolkata
        system.record_manual_payment(item_id, method="cash", actor="desk")

    def cents(rows: list[RevenueRow]) -> list[tuple[date, int, int, int]]:
        return [(r.period, r.gross.minor, r.refunded.minor, r.payments) for r in rows]

    assert cents(system.revenue_report(by="day")) == [
        (date(2027, 3, 13), 1000, 0, 1),
        (date(2027, 3, 14), 4000, 0, 4),
        (date(2027, 3, 15), 1000, 0, 1),
        (date(2027, 3, 31), 1000, 0, 1),
        (date(2027, 11, 6), 1000, 0, 1),
        (date(2027, 11, 7), 1000, 0, 1),
        (date(2027, 11, 30), 0, 400, 0),
        (date(2027, 12, 5), 2000, 0, 2),
    ]
    assert cents(system.revenue_report(by="week", date_to=date(2027, 3, 31))) == [
        (date(2027, 3, 8), 5000, 0, 5),  # Saturday 13 and Sunday 14 March
        (date(2027, 3, 15), 1000, 0, 1),
        (date(2027, 3, 29), 1000, 0, 1),
    ]
    assert cents(system.revenue_report(by="month")) == [
        (date(2027, 3, 1), 7000, 0, 7),
        (date(2027, 11, 1), 2000, 400, 2),
        (date(2027, 12, 1), 2000, 0, 2),
    ]
    assert cents(system.revenue_report(by="day", date_from=FALL_BACK, date_to=FALL_BACK)) == [
        (FALL_BACK, 1000, 0, 1)
    ]
    with world.store.reader() as tx:
        by_utc_date = tx.report_revenue(by="day", date_from=None, date_to=None, timezone="UTC")
        in_kolkata = tx.report_revenue(
            by="day", date_from=date(2027, 12, 1), date_to=None, timezone="Asia/Kolkata"
        )
    assert cents(by_utc_date) == [
        (date(2027, 3, 14), 4000, 0, 4),
        (date(2027, 3, 15), 2000, 0, 2),
        (date(2027, 4, 1), 1000, 0, 1),
        (date(2027, 11, 7), 1000, 0, 1),
        (date(2027, 11, 8), 1000, 0, 1),
        (date(2027, 12, 1), 0, 400, 0),
        (date(2027, 12, 5), 2000, 0, 2),
    ]
    assert cents(in_kolkata) == [
        (date(2027, 12, 1), 0, 400, 0),
        (date(2027, 12, 5), 1000, 0, 1),
        (date(2027, 12, 6), 1000, 0, 1),
    ]
    assert_reports_agree(world)
