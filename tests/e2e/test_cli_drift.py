"""``enrollpay reconcile`` with drift: the table, ``--json`` and the exit statuses 0, 1 and 2.

The command runs in-process on an SQLite file; its gateway is the fake the
test filled (``make_gateway`` hands it over), so the fake's record holds
what happened outside the library: a dashboard refund whose webhook was
lost, a payment with our metadata that matches nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from enrollpay import Installments, Money, PaymentSystem
from enrollpay.cli import cli, wiring
from enrollpay.storage.sql import SqlStore
from enrollpay.testing import FakeGateway, SequentialIds


class School:
    """An SQLite school with one student who paid the first of three installments."""

    def __init__(self, path: Path) -> None:
        self.url = f"sqlite:///{path}"
        self.fake = FakeGateway()
        store = SqlStore.from_url(self.url)
        try:
            system = PaymentSystem(store=store, gateway=self.fake, ids=SequentialIds())
            product = system.register_product(
                product_type="course",
                product_id="c-1",
                name="Course",
                price=Money.of("300", "USD"),
                payment_plan=Installments(3),
            )
            result = system.enroll(user_id="u-1", product_id=product.id)
            assert result.client_secret is not None
            self.fake.complete_payment(result.client_secret)
            self.fake.deliver(system)
            self.enrollment_id = result.enrollment_id
            (payment,) = system.payment_details(result.enrollment_id).payments
            assert payment.gateway_payment_id is not None
            self.gateway_payment_id = payment.gateway_payment_id
        finally:
            store.close()

    def reconcile(self, *args: str) -> Result:
        """``enrollpay reconcile --url ... --gateway fake`` (this school's fake)."""
        return CliRunner().invoke(
            cli,
            ["reconcile", "--url", self.url, "--gateway", "fake", *args],
            prog_name="enrollpay",
            catch_exceptions=False,
        )


@pytest.fixture
def school(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> School:
    """The school, and the command line wired to its fake gateway."""
    made = School(tmp_path / "school.db")
    monkeypatch.setattr(wiring, "make_gateway", lambda name: made.fake)
    return made


def test_in_sync_exits_0(school: School) -> None:
    """Nothing happened elsewhere: the summary lines only, no table."""
    result = school.reconcile()
    assert result.exit_code == 0
    assert result.stdout == (
        "checked=0 resolved=0 resent=0 still_unknown=0 refunds_completed=0 refunds_failed=0 "
        "settling=0\n"
        "drift: scanned payments=1 refunds=0 disputes=0 fixed=0 open=0\n"
    )


def test_a_fixed_dashboard_refund_exits_1_with_its_row_then_0(school: School) -> None:
    """The lost refund is applied and listed (exit 1); the next run finds nothing (exit 0)."""
    made = school.fake.refund_from_dashboard(school.gateway_payment_id, Money.of("25", "USD"))
    school.fake.take_events()

    fixed = school.reconcile()

    assert fixed.exit_code == 1
    lines = fixed.stdout.splitlines()
    assert lines[1] == "drift: scanned payments=1 refunds=1 disputes=0 fixed=1 open=0"
    table = "\n".join(lines[2:])
    assert "Drift between the gateway and the store" in table
    for cell in (made.gateway_refund_id, "refund_missing", "$25.00", "yes", "recorded"):
        assert cell in table
    again = school.reconcile()
    assert (again.exit_code, again.stdout.splitlines()[1]) == (
        0,
        "drift: scanned payments=1 refunds=1 disputes=0 fixed=0 open=0",
    )


def test_drift_that_needs_a_person_exits_2_and_json_says_why(school: School) -> None:
    """A payment with our metadata matching nothing: exit 2, ``needs_person`` in the JSON."""
    customer = school.fake.charges[0].customer_id
    stray = school.fake.start_payment(
        customer_id=customer,
        amount=Money.of("50", "USD"),
        idempotency_key="stray",
        metadata={"attempt_id": "att_x"},
    )
    school.fake.complete_payment(stray.gateway_payment_id)
    school.fake.take_events()

    result = school.reconcile("--json")

    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert (document["exit_status"], document["in_sync"], document["needs_person"]) == (
        2,
        False,
        True,
    )
    assert document["attempts"] == {
        "checked": 0,
        "resolved": 0,
        "resent": 0,
        "still_unknown": 0,
        "settling": 0,
    }
    drift = document["drift"]
    assert (drift["listed"], drift["scanned"], drift["fixed"], drift["open"]) == (
        True,
        {"payments": 2, "refunds": 0, "disputes": 0},
        0,
        1,
    )
    assert set(drift["cursors"]) == {"payments", "refunds", "disputes"}
    assert drift["cursors"]["refunds"] is None
    (entry,) = drift["entries"]
    assert entry == {
        "object": "payment",
        "gateway_id": stray.gateway_payment_id,
        "kind": "unknown_object",
        "amount": {"minor": 5000, "currency": "USD", "amount": "50.00"},
        "applied": False,
        "change": "",
        "detail": f"{stray.gateway_payment_id} took 50.00 USD with our metadata (att_x), "
        "but matches no attempt in the store",
        "enrollment_id": None,
    }
    table = school.reconcile()
    assert table.exit_code == 2
    assert "needs a person:" in table.stdout
