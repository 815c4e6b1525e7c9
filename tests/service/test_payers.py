"""Payers through the facade, on every store (memory, SQLite, PostgreSQL).

An employer pays 70% and a parent 30% of a 300.00 course on three monthly
installments: every payment is split, each payer's items are charged with
that payer's method, receipts and payment news go to the payer who paid,
refunds go back to the payments they refund, and each payer has a statement.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from enrollpay import Installments, PaymentSystem, Subscription
from enrollpay.domain.calendar import Interval
from enrollpay.domain.lifecycle import ItemStatus
from enrollpay.domain.payers import PayerShare
from enrollpay.domain.records import Product
from enrollpay.errors import DuplicateError
from enrollpay.errors_payers import PayerError, PayerNotFoundError, PayerShareError
from enrollpay.notifications import NotificationHandler, Recipient
from enrollpay.testing import FakeGateway, FrozenClock, RecordingNotifier
from tests.service.conftest import usd
from tests.service.usecases.support import calls_of, refused, run_retries

SHARES = [PayerShare("acme", 7000), PayerShare("mum", 3000)]


@pytest.fixture
def three(system: PaymentSystem) -> Product:
    """A 300.00 USD course on three monthly installments."""
    return system.register_product(
        product_type="course",
        product_id="three",
        name="Three installments",
        price=usd("300.00"),
        payment_plan=Installments(3),
    )


@pytest.fixture
def payers(system: PaymentSystem, fake: FakeGateway) -> None:
    """Acme (an employer with a saved card at the gateway) and Mum (a parent, nothing saved)."""
    customer = fake.ensure_customer("acme-books", idempotency_key="host:acme")
    fake.attach_payment_method(customer, "pm_acme")
    system.add_payer(
        payer_id="acme",
        kind="employer",
        name="Acme Ltd",
        email="ap@acme.test",
        gateway_customer_id=customer,
        payment_method_id="pm_acme",
        actor="admin:ana",
    )
    system.add_payer(payer_id="mum", kind="parent", name="Maria", email="maria@home.test")


def test_payers_are_registered_listed_and_audited(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, payers: None
) -> None:
    """Stored with their creation time; listed by id; a taken id or a bad field writes nothing."""
    assert [p.id for p in system.list_payers()] == ["acme", "mum"]
    mum = system.get_payer("mum")
    assert (mum.kind, mum.email, mum.created_at, mum.gateway_customer_id) == (
        "parent",
        "maria@home.test",
        clock.now(),
        None,
    )
    assert [e.action for e in system.audit_log(entity_id="acme")] == ["payer.created"]
    assert system.audit_log(entity_id="acme")[0].actor == "admin:ana"
    with refused(system, DuplicateError, fake=fake):
        system.add_payer(payer_id="mum", kind="parent", name="M", email="m@x.test")
    with refused(system, PayerError, fake=fake):
        system.add_payer(kind="uncle", name="Bob", email="bob@x.test")  # type: ignore[arg-type]
    with refused(system, PayerError, fake=fake):
        system.add_payer(kind="sponsor", name="Fund", email="not an address")
    with refused(system, ValueError, fake=fake, match="give both"):
        system.add_payer(kind="sponsor", name="Fund", email="f@x.test", payment_method_id="pm")
    with pytest.raises(PayerNotFoundError):
        system.get_payer("nobody")
    made = system.add_payer(kind="self", name="Sam", email="sam@x.test")
    assert system.get_payer(made.id) == made


def test_enrolling_with_payers_splits_every_payment_and_opens_no_checkout(
    system: PaymentSystem, fake: FakeGateway, three: Product, payers: None
) -> None:
    """70/30 of three 100.00 installments: six items; each payer's first is named, none charged."""
    result = system.enroll(user_id="stu", product_id=three.id, payers=SHARES)
    schedule = result.schedule
    assert [(i.payer_id, i.amount) for i in schedule] == [
        ("acme", usd("70")),
        ("mum", usd("30")),
    ] * 3
    assert [i.seq for i in schedule] == [1, 2, 3, 4, 5, 6]
    assert result.requires_immediate_payment
    assert (result.client_secret, result.payment_item_id) == (None, None)
    assert result.payer_items == {"acme": schedule[0].id, "mum": schedule[1].id}
    assert calls_of(fake, "start_payment") == []
    assert system.list_schedule_items(enrollment_id=result.enrollment_id) == list(schedule)
    split = [
        e for e in system.audit_log(entity_id=result.enrollment_id) if e.action.endswith("split")
    ]
    assert [dict(e.data) for e in split] == [
        {"shares": {"acme": 7000, "mum": 3000}, "items": {"acme": 3, "mum": 3}}
    ]
    assert result.enrollment.user_id == "stu"


