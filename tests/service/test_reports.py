"""Reports over a small, fully known history (the same rows on every store)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from enrollpay import (
    EnrollmentStatus,
    Installments,
    ItemStatus,
    Money,
    PaymentSystem,
)
from enrollpay.errors import InvalidInputError
from enrollpay.reports import AgingRow, ForecastRow, RevenueRow
from enrollpay.testing import FakeGateway, FrozenClock
from tests.service.conftest import usd


@pytest.fixture
def history(system: PaymentSystem, fake: FakeGateway, clock: FrozenClock) -> dict[str, str]:
    """Three students on 3 x 100.00 USD (from 2027-03-15) and one on 60 EUR full payment.

    u-ok pays everything; u-late's second installment declines once and is
    recovered on the first retry; u-gone pays once, then cancels with a 40.00
    refund; u-eu pays 60 EUR at once.
    """
    course = system.register_product(product_type="course", product_id="c", name="Course",
                                     price=usd("300.00"), payment_plan=Installments(3))  # fmt: skip
    euro = system.register_product(product_type="course", product_id="e", name="Euro course",
                                   price=Money.of("60", "EUR"))  # fmt: skip
    ids = {}
    for user in ("u-ok", "u-late", "u-gone"):
        result = system.enroll(user_id=user, product_id=course.id)
        assert result.client_secret is not None
        fake.complete_payment(result.client_secret)
        ids[user] = result.enrollment_id
    eu = system.enroll(user_id="u-eu", product_id=euro.id)
    assert eu.client_secret is not None
    fake.complete_payment(eu.client_secret)
    ids["u-eu"] = eu.enrollment_id
    fake.deliver(system)
    system.cancel_enrollment(ids["u-gone"], reason="moved", actor="admin",
                             refund_amount=usd("40.00"))  # fmt: skip
    fake.deliver(system)

    clock.set(clock.now().replace(month=4, day=15))
    fake.script("succeed", fake.decline("insufficient_funds"))  # u-ok then u-late
    system.collect_due()
    clock.advance(days=1)
    system.collect_due()
    fake.deliver(system)
    return ids


def test_revenue_by_month_keeps_currencies_apart(
    system: PaymentSystem, history: dict[str, str]
) -> None:
    """March: three deposits-free first payments and a refund; April: two installments."""
    rows = system.revenue_report(by="month")

    assert rows == [
        RevenueRow(date(2027, 3, 1), "EUR", Money.of("60", "EUR"), Money.of("0", "EUR"),
                   Money.of("60", "EUR"), 1, 0),
        RevenueRow(date(2027, 3, 1), "USD", usd("300"), usd("40"), usd("260"), 3, 1),
        RevenueRow(date(2027, 4, 1), "USD", usd("200"), usd("0"), usd("200"), 2, 0),
    ]  # fmt: skip
    days = system.revenue_report(by="day", date_from=date(2027, 4, 1))
    assert [(r.period, r.gross) for r in days] == [
        (date(2027, 4, 15), usd("100")),
        (date(2027, 4, 16), usd("100")),
    ]
    weeks = system.revenue_report(by="week", date_from=date(2027, 4, 1))
    assert [(r.period, r.payments) for r in weeks] == [(date(2027, 4, 12), 2)]
    with pytest.raises(InvalidInputError):
        system.revenue_report(by="year")  # type: ignore[arg-type]


def test_status_breakdown_counts_enrollments_and_items(
    system: PaymentSystem, history: dict[str, str]
) -> None:
    """Two active, one completed (EUR), one cancelled; items by status with amounts."""
    report = system.status_report()

    assert report.enrollments[EnrollmentStatus.ACTIVE] == 2
    assert report.enrollments[EnrollmentStatus.COMPLETED] == 1
    assert report.enrollments[EnrollmentStatus.CANCELLED] == 1
    rows = {(r.status, r.currency): (r.count, r.amount, r.outstanding) for r in report.items}
    assert rows[(ItemStatus.PAID, "USD")] == (5, usd("500"), usd("0"))
    assert rows[(ItemStatus.SCHEDULED, "USD")] == (2, usd("200"), usd("200"))
    assert rows[(ItemStatus.CANCELLED, "USD")] == (2, usd("200"), usd("0"))
    assert rows[(ItemStatus.PAID, "EUR")] == (1, Money.of("60", "EUR"), Money.of("0", "EUR"))


def test_product_performance(system: PaymentSystem, history: dict[str, str]) -> None:
    """Per product: outcomes, net revenue, refund rate, plan mix."""
    rows = {r.name: r for r in system.product_report()}

    course = rows["Course"]
    assert (course.enrollments, course.completed, course.cancelled, course.suspended) == (
        3,
        0,
        1,
        0,
    )
    assert (course.gross, course.refunded, course.net) == (usd("500"), usd("40"), usd("460"))
    assert course.refund_rate == Decimal("0.0800")
    assert course.default_rate == Decimal("0")
    assert course.plan_mix == {"installments": 3}
    assert rows["Euro course"].plan_mix == {"full": 1}


def test_aging_and_forecast(system: PaymentSystem, history: dict[str, str]) -> None:
    """Unpaid items fall into aging buckets once overdue; the forecast lists what is due."""
    assert system.aging_report() == []
    buckets = {
        date(2027, 5, 20): "1-30",
        date(2027, 6, 20): "31-60",
        date(2027, 7, 20): "61-90",
        date(2027, 9, 1): "90+",
    }
    for as_of, bucket in buckets.items():
        assert system.aging_report(as_of=as_of) == [AgingRow("USD", bucket, 2, usd("200"))]
    assert system.forecast_report(months=3) == [
        ForecastRow(date(2027, 5, 1), "USD", 2, usd("200")),
    ]
    with pytest.raises(InvalidInputError):
        system.forecast_report(months=0)


def test_recovery_counts_the_retry_that_won(system: PaymentSystem, history: dict[str, str]) -> None:
    """u-late's installment failed once and was recovered on the first retry."""
    (row,) = system.recovery_report()

    assert (row.currency, row.failed_items, row.recovered) == ("USD", 1, 1)
    assert row.recovered_by_retry == {1: 1}
    assert (row.recovered_manually, row.defaulted, row.still_open) == (0, 0, 0)
    assert row.recovered_amount == usd("100")
