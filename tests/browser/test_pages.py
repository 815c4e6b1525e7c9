"""The example's pages in a real browser: checkout, pay, decline, the admin's actions, login."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from enrollpay import FullPayment, Installments, PaymentSystem
from enrollpay.domain.lifecycle import EnrollmentStatus, ItemStatus
from enrollpay.domain.records import Product
from enrollpay.testing import FakeGateway, FrozenClock

from .conftest import ADMIN_PASSWORD

if TYPE_CHECKING:
    from playwright.sync_api import Page

Shoot = Callable[[str], Path]


def sign_in_student(page: Page, student: str) -> None:
    """Use the "sign in as" form."""
    page.goto("/login")
    page.fill("#student_id", student)
    page.click("button[type=submit]")


def sign_in_admin(page: Page, target: str) -> None:
    """Open an admin page, get redirected to the login form, sign in, land on the page."""
    page.goto(target)
    assert "/admin/login" in page.url
    page.fill("#username", "alice")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(re.escape(target) + "$"))


def enroll_and_pay_first(
    system: PaymentSystem, fake: FakeGateway, course: Product, student: str, plan: object
) -> str:
    """Arrange through the library: enroll and pay the first payment with a card."""
    result = system.enroll(user_id=student, product_id=course.id, plan=plan)  # type: ignore[arg-type]
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret, "succeed", payment_method="pm_card_visa")
    fake.deliver(system)
    return result.enrollment_id


def test_student_picks_a_plan_and_pays_the_first_installment(
    page: Page, system: PaymentSystem, course: Product, shoot: Shoot
) -> None:
    """Checkout shows each plan's schedule; paying with 4242 marks the first installment paid."""
    sign_in_student(page, "stu-1")
    page.goto(f"/checkout/{course.id}")
    plans = page.locator(".plan")
    assert plans.count() == 2
    assert plans.nth(0).locator("tbody tr").count() == 1  # full payment: one line
    assert plans.nth(1).locator("tbody tr").count() == 3  # three installments
    assert "$100.00" in plans.nth(1).inner_text()
    plans.nth(1).locator("input[type=radio]").check()
    page.click("#enroll")

    page.wait_for_url(re.compile(r"/portal/items/.+/pay$"))
    assert "TEST MODE" in page.inner_text(".testmode")
    page.check("input[name=card][value='4242']")
    page.click("#pay")

    page.wait_for_url(re.compile(r"/portal$"))
    assert "received" in page.inner_text(".flash")
    statuses = page.locator(".item-status").all_inner_texts()
    assert statuses == ["paid", "scheduled", "scheduled"]
    assert page.locator(".pay-now").count() == 0
    [enrollment] = system.list_enrollments(user_id="stu-1")
    assert enrollment.status == EnrollmentStatus.ACTIVE
    details = system.payment_details(enrollment.id)
    assert [i.status for i in details.items] == [ItemStatus.PAID, *[ItemStatus.SCHEDULED] * 2]
    assert details.paid.minor == 10000
    shoot("student-paid-first-installment")

    page.goto("/portal?lang=de-DE")
    assert "100,00" in page.inner_text(".payments")
    shoot("student-portal-de")


def test_a_declined_test_card_shows_the_decline_and_the_item_stays_due(
    page: Page, system: PaymentSystem, course: Product, shoot: Shoot
) -> None:
    """The 0002 card is declined: the page says so, nothing is paid, "pay now" stays offered."""
    result = system.enroll(user_id="stu-2", product_id=course.id, plan=FullPayment())
    assert result.payment_item_id is not None
    sign_in_student(page, "stu-2")
    page.goto(f"/portal/items/{result.payment_item_id}/pay")
    page.check("input[name=card][value='0002']")
    page.click("#pay")

    error = page.inner_text("#card-error")
    assert "declined" in error
    assert "card_declined" in error
    shoot("student-card-declined")
    details = system.payment_details(result.enrollment_id)
    assert details.payments == ()
    assert details.items[0].status == ItemStatus.REQUIRES_PAYMENT_METHOD
    assert details.outstanding.minor == 30000

    page.goto("/portal")
    assert page.locator(".item-status").all_inner_texts() == ["requires_payment_method"]
    assert page.locator(".pay-now").count() == 1


