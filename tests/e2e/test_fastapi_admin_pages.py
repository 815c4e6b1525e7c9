"""The example's admin pages over HTTP: the payers and seat sections, the plan change's refusals.

The browser tests (``tests/browser``) walk the plan change that succeeds;
these check what each page shows and that a refused change writes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from enrollpay import FullPayment, Installments, Money, PayerShare, PaymentSystem
from enrollpay.domain.lifecycle import ItemStatus
from enrollpay.domain.records import Product
from enrollpay.testing import FakeGateway, FrozenClock
from tests.support.responses import Answer

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "page-test-password"


@pytest.fixture
def course(system: PaymentSystem) -> Product:
    """A 300.00 USD course offering full payment or three monthly installments."""
    return system.register_product(
        product_type="course",
        product_id="react-101",
        name="React Masterclass",
        price=Money.of("300.00", "USD"),
        offered_plans=[FullPayment(), Installments(3)],
    )


class PageClient(TestClient):
    """A test client that posts forms as the pages do: with the session's form token."""

    token = ""

    def submit(self, url: str, fields: dict[str, str], **options: Any) -> Answer:
        """POST ``fields`` and the token the last page handed out (``csrf``)."""
        return self.post(url, data={**fields, "csrf": self.token}, **options)


def form_token(html: str) -> str:
    """The hidden ``csrf`` field of the page's forms."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, "no form token on the page"
    return found.group(1)


@pytest.fixture
def app(system: PaymentSystem, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    """The example app over ``system``, with the test password."""
    monkeypatch.syspath_prepend(str(ROOT))
    from examples.fastapi_app.app import create_app  # noqa: PLC0415 - needs the path above

    return create_app(system, admin_password=PASSWORD, session_secret="page-tests")


@pytest.fixture
def admin(app: FastAPI) -> Iterator[PageClient]:
    """A test client of the example app, signed in as the admin ``alice``."""
    with PageClient(app) as client:
        client.token = form_token(client.get("/admin/login").text)
        signed_in = client.submit(
            "/admin/login", {"username": "alice", "password": PASSWORD}, follow_redirects=False
        )
        assert signed_in.status_code == 303
        yield client


def by_id(html: str, element_id: str) -> str:
    """The text inside the element with ``element_id`` (tags removed), failing if absent."""
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</(span|div|strong|p)>', html, re.S)
    assert found is not None, f"no #{element_id} in the page"
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def payer_block(html: str, payer_id: str) -> str:
    """The HTML of one payer's card in the Payers section."""
    found = re.search(rf'data-payer-id="{payer_id}">(.*?)</div>', html, re.S)
    assert found is not None, f"no payer {payer_id} on the page"
    return found.group(1)


def plan_option(html: str, label: str) -> str:
    """The value of the plan-change form's option labelled ``label``."""
    found = re.search(rf'<option value="(\d+)"[^>]*>{re.escape(label)}</option>', html)
    assert found is not None, f"no option {label!r} in {html}"
    return found.group(1)


def plan_changes(system: PaymentSystem, enrollment_id: str) -> list[str]:
    """The actors of the enrollment's ``plan.changed`` audit entries."""
    entries = system.audit_log(entity_type="enrollment", entity_id=enrollment_id)
    return [e.actor for e in entries if e.action == "plan.changed"]


def test_a_split_enrollment_shows_each_payers_share_and_items(
    admin: PageClient, system: PaymentSystem, course: Product
) -> None:
    """Payers: each payer's share, what their items add up to, and those items; else no section."""
    system.add_payer(payer_id="acme", kind="employer", name="Acme Ltd", email="ap@acme.example")
    system.add_payer(payer_id="ana", kind="self", name="Ana", email="ana@example.org")
    split = system.enroll(
        user_id="stu-1",
        product_id=course.id,
        plan=Installments(3),
        payers=[PayerShare("acme", 7000), PayerShare("ana", 3000)],
    )
    alone = system.enroll(user_id="stu-2", product_id=course.id, plan=Installments(3))

    html = admin.get(f"/admin/enrollments/{split.enrollment_id}").text
    acme, ana = payer_block(html, "acme"), payer_block(html, "ana")
    assert "Acme Ltd" in acme
    assert "employer" in acme
    assert acme.count("$70.00") == 3
    assert '<strong class="payer-share">70%</strong>' in acme
    assert '<span class="payer-total">$210.00</span>' in acme
    assert '<strong class="payer-share">30%</strong>' in ana
    assert '<span class="payer-total">$90.00</span>' in ana
    assert '<span class="payer-outstanding">$90.00</span>' in ana
    mine = {i.seq for i in split.schedule if i.payer_id == "ana"}
    shown = {int(seq) for seq in re.findall(r"<tr><td>(\d+)</td>", ana)}
    assert shown == mine
    assert len(mine) == 3
    assert 'id="seat"' not in html  # no seat limit: no seat section

    other = admin.get(f"/admin/enrollments/{alone.enrollment_id}").text
    assert 'id="payers"' not in other
    assert "data-payer-id" not in other


