"""Read-only use cases (``service/queries.py``): details, listings, stats, reports, the audit.

Every read is checked to write nothing: the state, the outbox and the audit
trail are the same after it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest

from enrollpay import EnrollmentStatus, ItemStatus, PaymentSystem
from enrollpay.domain.records import Product
from enrollpay.errors import (
    EnrollmentNotFoundError,
    InvalidInputError,
    ScheduleItemNotFoundError,
)
from enrollpay.reports import AgingRow, ForecastRow, RevenueRow
from enrollpay.testing import FakeGateway, FrozenClock
from tests.service.conftest import usd
from tests.service.usecases.support import (
    enroll_and_pay,
    everything,
    refused,
    run_retries,
)


@pytest.fixture
def school(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three: Product, full: Product
) -> dict[str, str]:
    """Three students on 2027-04-26.

    ``paying``: three installments, the first paid, the second declined four
    times (defaulted, suspended); ``done``: paid in full on 2027-03-15 and
    10.00 refunded; ``waiting``: enrolled on 2027-04-26, nothing paid.
    """
    paying = enroll_and_pay(system, fake, three, user="paying")
    done = enroll_and_pay(system, fake, full, user="done")
    (payment,) = system.payment_details(done.enrollment_id).payments
    system.refund_payment(payment.id, usd("10.00"), actor="admin")
    fake.script(*[fake.decline()] * 4)
    run_retries(system, clock, 4)
    waiting = system.enroll(user_id="waiting", product_id=three.id)
    return {
        "paying": paying.enrollment_id,
        "done": done.enrollment_id,
        "waiting": waiting.enrollment_id,
    }


def test_payment_details_add_up_the_money(system: PaymentSystem, school: dict[str, str]) -> None:
    """Paid, refunded, outstanding, overdue and the next item, as of today (2027-04-26)."""
    details = system.payment_details(school["paying"])

    assert details.enrollment.status == EnrollmentStatus.SUSPENDED
    assert (details.paid, details.refunded) == (usd("100.00"), usd("0"))
    assert (details.outstanding, details.overdue) == (usd("200.00"), usd("100.00"))
    assert details.next_due is not None
    assert (details.next_due.seq, details.next_due.status) == (2, ItemStatus.DEFAULTED)
    assert not details.has_access
    assert len(details.attempts) == 5  # the checkout and four off-session tries
    done = system.payment_details(school["done"])
    assert (done.paid, done.refunded, done.outstanding, done.next_due) == (
        usd("299.99"),
        usd("10.00"),
        usd("0"),
        None,
    )
    assert done.has_access


def test_lookups_return_the_current_records(system: PaymentSystem, school: dict[str, str]) -> None:
    """get_enrollment and get_schedule_item agree with the details."""
    details = system.payment_details(school["paying"])
    assert system.get_enrollment(school["paying"]) == details.enrollment
    assert [system.get_schedule_item(i.id) for i in details.items] == list(details.items)


def test_enrollments_are_listed_by_user_product_and_status(
    system: PaymentSystem, school: dict[str, str], three: Product
) -> None:
    """Each filter alone and together; several statuses at once."""

    def ids(**filters: Any) -> set[str]:
        return {e.id for e in system.list_enrollments(**filters)}

    assert ids() == set(school.values())
    assert ids(user_id="paying") == {school["paying"]}
    assert ids(product_id=three.id) == {school["paying"], school["waiting"]}
    assert ids(status="completed") == {school["done"]}
    assert ids(status=["suspended", "pending_payment"]) == {school["paying"], school["waiting"]}
    assert ids(product_id=three.id, status="suspended") == {school["paying"]}


def test_schedule_items_are_listed_by_status_dates_and_owner(
    system: PaymentSystem, school: dict[str, str]
) -> None:
    """Status, due range, enrollment, user and limit."""
    assert [i.status for i in system.list_schedule_items(status="defaulted")] == [
        ItemStatus.DEFAULTED
    ]
    april = system.list_schedule_items(due_from=date(2027, 4, 1), due_to=date(2027, 4, 30))
    assert {i.due for i in april} == {date(2027, 4, 15), date(2027, 4, 26)}
    assert len(system.list_schedule_items(enrollment_id=school["waiting"])) == 3
    assert {i.enrollment_id for i in system.list_schedule_items(user_id="done")} == {school["done"]}
    assert len(system.list_schedule_items(limit=2)) == 2


def test_stats_count_money_per_currency_and_statuses(
    system: PaymentSystem, school: dict[str, str]
) -> None:
    """Collected 399.99, refunded 10.00, net 389.99; outstanding and overdue; status counts."""
    stats = system.stats()

    assert stats.today == date(2027, 4, 26)
    assert stats.collected == {"USD": usd("399.99")}
    assert stats.refunded == {"USD": usd("10.00")}
    assert stats.net == {"USD": usd("389.99")}
    assert stats.outstanding == {"USD": usd("500.00")}
    assert stats.overdue == {"USD": usd("100.00")}
    by_status = {k: v for k, v in stats.enrollments_by_status.items() if v}
    assert by_status == {
        EnrollmentStatus.SUSPENDED: 1,
        EnrollmentStatus.COMPLETED: 1,
        EnrollmentStatus.PENDING_PAYMENT: 1,
    }
    assert stats.items_by_status == {
        "paid": 2,
        "defaulted": 1,
        "scheduled": 3,
        "processing": 1,
    }


def test_revenue_by_month_nets_refunds(system: PaymentSystem, school: dict[str, str]) -> None:
    """March: two payments and one refund."""
    assert system.revenue_report(by="month") == [
        RevenueRow(
            period=date(2027, 3, 1),
            currency="USD",
            gross=usd("399.99"),
            refunded=usd("10.00"),
            net=usd("389.99"),
            payments=2,
            refunds=1,
        )
    ]


def test_aging_puts_the_defaulted_item_in_its_bucket(
    system: PaymentSystem, school: dict[str, str]
) -> None:
    """Eleven days overdue: the 1-30 bucket."""
    rows = [r for r in system.aging_report() if r.items]
    assert rows == [AgingRow(currency="USD", bucket="1-30", items=1, amount=usd("100.00"))]


def test_the_forecast_lists_what_is_scheduled_per_month(
    system: PaymentSystem, school: dict[str, str]
) -> None:
    """From April: the open items by month of their due date."""
    rows = [r for r in system.forecast_report(date_from=date(2027, 4, 1), months=3) if r.items]
    assert rows == [
        ForecastRow(month=date(2027, 4, 1), currency="USD", items=2, amount=usd("200.00")),
        ForecastRow(month=date(2027, 5, 1), currency="USD", items=2, amount=usd("200.00")),
        ForecastRow(month=date(2027, 6, 1), currency="USD", items=1, amount=usd("100.00")),
    ]


@pytest.mark.parametrize(
    "read",
    [
        lambda s, e: s.payment_details(e["paying"]),
        lambda s, e: s.list_enrollments(status=["active", "suspended"]),
        lambda s, e: s.list_schedule_items(status="scheduled"),
        lambda s, e: s.stats(),
        lambda s, e: s.revenue_report(by="day"),
        lambda s, e: s.status_report(),
        lambda s, e: s.product_report(),
        lambda s, e: s.aging_report(),
        lambda s, e: s.forecast_report(),
        lambda s, e: s.recovery_report(),
        lambda s, e: s.audit_log(entity_type="enrollment"),
        lambda s, e: s.verify_audit_chain(),
        lambda s, e: s.quote_cancellation(e["done"]),
        lambda s, e: s.has_access(s.get_enrollment(e["waiting"])),
    ],
    ids=[
        "details",
        "enrollments",
        "items",
        "stats",
        "revenue",
        "status",
        "products",
        "aging",
        "forecast",
        "recovery",
        "audit",
        "verify",
        "quote",
        "access",
    ],
)
def test_reads_write_nothing(
    system: PaymentSystem,
    fake: FakeGateway,
    school: dict[str, str],
    read: Callable[[PaymentSystem, dict[str, str]], object],
) -> None:
    """The state, the outbox, the audit trail and the gateway's log are unchanged."""
    before = everything(system)
    calls = len(fake.calls)

    read(system, school)

    assert everything(system) == before
    assert fake.calls[calls:] == []