def test_admin_records_a_bank_transfer_and_the_suspended_student_gets_access_back(
    page: Page,
    system: PaymentSystem,
    fake: FakeGateway,
    clock: FrozenClock,
    course: Product,
    shoot: Shoot,
) -> None:
    """A suspended student (retries exhausted) regains access once an admin records a transfer."""
    enrollment_id = enroll_and_pay_first(system, fake, course, "stu-3", Installments(3))
    clock.advance(days=31)  # the second installment is due
    fake.script(*[FakeGateway.decline("insufficient_funds")] * 4)
    for wait in (0, 1, 3, 7):  # the first try, then the retry policy's delays
        clock.advance(days=wait)
        system.collect_due()
        fake.deliver(system)
    assert system.get_enrollment(enrollment_id).status == EnrollmentStatus.SUSPENDED

    sign_in_student(page, "stu-3")
    assert "suspended" in page.inner_text(".access")

    sign_in_admin(page, f"/admin/enrollments/{enrollment_id}")
    assert page.inner_text("#enrollment-status") == "suspended"
    page.click("#item-2 a.record-payment")
    page.select_option("#method", "bank_transfer")
    page.fill("#reference", "")
    page.check("#confirm")
    page.click("#submit")
    assert "needs its reference" in page.inner_text("#reference-error")  # validated server-side
    page.fill("#reference", "TXN-12345")
    page.check("#confirm")
    page.click("#submit")

    page.wait_for_url(re.compile(rf"/admin/enrollments/{enrollment_id}$"))
    assert "Recorded $100.00 (Bank transfer)" in page.inner_text(".flash")
    assert page.inner_text("#enrollment-status") == "active"
    assert "admin:alice" in page.locator("#audit .actor").all_inner_texts()
    shoot("admin-recorded-bank-transfer")

    recorded = [e for e in system.audit_log() if e.action.startswith("payment.")]
    assert any(e.actor == "admin:alice" for e in recorded)
    details = system.payment_details(enrollment_id)
    assert details.has_access
    assert [p.reference for p in details.payments if p.method == "bank_transfer"] == ["TXN-12345"]

    page.goto("/portal")
    assert page.inner_text(".access") == "Access: active"
    assert page.locator(".item-status").all_inner_texts() == ["paid", "paid", "scheduled"]
    shoot("student-access-restored")


def test_admin_cancels_with_a_prorated_refund_equal_to_the_quote(
    page: Page,
    system: PaymentSystem,
    fake: FakeGateway,
    clock: FrozenClock,
    course: Product,
    shoot: Shoot,
) -> None:
    """The cancel form shows the quote line by line; the refund made equals the quoted refund."""
    enrollment_id = enroll_and_pay_first(system, fake, course, "stu-4", FullPayment())
    clock.advance(days=60)  # past the 14-day cooling-off window: prorated by time
    quote = system.quote_cancellation(enrollment_id)
    assert quote.basis == "prorated"
    assert 0 < quote.refund.minor < 30000

    sign_in_admin(page, f"/admin/enrollments/{enrollment_id}")
    page.click("#cancel-link")
    lines = page.locator("#quote .quote-line")
    assert lines.count() == len(quote.lines)
    for n, line in enumerate(quote.lines):
        assert line.label in lines.nth(n).inner_text()
        assert line.amount.format("en_US") in lines.nth(n).inner_text()
    assert page.inner_text("#quote-refund") == quote.refund.format("en_US")
    shoot("admin-cancel-quote")

    page.fill("#reason", "student asked to leave")
    page.click("#submit")  # not confirmed yet
    assert "confirm" in page.inner_text("#confirm-error")
    assert system.get_enrollment(enrollment_id).status != EnrollmentStatus.CANCELLED

    page.check("#confirm")
    page.click("#submit")
    page.wait_for_url(re.compile(rf"/admin/enrollments/{enrollment_id}$"))
    assert page.inner_text("#enrollment-status") == "cancelled"
    assert page.inner_text("#refunded") == quote.refund.format("en_US")
    shoot("admin-cancelled-with-refund")

    details = system.payment_details(enrollment_id)
    assert details.refunded == quote.refund
    cancelled = system.audit_log(entity_type="enrollment", entity_id=enrollment_id)
    assert any(e.actor == "admin:alice" and "cancel" in e.action for e in cancelled)


def test_admin_changes_the_plan_after_seeing_the_diff_and_confirming_it(
    page: Page,
    system: PaymentSystem,
    fake: FakeGateway,
    course: Product,
    shoot: Shoot,
) -> None:
    """The preview shows what was due and what is due now; only the confirmed change is written."""
    enrollment_id = enroll_and_pay_first(system, fake, course, "stu-7", Installments(3))
    before = system.payment_details(enrollment_id).items

    sign_in_admin(page, f"/admin/enrollments/{enrollment_id}")
    page.click("#change-plan-link")
    page.select_option("#plan", label="full payment")
    page.click("#preview-button")
    was_due = page.locator("#was-due .diff-line")
    assert was_due.count() == 2
    assert [was_due.nth(n).inner_text().split("\t")[0] for n in range(2)] == ["2", "3"]
    assert "$100.00" in was_due.nth(1).inner_text()
    due_now = page.locator("#due-now .diff-line")
    assert due_now.count() == 1
    assert "$200.00" in due_now.nth(0).inner_text()
    assert "Mar 15, 2027" in due_now.nth(0).inner_text()  # from today: the change date
    assert page.inner_text("#owed-before") == page.inner_text("#owed-after") == "$200.00"
    assert page.locator("#deposit-dropped").count() == 0  # three installments: no deposit
    shoot("admin-plan-change-preview")
    assert system.payment_details(enrollment_id).items == before  # the preview wrote nothing

    page.click("#submit")  # not confirmed yet
    assert "confirm" in page.inner_text("#confirm-error")
    assert page.locator("#due-now .diff-line").count() == 1  # the diff is still shown
    assert system.payment_details(enrollment_id).items == before

    page.check("#confirm")
    page.click("#submit")
    page.wait_for_url(re.compile(rf"/admin/enrollments/{enrollment_id}$"))
    assert "Plan changed to full payment: 1 payment from 2027-03-15" in page.inner_text(".flash")
    assert "plan.changed" in page.locator("#audit .action").all_inner_texts()
    shoot("admin-plan-changed")

    details = system.payment_details(enrollment_id)
    assert details.enrollment.plan == FullPayment()
    assert [(i.seq, i.status, i.amount.minor) for i in details.items] == [
        (1, ItemStatus.PAID, 10000),
        (2, ItemStatus.SUPERSEDED, 10000),
        (3, ItemStatus.SUPERSEDED, 10000),
        (4, ItemStatus.SCHEDULED, 20000),
    ]
    assert details.outstanding.minor == 20000
    changed = system.audit_log(entity_type="enrollment", entity_id=enrollment_id)
    assert [e.actor for e in changed if e.action == "plan.changed"] == ["admin:alice"]