def test_the_seat_section_shows_the_seat_or_the_place_on_the_waitlist(
    admin: PageClient, system: PaymentSystem, clock: FrozenClock, course: Product
) -> None:
    """Seat: held or reserved, else the student's place in line or their offer, else neither."""
    system.set_seat_limit(course.id, 1)
    left = system.enroll(user_id="stu-b", product_id=course.id, plan=FullPayment())
    system.cancel_enrollment(left.enrollment_id, reason="changed their mind", actor="admin:bo")
    holder = system.enroll(user_id="stu-a", product_id=course.id, plan=FullPayment())
    system.join_waitlist("stu-c", course.id)
    system.join_waitlist("stu-b", course.id)

    held = admin.get(f"/admin/enrollments/{holder.enrollment_id}").text
    assert by_id(held, "seat-status") == "reserved"  # its first payment is not in yet
    assert "seat limit 1" in held
    waiting = admin.get(f"/admin/enrollments/{left.enrollment_id}").text
    assert by_id(waiting, "waitlist-position") == "Number 2 on the waitlist"

    system.cancel_enrollment(holder.enrollment_id, reason="moved away", actor="admin:bo")
    released = admin.get(f"/admin/enrollments/{holder.enrollment_id}").text
    assert "not on the waitlist" in by_id(released, "no-seat")
    assert "Number 1" in by_id(admin.get(f"/admin/enrollments/{left.enrollment_id}").text, "seat")

    clock.advance(days=3)  # stu-c's offer lapses: the seat is offered to stu-b
    system.expire_seat_offers()
    offered = admin.get(f"/admin/enrollments/{left.enrollment_id}").text
    assert by_id(offered, "seat-offer").startswith("Offered a seat until")


def test_a_plan_change_blocked_by_a_payment_under_way_is_shown_and_writes_nothing(
    admin: PageClient, system: PaymentSystem, course: Product
) -> None:
    """The first payment's checkout is open: preview and confirm both show why; nothing changes."""
    result = system.enroll(user_id="stu-3", product_id=course.id, plan=Installments(3))
    url = f"/admin/enrollments/{result.enrollment_id}/change-plan"
    full = plan_option(admin.get(url).text, "full payment")
    before = system.payment_details(result.enrollment_id).items

    preview = admin.get(url, params={"plan": full})
    assert preview.status_code == 422
    assert "under way" in by_id(preview.text, "form-error")
    assert 'id="confirm"' not in preview.text  # no confirm step without a diff
    confirmed = admin.submit(url, {"plan": full, "at": "", "confirm": "yes"})
    assert confirmed.status_code == 422
    assert "retry after it settles" in by_id(confirmed.text, "form-error")

    assert system.payment_details(result.enrollment_id).items == before
    assert plan_changes(system, result.enrollment_id) == []


def test_a_plan_not_offered_a_past_date_and_a_refused_change_write_nothing(
    admin: PageClient, system: PaymentSystem, fake: FakeGateway, course: Product
) -> None:
    """Each refusal shows next to its field or above the form; the schedule stays as it was."""
    result = system.enroll(user_id="stu-4", product_id=course.id, plan=Installments(3))
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret, "succeed", payment_method="pm_card_visa")
    fake.deliver(system)
    url = f"/admin/enrollments/{result.enrollment_id}/change-plan"
    form = admin.get(url).text
    full = plan_option(form, "full payment")
    assert "3 installments" not in re.sub(r".*<select|</select>.*", "", form, flags=re.S)
    before = system.payment_details(result.enrollment_id).items

    unknown = admin.submit(url, {"plan": "99", "confirm": "yes"})
    assert unknown.status_code == 422
    assert by_id(unknown.text, "plan-error") == "Choose one of the plans offered."
    past = admin.get(url, params={"plan": full, "at": "2027-03-01"})
    assert past.status_code == 422
    assert "past" in by_id(past.text, "at-error")
    malformed = admin.get(url, params={"plan": full, "at": "15/04/2027"})
    assert by_id(malformed.text, "at-error") == "Use a date like 2027-04-15."

    assert system.payment_details(result.enrollment_id).items == before

    system.pause(result.enrollment_id, actor="admin:bo", reason="holiday")
    before = system.payment_details(result.enrollment_id).items
    page = admin.get(f"/admin/enrollments/{result.enrollment_id}").text
    assert 'id="change-plan-link"' not in page
    paused = admin.submit(url, {"plan": full, "confirm": "yes"})
    assert paused.status_code == 422
    assert "cannot change plan: status" in by_id(paused.text, "form-error")

    assert system.payment_details(result.enrollment_id).items == before
    assert plan_changes(system, result.enrollment_id) == []