def test_bad_payers_are_refused_and_nothing_is_written(
    system: PaymentSystem, fake: FakeGateway, three: Product, payers: None
) -> None:
    """Shares not making 100%, a payer twice, an unknown payer, a subscription: typed errors."""
    with refused(system, PayerShareError, fake=fake):
        system.enroll(user_id="stu", product_id=three.id, payers=[PayerShare("acme", 7000)])
    with refused(system, PayerShareError, fake=fake):
        system.enroll(
            user_id="stu",
            product_id=three.id,
            payers=[PayerShare("acme", 5000), PayerShare("acme", 5000)],
        )
    with refused(system, PayerNotFoundError, fake=fake):
        system.enroll(
            user_id="stu",
            product_id=three.id,
            payers=[PayerShare("acme", 5000), PayerShare("ghost", 5000)],
        )
    monthly = system.register_product(
        product_type="course",
        product_id="monthly",
        name="Monthly",
        price=usd("50"),
        payment_plan=Subscription(Interval.months(1), cycles=3),
    )
    with refused(system, PayerShareError, fake=fake, match="subscriptions"):
        system.enroll(user_id="stu", product_id=monthly.id, payers=SHARES)


def test_each_payer_is_charged_with_their_own_method(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three: Product, payers: None
) -> None:
    """Collection charges Acme's card off-session; Mum (no card) pays at her own checkout.

    Mum's checkout creates her gateway customer (once, by her key), and the
    card she pays with is saved on her payer record, so that her next item
    is charged off-session with it.
    """
    result = system.enroll(user_id="stu", product_id=three.id, payers=SHARES)
    acme_item, mum_item = result.schedule[0], result.schedule[1]
    system.collect_due()
    (charge,) = calls_of(fake, "charge_off_session")
    acme = system.get_payer("acme")
    assert (charge.params["customer_id"], charge.params["payment_method_id"]) == (
        acme.gateway_customer_id,
        "pm_acme",
    )
    assert charge.params["amount"] == usd("70")
    assert system.get_schedule_item(acme_item.id).status == ItemStatus.PAID
    assert system.get_schedule_item(mum_item.id).status == ItemStatus.REQUIRES_PAYMENT_METHOD
    session = system.start_payment(mum_item.id)
    (customer_call,) = calls_of(fake, "ensure_customer")[1:]  # [0]: the fixture made Acme's
    assert customer_call.params["idempotency_key"] == "customer:payer:mum"
    mum = system.get_payer("mum")
    assert mum.gateway_customer_id is not None
    (opened,) = calls_of(fake, "start_payment")
    assert opened.params["customer_id"] == mum.gateway_customer_id
    fake.complete_payment(session.client_secret, payment_method="pm_mum")
    fake.deliver(system)
    assert system.get_schedule_item(mum_item.id).status == ItemStatus.PAID
    assert system.get_payer("mum").payment_method_id == "pm_mum"
    # A month on, both payers' second items go off-session, each on their own card.
    clock.advance(timedelta(days=31))
    system.collect_due()
    later = calls_of(fake, "charge_off_session")[1:]
    assert sorted((c.params["payment_method_id"], c.params["amount"]) for c in later) == [
        ("pm_acme", usd("70")),
        ("pm_mum", usd("30")),
    ]


def paid_split(system: PaymentSystem, fake: FakeGateway, product: Product) -> str:
    """Enroll split 70/30 and have both first items paid (Acme off-session, Mum at checkout)."""
    result = system.enroll(user_id="stu", product_id=product.id, payers=SHARES)
    system.collect_due()
    session = system.start_payment(result.schedule[1].id)
    fake.complete_payment(session.client_secret, payment_method="pm_mum")
    fake.deliver(system)
    return result.enrollment_id


def test_receipts_and_payment_news_go_to_the_payer_who_paid(
    system: PaymentSystem, fake: FakeGateway, three: Product, payers: None
) -> None:
    """Receipts name the payer; installment.paid carries payer_id; the handler mails the payer.

    Access news (access.granted) has no payer: it goes to the student.
    """
    enrollment_id = paid_split(system, fake, three)
    receipts = system.list_receipts(enrollment_id)
    assert [(r.payer_id, r.payer_name, r.total) for r in receipts] == [
        ("acme", "Acme Ltd", usd("70")),
        ("mum", "Maria", usd("30")),
    ]
    view = system.view_receipt(receipts[0].id)
    assert ("Paid by", "Acme Ltd") in view.fields
    paid = [e for e in system.list_events() if e.kind == "installment.paid"]
    assert [e.data.get("payer_id") for e in paid] == ["acme", "mum"]


def test_payment_news_goes_to_the_payer_and_access_news_to_the_student(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three: Product, payers: None
) -> None:
    """Acme's card is declined to the end: Acme hears of each failure; the student of access."""
    paid_split(system, fake, three)
    fake.script_method("pm_acme", *[fake.decline("insufficient_funds")] * 4)
    run_retries(system, clock, failures=4)
    failed = [e for e in system.list_events() if e.kind == "payment.failed"]
    assert {e.data.get("payer_id") for e in failed} == {"acme"}
    notifier = RecordingNotifier()
    handler = NotificationHandler(
        notifier,
        system=system,
        recipients=lambda user_id: Recipient(f"{user_id}@school.test", name="Stu"),
        update_card_url=lambda enrollment: f"https://school.test/card/{enrollment.id}",
        kinds=["payment_failed", "access_suspended"],
    )
    system.dispatch_events(handler)
    sent = [(n.kind, n.recipient.address) for n in notifier.sent]
    assert sent.count(("payment_failed", "ap@acme.test")) == len(failed) == 3
    assert ("access_suspended", "stu@school.test") in sent
    assert set(sent) == {
        ("payment_failed", "ap@acme.test"),
        ("access_suspended", "stu@school.test"),
    }
    assert all(n.user_id == "stu" for n in notifier.sent)