def test_admin_pages_redirect_to_login_when_not_signed_in(
    page: Page, system: PaymentSystem, course: Product, shoot: Shoot
) -> None:
    """Every admin page sends an anonymous visitor to the login form; a wrong password fails."""
    enrollment = system.enroll(user_id="stu-5", product_id=course.id, plan=FullPayment())
    targets = [
        "/admin",
        "/admin/schedules",
        "/admin/reports/revenue",
        "/admin/audit",
        f"/admin/enrollments/{enrollment.enrollment_id}",
        f"/admin/enrollments/{enrollment.enrollment_id}/cancel",
        f"/admin/items/{enrollment.schedule[0].id}/record-payment",
    ]
    for target in targets:
        page.goto(target)
        assert re.search(r"/admin/login\?next=", page.url), target
        assert page.locator("#password").count() == 1
    answer = page.request.get("/admin/reports/revenue?format=csv", max_redirects=0)
    assert answer.status == 303
    assert answer.headers["location"].startswith("/admin/login")

    page.fill("#username", "alice")
    page.fill("#password", "wrong")
    page.click("button[type=submit]")
    assert page.inner_text("#password-error") == "Wrong password."
    shoot("admin-login-refused")
    assert system.get_enrollment(enrollment.enrollment_id).status != EnrollmentStatus.CANCELLED


def test_admin_dashboard_shows_stats_the_revenue_chart_and_csv_reports(
    page: Page, system: PaymentSystem, fake: FakeGateway, course: Product, shoot: Shoot
) -> None:
    """The dashboard has the figures and an inline SVG chart; each report downloads as CSV."""
    enroll_and_pay_first(system, fake, course, "stu-6", FullPayment())
    sign_in_admin(page, "/admin")
    assert page.inner_text("#collected-USD") == "$300.00"
    assert page.locator("svg#revenue-chart rect").count() >= 2
    shoot("admin-dashboard")

    answer = page.request.get("/admin/reports/revenue?format=csv")
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = answer.text().splitlines()
    assert rows[0] == "period,currency,gross,refunded,net,payments,refunds"
    assert rows[1] == "2027-03-01,USD,300.00,0.00,300.00,1,0"

    page.goto("/admin/schedules?due_from=2027-13-01")
    assert "date like" in page.inner_text("#due_from-error")
    page.goto("/admin/schedules?status=paid")
    assert page.locator("#schedules tbody tr").count() == 1


def test_the_student_opens_a_receipt_and_downloads_its_pdf(
    page: Page, system: PaymentSystem, fake: FakeGateway, course: Product, shoot: Shoot
) -> None:
    """The portal links each payment to its receipt, in the page's language, and to the PDF."""
    enrollment_id = enroll_and_pay_first(system, fake, course, "stu-9", Installments(3))
    (receipt,) = system.list_receipts(enrollment_id)
    sign_in_student(page, "stu-9")
    page.goto("/portal")
    link = page.locator(".payments a.receipt")
    assert link.inner_text() == receipt.number

    page.goto(f"/portal/receipts/{receipt.id}?lang=fr-FR")
    assert page.inner_text("h1") == f"Reçu {receipt.number}"
    assert "100,00" in page.inner_text("table.lines")
    shoot("student-receipt-fr")

    answer = page.request.get(f"/portal/receipts/{receipt.id}/pdf")
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.body().startswith(b"%PDF-")

    page.context.clear_cookies()  # a new session (the header's sign-out is a submit button too)
    sign_in_student(page, "stu-other")
    page.wait_for_url(re.compile(r"/portal$"))
    assert page.locator(".payments a.receipt").count() == 0
    assert page.request.get(f"/portal/receipts/{receipt.id}").status == 404