def test_a_confirm_for_a_diff_that_no_longer_holds_shows_the_new_diff_and_writes_nothing(
    admin: PageClient, system: PaymentSystem, fake: FakeGateway, course: Product
) -> None:
    """A payment recorded between preview and confirm: the old confirmation is refused."""
    result = system.enroll(user_id="stu-5", product_id=course.id, plan=Installments(3))
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret, "succeed", payment_method="pm_card_visa")
    fake.deliver(system)
    url = f"/admin/enrollments/{result.enrollment_id}/change-plan"
    full = plan_option(admin.get(url).text, "full payment")
    seen = admin.get(url, params={"plan": full}).text
    assert by_id(seen, "owed-before") == "$200.00"
    fingerprint = re.search(r'name="fingerprint" value="([0-9a-f]+)"', seen)
    assert fingerprint is not None

    second = system.payment_details(result.enrollment_id).items[1]
    system.record_manual_payment(second.id, method="cash", actor="admin:bo")
    stale = admin.submit(
        url, {"plan": full, "at": "", "fingerprint": fingerprint.group(1), "confirm": "yes"}
    )
    assert stale.status_code == 422
    assert "not the one previewed" in by_id(stale.text, "form-error")
    assert by_id(stale.text, "owed-before") == "$100.00"  # the diff as it is now
    statuses = [i.status for i in system.payment_details(result.enrollment_id).items]
    assert statuses == [ItemStatus.PAID, ItemStatus.PAID, ItemStatus.SCHEDULED]
    assert plan_changes(system, result.enrollment_id) == []


def test_a_form_without_the_session_token_is_refused_and_writes_nothing(
    admin: PageClient, app: FastAPI, system: PaymentSystem, course: Product
) -> None:
    """Another site's form (no token, or a token of another session) moves no money."""
    result = system.enroll(user_id="stu-6", product_id=course.id, plan=Installments(3))
    item = system.payment_details(result.enrollment_id).items[1]
    url = f"/admin/items/{item.id}/record-payment"
    fields = {"method": "cash", "reference": "", "amount": "", "notes": "", "confirm": "yes"}
    with PageClient(app) as other:
        other_token = form_token(other.get("/admin/login").text)
    assert other_token != admin.token

    missing = admin.post(url, data=fields)
    foreign = admin.post(url, data={**fields, "csrf": other_token})
    for refused in (missing, foreign):
        assert refused.status_code == 403
        assert "came from another site or an old page" in refused.text
    assert system.payment_details(result.enrollment_id).items[1] == item
    assert system.payment_details(result.enrollment_id).payments == ()

    recorded = admin.submit(url, fields, follow_redirects=False)  # the same form, with it
    assert recorded.status_code == 303
    assert system.payment_details(result.enrollment_id).items[1].status == ItemStatus.PAID


def test_signing_in_and_out_needs_the_token_too(app: FastAPI) -> None:
    """A login posted from elsewhere signs nobody in; a logout from elsewhere signs nobody out."""
    with PageClient(app) as client:
        client.token = form_token(client.get("/admin/login").text)
        forged = client.post("/admin/login", data={"username": "alice", "password": PASSWORD})
        assert forged.status_code == 403
        assert client.get("/admin", follow_redirects=False).status_code == 303  # still out

        assert (
            client.submit(
                "/admin/login", {"username": "alice", "password": PASSWORD}, follow_redirects=False
            ).status_code
            == 303
        )
        assert client.post("/admin/logout", follow_redirects=False).status_code == 403
        assert client.get("/admin", follow_redirects=False).status_code == 200  # still in
        signed_out = client.submit("/admin/logout", {}, follow_redirects=False)
        assert signed_out.status_code == 303
        assert client.get("/admin", follow_redirects=False).status_code == 303


def test_a_student_checkout_from_another_site_enrolls_nobody(
    app: FastAPI, system: PaymentSystem, course: Product
) -> None:
    """The student pages check the token as the admin pages do."""
    with PageClient(app) as student:
        student.token = form_token(student.get("/login").text)
        assert (
            student.submit("/login", {"student_id": "stu-7"}, follow_redirects=False).status_code
            == 303
        )
        forged = student.post(f"/checkout/{course.id}", data={"plan": "0"})
        assert forged.status_code == 403
        assert system.list_enrollments(user_id="stu-7") == []
        chosen = student.submit(f"/checkout/{course.id}", {"plan": "0"}, follow_redirects=False)
        assert chosen.status_code == 303  # the same form with the token enrolls
    assert len(system.list_enrollments(user_id="stu-7")) == 1