def test_a_cancellation_refunds_each_payer_what_they_paid_pro_rata(
    system: PaymentSystem, fake: FakeGateway, three: Product, payers: None
) -> None:
    """100.00 back of 100.00 paid (70 + 30): 70.00 to Acme's payment, 30.00 to Mum's.

    Each refund goes to the payment it refunds (so to the payer's card) and
    its credit note is addressed to that payer; no payer gets back more
    than they paid.
    """
    enrollment_id = paid_split(system, fake, three)
    payments = system.payment_details(enrollment_id).payments
    by_payer = {p.amount.minor: p.id for p in payments}
    cancelled = system.cancel_enrollment(
        enrollment_id, reason="moved away", actor="admin:ana", refund_amount=usd("50")
    )
    back = {r.payment_id: r.amount for r in cancelled.refunds}
    assert back == {by_payer[7000]: usd("35"), by_payer[3000]: usd("15")}
    notes = [r for r in system.list_receipts(enrollment_id) if r.kind == "credit_note"]
    assert sorted((n.payer_id, n.total) for n in notes) == [
        ("acme", usd("35")),
        ("mum", usd("15")),
    ]
    refunded = [c.params["gateway_payment_id"] for c in calls_of(fake, "refund")]
    assert len(refunded) == 2
    fake.deliver(system)
    notifier = RecordingNotifier()
    handler = NotificationHandler(
        notifier,
        system=system,
        recipients=lambda user_id: Recipient(f"{user_id}@school.test"),
        kinds=["refund_issued"],
    )
    system.dispatch_events(handler)
    assert sorted((n.recipient.address, n.values["amount"]) for n in notifier.sent) == [
        ("ap@acme.test", "$35.00"),
        ("maria@home.test", "$15.00"),
    ]


def test_a_statement_lists_what_a_payer_paid_owes_and_owes_late(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three: Product, payers: None
) -> None:
    """Acme pays two enrollments: paid, due and overdue per enrollment and in total."""
    first = paid_split(system, fake, three)
    clock.advance(timedelta(days=1))
    other = system.register_product(
        product_type="course", product_id="solo", name="Solo", price=usd("40"),
        payment_plan=Installments(2),
    )  # fmt: skip
    fake.script(fake.decline("card_declined"))
    second = system.enroll(
        user_id="kid", product_id=other.id, payers=[PayerShare("acme", 10_000)]
    ).enrollment_id
    system.collect_due()
    clock.advance(timedelta(days=2))
    statement = system.payer_statement("acme")
    assert statement.payer.id == "acme"
    rows = {row.enrollment_id: row for row in statement.enrollments}
    assert [row.enrollment_id for row in statement.enrollments] == [first, second]
    assert (rows[first].totals.paid, rows[first].totals.due, rows[first].totals.overdue) == (
        usd("70"),
        usd("140"),
        usd("0"),
    )
    assert (rows[second].totals.paid, rows[second].totals.due, rows[second].totals.overdue) == (
        usd("0"),
        usd("40"),
        usd("20"),
    )
    assert rows[second].user_id == "kid"
    (total,) = statement.totals
    assert (total.currency, total.paid, total.due, total.overdue) == (
        "USD",
        usd("70"),
        usd("180"),
        usd("20"),
    )
    assert system.payer_statement("acme", currency="EUR").enrollments == ()
    assert system.payer_statement("mum").totals[0].paid == usd("30")
    with pytest.raises(PayerNotFoundError):
        system.payer_statement("nobody")


def test_one_payers_failing_card_holds_back_only_that_payers_items(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three: Product, payers: None
) -> None:
    """Mum's declined card is retried; Acme's next item is still charged when it falls due."""
    result = system.enroll(user_id="stu", product_id=three.id, payers=SHARES)
    customer = fake.ensure_customer("maria", idempotency_key="host:maria")
    fake.attach_payment_method(customer, "pm_mum")
    system.set_payer_method("mum", gateway_customer_id=customer, payment_method_id="pm_mum")
    fake.script_method("pm_mum", fake.decline("insufficient_funds"))
    system.collect_due()
    items = {i.id: i for i in system.list_schedule_items(enrollment_id=result.enrollment_id)}
    assert items[result.schedule[1].id].status == ItemStatus.FAILED
    clock.advance(timedelta(days=31))
    fake.clear_scripts()
    system.collect_due()
    acme_second = system.get_schedule_item(result.schedule[2].id)
    assert acme_second.status == ItemStatus.PAID
    assert [e.action for e in system.audit_log(entity_id="mum")][-1] == "payer.method_saved"