def test_the_audit_chain_of_a_busy_school_verifies(
    system: PaymentSystem, school: dict[str, str]
) -> None:
    """Every use case appended to one chain; it verifies end to end."""
    verification = system.verify_audit_chain()
    assert verification.ok
    entries = system.audit_log(entity_type="enrollment", entity_id=school["waiting"])
    assert [e.action for e in entries] == ["enrollment.created"]


# -- refusals ---------------------------------------------------------------------------


def test_unknown_ids_are_refused(system: PaymentSystem) -> None:
    """The not-found error of each kind."""
    with refused(system, EnrollmentNotFoundError):
        system.payment_details("enr_missing")
    with refused(system, EnrollmentNotFoundError):
        system.get_enrollment("enr_missing")
    with refused(system, ScheduleItemNotFoundError):
        system.get_schedule_item("itm_missing")


@pytest.mark.parametrize(
    "read",
    [
        lambda s: s.list_enrollments(status="lost"),
        lambda s: s.list_schedule_items(status=["paid", "gone"]),
        lambda s: s.list_schedule_items(due_from=datetime(2027, 1, 1, tzinfo=UTC)),
        lambda s: s.revenue_report(by="year"),
        lambda s: s.forecast_report(months=0),
        lambda s: s.forecast_report(months=True),
        lambda s: s.get_schedule_item(""),
    ],
    ids=["enrollment-status", "item-status", "instant", "period", "months", "bool", "empty-id"],
)
def test_bad_filters_are_refused(
    system: PaymentSystem, school: dict[str, str], read: Callable[[PaymentSystem], object]
) -> None:
    """InvalidInputError, nothing written."""
    with refused(system, InvalidInputError):
        read(system)
