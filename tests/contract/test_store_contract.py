"""The store contract: every store behaves the same and raises the same errors.

Each test runs against the in-memory store, the SQL store on an SQLite file
and the SQL store on PostgreSQL (``store_factory`` in tests/conftest.py).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast
from zoneinfo import ZoneInfo

import attrs
import pytest

from enrollpay import (
    Deposit,
    FullPayment,
    Installments,
    Interval,
    Money,
    PlanRule,
    RefundPolicy,
    Subscription,
)
from enrollpay.audit import verify_audit_chain
from enrollpay.domain.lifecycle import AttemptStatus, EnrollmentStatus, ItemStatus
from enrollpay.domain.records import (
    Customer,
    Enrollment,
    Payment,
    PaymentAttempt,
    Product,
    Refund,
    ScheduleItem,
    WebhookReceipt,
)
from enrollpay.domain.retry import DeclineClass
from enrollpay.domain.subscriptions import SubscriptionState
from enrollpay.errors import (
    DuplicateEnrollmentError,
    DuplicateError,
    PaymentNotFoundError,
    RefundExceedsPaidError,
    StorageError,
)
from enrollpay.ports import AuditDraft, ItemQuery, Store, StoreReader, StoreTransaction

T0 = datetime(2027, 3, 15, 9, 0, tzinfo=UTC)
TODAY = T0.date()
PARIS = ZoneInfo("Europe/Paris")
LEASE = T0 + timedelta(minutes=10)


def usd(amount: str) -> Money:
    """Dollars."""
    return Money.of(amount, "USD")


# --- record builders ------------------------------------------------------------


def a_product(pid: str = "prod_1", ext: str = "course-1", **changes: Any) -> Product:
    """A product with every field set to something non-default."""
    product = Product(
        id=pid,
        product_type="course",
        product_id=ext,
        name="React Masterclass",
        price=usd("299.99"),
        auto_assign_payment_plan=True,
        payment_plan=Installments(3, Interval.months(1), Deposit.percent("20")),
        offered_plans=(FullPayment(), Subscription(Interval.weeks(2), usd("25.00"), 6, 7)),
        refund_policy=RefundPolicy(14, "time", usd("50.00"), usd("5.00")),
        service_period=Interval.months(6),
        created_at=T0,
        updated_at=T0.astimezone(PARIS),
    )
    return attrs.evolve(product, **changes)


def an_enrollment(eid: str = "enr_1", user: str = "u-1", **changes: Any) -> Enrollment:
    """An active enrollment in ``prod_1``."""
    enrollment = Enrollment(
        id=eid,
        user_id=user,
        product_id="prod_1",
        status=EnrollmentStatus.ACTIVE,
        plan=Installments(3, Interval.months(1), Deposit.fixed(usd("60.00"))),
        price=usd("299.99"),
        start_date=TODAY,
        created_at=T0,
        updated_at=T0,
        metadata={"source": "checkout", "campaign": "spring"},
    )
    return attrs.evolve(enrollment, **changes)


def an_item(iid: str, eid: str = "enr_1", seq: int = 1, **changes: Any) -> ScheduleItem:
    """A scheduled item of 100 USD due today."""
    item = ScheduleItem(
        id=iid,
        enrollment_id=eid,
        seq=seq,
        kind="installment",
        due=TODAY,
        amount=usd("100.00"),
        status=ItemStatus.SCHEDULED,
        amount_paid=usd("0"),
        updated_at=T0,
    )
    return attrs.evolve(item, **changes)


def an_attempt(aid: str, iid: str = "itm_1", number: int = 1, **changes: Any) -> PaymentAttempt:
    """A pending off-session attempt with the service's key format."""
    attempt = PaymentAttempt(
        id=aid,
        item_id=iid,
        enrollment_id="enr_1",
        number=number,
        idempotency_key=f"item:{iid}:attempt:{number}",
        status=AttemptStatus.PENDING,
        amount=usd("100.00"),
        mode="off_session",
        created_at=T0,
        updated_at=T0,
        payment_method_id="pm_card_visa",
    )
    return attrs.evolve(attempt, **changes)


def a_payment(pid: str, amount: str = "100.00", **changes: Any) -> Payment:
    """A bank transfer against ``itm_1``."""
    payment = Payment(
        id=pid,
        enrollment_id="enr_1",
        item_id="itm_1",
        amount=usd(amount),
        method="bank_transfer",
        received_at=T0,
        reference="TXN-1",
        notes="by hand",
        actor="admin",
    )
    return attrs.evolve(payment, **changes)


def a_refund(rid: str, amount: str, payment_id: str = "pay_1", **changes: Any) -> Refund:
    """A manual refund of ``amount`` against a payment."""
    refund = Refund(
        id=rid,
        payment_id=payment_id,
        enrollment_id="enr_1",
        amount=usd(amount),
        method="manual",
        created_at=T0,
        reason="cancelled",
        actor="admin",
    )
    return attrs.evolve(refund, **changes)


def a_draft(n: int, entity_id: str = "enr_1", entity_type: str = "enrollment") -> AuditDraft:
    """An audit draft whose data needs JSON conversion (Money, date, enum)."""
    return AuditDraft(
        at=T0 + timedelta(seconds=n),
        actor="admin",
        action=f"thing.{n}",
        entity_type=entity_type,
        entity_id=entity_id,
        data={"amount": usd("1.50"), "on": TODAY, "status": ItemStatus.PAID, "n": n},
    )


# --- fixtures --------------------------------------------------------------------


@pytest.fixture
def store(store_factory: Callable[[], Store]) -> Store:
    """A fresh, empty store of the kind under test."""
    return store_factory()


@pytest.fixture
def seeded(store: Store) -> Store:
    """A store holding ``prod_1``, enrollment ``enr_1`` and items ``itm_1``..``itm_3``."""
    with store.transaction() as tx:
        tx.put_product(a_product())
        tx.add_enrollment(an_enrollment())
        tx.add_items([an_item(f"itm_{n}", seq=n, due=TODAY + timedelta(days=30 * (n - 1)))
                      for n in (1, 2, 3)])  # fmt: skip
    return store


def write_then_fail(store: Store, write: Callable[[StoreTransaction], object]) -> None:
    """Write in a transaction, then raise before the block ends."""
    with store.transaction() as tx:
        write(tx)
        raise RuntimeError("boom")


def read(store: Store, fn: Callable[[StoreTransaction], Any]) -> Any:
    """Run ``fn`` in a transaction of its own and return its result."""
    with store.transaction() as tx:
        return fn(tx)


def look(store: Store, fn: Callable[[StoreReader], Any]) -> Any:
    """Run ``fn`` on a read snapshot of its own and return its result."""
    with store.reader() as view:
        return fn(view)


# --- the read port ----------------------------------------------------------------------


def test_a_reader_sees_what_is_committed_and_does_not_wait_for_a_writer(seeded: Store) -> None:
    """A reader opened while a write is under way reads the last commit, without blocking."""
    with seeded.transaction() as tx:
        tx.put_product(a_product(pid="prod_2", ext="course-2"))
        with seeded.reader() as view:
            assert [p.id for p in view.list_products()] == ["prod_1"]
            assert [e.id for e in view.list_enrollments()] == ["enr_1"]
    assert [p.id for p in look(seeded, lambda view: view.list_products())] == ["prod_1", "prod_2"]


def test_nothing_written_through_a_reader_is_kept(seeded: Store) -> None:
    """The read port has no writes; one forced through it is refused (SQL) or discarded."""
    with contextlib.suppress(StorageError), seeded.reader() as view:
        cast("Any", view).put_product(a_product(pid="prod_2", ext="course-2"))
    assert [p.id for p in look(seeded, lambda view: view.list_products())] == ["prod_1"]
    with seeded.transaction() as tx:  # and the store still writes afterwards
        tx.put_product(a_product(pid="prod_3", ext="course-3"))
    assert [p.id for p in look(seeded, lambda view: view.list_products())] == ["prod_1", "prod_3"]


# --- products, rules, customers --------------------------------------------------------


def test_empty_store_reads_nothing(store: Store) -> None:
    """A new store holds no records at all."""
    with store.transaction() as tx:
        assert tx.get_product("prod_1") is None
        assert tx.list_products() == []
        assert tx.list_plan_rules() == []
        assert tx.get_webhook_receipt("evt_1") is None
    with store.reader() as view:
        assert view.list_enrollments() == []
        assert view.list_items(ItemQuery()) == []
        assert view.list_audit() == []


def test_product_round_trips_with_every_field(store: Store) -> None:
    """A product with plans, a refund policy and a service period comes back equal."""
    product = a_product()
    with store.transaction() as tx:
        tx.put_product(product)
    with store.transaction() as tx:
        assert tx.get_product("prod_1") == product
        assert tx.find_product("course", "course-1") == product
        assert tx.find_product("program", "course-1") is None


def test_put_product_replaces_by_id(store: Store) -> None:
    """Putting a product with a known id replaces it (an upsert)."""
    with store.transaction() as tx:
        tx.put_product(a_product())
    renamed = a_product(name="React 2", price=usd("10.00"), active=False, payment_plan=None,
                        offered_plans=(), refund_policy=None)  # fmt: skip
    with store.transaction() as tx:
        tx.put_product(renamed)
    assert read(store, lambda tx: tx.list_products()) == [renamed]


def test_put_product_refuses_a_second_id_for_the_same_external_id(store: Store) -> None:
    """``(product_type, product_id)`` is unique: DuplicateError names it."""
    with store.transaction() as tx:
        tx.put_product(a_product())
    with pytest.raises(DuplicateError) as raised, store.transaction() as tx:
        tx.put_product(a_product(pid="prod_2"))
    assert (raised.value.what, raised.value.key) == ("product", ("course", "course-1"))
    assert read(store, lambda tx: tx.get_product("prod_2")) is None


def test_list_products_orders_by_name_by_code_point_and_filters_active(store: Store) -> None:
    """Names sort as Python sorts them (upper case before lower case), then by id."""
    names = {"p1": "apple", "p2": "Banana", "p3": "Zed", "p4": "Élan", "p5": "Banana"}
    with store.transaction() as tx:
        for pid, name in names.items():
            tx.put_product(a_product(pid=pid, ext=pid, name=name, active=pid != "p3"))
    listed = read(store, lambda tx: [p.id for p in tx.list_products()])
    assert listed == ["p2", "p5", "p3", "p1", "p4"]
    assert read(store, lambda tx: [p.id for p in tx.list_products(active=False)]) == ["p3"]
    assert read(store, lambda tx: len(tx.list_products(active=True))) == 4


def test_plan_rules_are_replaced_and_keep_their_order(store: Store) -> None:
    """Rules come back equal, in the order given; replacing drops the old ones."""
    rules = [
        PlanRule(Installments(4), name="big", priority=5, product_types={"course", "program"},
                 min_price=usd("500.00"), max_price=usd("5000.00"), currency="usd",
                 product_ids={"c-9"}, active=False),
        PlanRule(FullPayment()),
        PlanRule(Subscription(Interval.years(1)), name="yearly", priority=1),
    ]  # fmt: skip
    with store.transaction() as tx:
        tx.replace_plan_rules([PlanRule(FullPayment(), name="old")])
    with store.transaction() as tx:
        tx.replace_plan_rules(rules)
    assert read(store, lambda tx: tx.list_plan_rules()) == rules
    with store.transaction() as tx:
        tx.replace_plan_rules([])
    assert read(store, lambda tx: tx.list_plan_rules()) == []


def test_customers_round_trip_and_are_found_by_gateway_id(store: Store) -> None:
    """A customer is stored per user, replaced on put, and found by its gateway id."""
    with store.transaction() as tx:
        tx.put_customer(Customer("u-1", "cus_1"))
        tx.put_customer(Customer("u-1", "cus_1", "pm_card_visa"))
    with store.transaction() as tx:
        assert tx.get_customer("u-1") == Customer("u-1", "cus_1", "pm_card_visa")
        assert tx.find_customer_by_gateway_id("cus_1") == Customer("u-1", "cus_1", "pm_card_visa")
        assert tx.get_customer("u-2") is None


def test_a_gateway_customer_belongs_to_one_user(store: Store) -> None:
    """Giving another user the same gateway customer id is a DuplicateError."""
    with store.transaction() as tx:
        tx.put_customer(Customer("u-1", "cus_1"))
    with pytest.raises(DuplicateError) as raised, store.transaction() as tx:
        tx.put_customer(Customer("u-2", "cus_1"))
    assert (raised.value.what, raised.value.key) == ("gateway customer", "cus_1")


# --- enrollments ---------------------------------------------------------------------


def test_enrollment_round_trips_with_every_field(store: Store) -> None:
    """Dates, instants in any zone, plan and metadata come back equal."""
    enrollment = an_enrollment(
        status=EnrollmentStatus.PAUSED,
        plan=Subscription(Interval.months(1), cycles=None, trial_days=14),
        paused_on=TODAY,
        cancelled_at=T0.astimezone(PARIS) + timedelta(microseconds=123456),
        cancel_reason="moved away",
        gateway_subscription_id="sub_1",
        awaiting_payment_method=True,
    )
    with store.transaction() as tx:
        tx.put_product(a_product())
        tx.add_enrollment(enrollment)
    with store.transaction() as tx:
        stored = tx.get_enrollment("enr_1")
        assert stored == enrollment
        assert stored is not None
        assert stored.cancelled_at == enrollment.cancelled_at
        assert tx.find_enrollment_by_subscription("sub_1") == enrollment
        assert tx.find_enrollment_by_subscription("sub_2") is None


def test_the_gateway_subscription_state_round_trips_and_is_replaced(store: Store) -> None:
    """Every field of the reported state comes back; a newer report replaces it whole."""
    first = SubscriptionState(
        status="trialing",
        as_of=T0.astimezone(PARIS),
        current_period_start=T0 - timedelta(days=3),
        current_period_end=T0 + timedelta(days=27, microseconds=5),
        cancel_at_period_end=True,
        trial_end=T0 + timedelta(days=11),
    )
    enrollment = an_enrollment(gateway_subscription_id="sub_1", subscription=first)
    with store.transaction() as tx:
        tx.put_product(a_product())
        tx.add_enrollment(enrollment)
    with store.transaction() as tx:
        assert tx.get_enrollment("enr_1") == enrollment
    newer = SubscriptionState(status="past_due", as_of=T0 + timedelta(days=30))
    with store.transaction() as tx:
        tx.update_enrollment(attrs.evolve(enrollment, subscription=newer))
    with store.transaction() as tx:
        stored = tx.get_enrollment("enr_1")
        assert stored is not None
        assert stored.subscription == newer
        assert tx.find_enrollment_by_subscription("sub_1") == stored


def test_a_second_open_enrollment_is_refused_with_the_existing_id(seeded: Store) -> None:
    """DuplicateEnrollmentError carries the user, the product and the open enrollment's id."""
    with pytest.raises(DuplicateEnrollmentError) as raised, seeded.transaction() as tx:
        tx.add_enrollment(an_enrollment(eid="enr_2"))
    error = raised.value
    assert (error.user_id, error.product_id, error.existing_id) == ("u-1", "prod_1", "enr_1")
    assert (error.what, error.key) == ("enrollment", ("u-1", "prod_1"))
    assert read(seeded, lambda tx: tx.get_enrollment("enr_2")) is None


def test_cancelled_enrollments_do_not_block_a_new_one(seeded: Store) -> None:
    """After cancelling, the user may enroll again; cancelled ones may pile up."""
    cancelled = an_enrollment(status=EnrollmentStatus.CANCELLED, cancelled_at=T0)
    with seeded.transaction() as tx:
        tx.update_enrollment(cancelled)
        tx.add_enrollment(an_enrollment(eid="enr_0", status=EnrollmentStatus.CANCELLED))
        tx.add_enrollment(an_enrollment(eid="enr_2", created_at=T0 + timedelta(hours=1)))
    with seeded.transaction() as tx:
        assert tx.find_open_enrollment("u-1", "prod_1") == an_enrollment(
            eid="enr_2", created_at=T0 + timedelta(hours=1)
        )
        assert [e.id for e in tx.enrollments_of("u-1")] == ["enr_0", "enr_1", "enr_2"]


def test_reopening_a_cancelled_enrollment_beside_an_open_one_is_refused(seeded: Store) -> None:
    """update_enrollment enforces the same one-open-enrollment rule."""
    with seeded.transaction() as tx:
        tx.update_enrollment(an_enrollment(status=EnrollmentStatus.CANCELLED))
        tx.add_enrollment(an_enrollment(eid="enr_2"))
    with pytest.raises(DuplicateEnrollmentError) as raised, seeded.transaction() as tx:
        tx.update_enrollment(an_enrollment(status=EnrollmentStatus.ACTIVE))
    assert raised.value.existing_id == "enr_2"


def test_enrollment_ids_are_unique(seeded: Store) -> None:
    """Adding an enrollment under a known id is a DuplicateError."""
    with pytest.raises(DuplicateError) as raised, seeded.transaction() as tx:
        tx.add_enrollment(an_enrollment(user="u-2"))
    assert (raised.value.what, raised.value.key) == ("enrollment id", "enr_1")


def test_locking_an_enrollment_returns_it_with_its_items_and_attempts_in_flight(
    seeded: Store,
) -> None:
    """lock_enrollment: the enrollment, every item by seq, in-flight attempts by item and number."""
    with seeded.transaction() as tx:
        tx.add_attempt(an_attempt("att_3", number=3, status=AttemptStatus.REQUIRES_ACTION))
        tx.add_attempt(an_attempt("att_1", number=1, status=AttemptStatus.FAILED))
        tx.add_attempt(an_attempt("att_2", number=2, status=AttemptStatus.UNKNOWN))
        tx.add_attempt(an_attempt("att_0", iid="itm_2", status=AttemptStatus.PENDING))
        tx.add_attempt(an_attempt("att_9", iid="itm_3", status=AttemptStatus.SUCCEEDED))
    with seeded.transaction() as tx:
        locked = tx.lock_enrollment("enr_1")
        assert locked is not None
        assert locked.enrollment == an_enrollment() == tx.get_enrollment("enr_1")
        assert [i.id for i in locked.items] == ["itm_1", "itm_2", "itm_3"]
        assert list(locked.items) == tx.items_of("enr_1")
        assert [a.id for a in locked.attempts] == ["att_2", "att_3", "att_0"]
        assert locked.item("itm_2") == tx.get_item("itm_2")
        with pytest.raises(KeyError, match="itm_nope"):
            locked.item("itm_nope")
        assert tx.lock_enrollment("nope") is None


def test_a_processing_debit_is_in_flight_and_its_item_is_never_claimed(seeded: Store) -> None:
    """A processing attempt is held with the lock; its item (processing, no lease) is not claimed.

    Stored and read back as it was; list_attempts finds it by its status.
    """
    debit = an_attempt("att_1", status=AttemptStatus.PROCESSING, gateway_payment_id="pi_sepa")
    with seeded.transaction() as tx:
        item = tx.get_item("itm_1")
        assert item is not None
        tx.update_item(attrs.evolve(item, status=ItemStatus.PROCESSING, lease_until=None))
        tx.add_attempt(debit)
    with seeded.transaction() as tx:
        locked = tx.lock_enrollment("enr_1")
        assert locked is not None
        assert locked.attempts == (debit,)
        assert tx.find_attempt_by_gateway_id("pi_sepa") == debit
        later = T0 + timedelta(days=30)
        claimed = tx.claim_due(today=later.date(), now=later, lease_until=later, limit=10)
        assert "itm_1" not in [i.id for i in claimed]
    with seeded.reader() as view:
        assert view.list_attempts(statuses=frozenset({AttemptStatus.PROCESSING})) == [debit]


def test_locking_again_shows_the_transactions_own_changes(seeded: Store) -> None:
    """A second lock in one transaction returns what it wrote since, and what it added."""
    with seeded.transaction() as tx:
        first = tx.lock_enrollment("enr_1")
        assert first is not None
        assert first.attempts == ()  # read now, before the attempt below is added
        tx.update_item(an_item("itm_2", seq=2, due=TODAY + timedelta(days=30),
                               status=ItemStatus.PROCESSING))  # fmt: skip
        tx.add_attempt(an_attempt("att_1", iid="itm_2", status=AttemptStatus.PENDING))
        tx.add_items([an_item("itm_4", seq=4, due=TODAY + timedelta(days=90))])
        tx.update_enrollment(an_enrollment(status=EnrollmentStatus.ACTIVE))
        again = tx.lock_enrollment("enr_1")
        assert again is not None
        assert again.enrollment.status == EnrollmentStatus.ACTIVE
        assert [(i.id, i.status) for i in again.items] == [
            ("itm_1", ItemStatus.SCHEDULED),
            ("itm_2", ItemStatus.PROCESSING),
            ("itm_3", ItemStatus.SCHEDULED),
            ("itm_4", ItemStatus.SCHEDULED),
        ]
        assert [a.id for a in again.attempts] == ["att_1"]
        tx.update_attempt(an_attempt("att_1", iid="itm_2", status=AttemptStatus.SUCCEEDED))
        third = tx.lock_enrollment("enr_1")
        assert third is not None
        assert third.attempts == ()
    with seeded.transaction() as tx:
        committed = tx.lock_enrollment("enr_1")
        assert committed is not None
        assert [i.id for i in committed.items] == ["itm_1", "itm_2", "itm_3", "itm_4"]
        assert committed.attempts == ()


@pytest.mark.parametrize(
    ("update", "record"),
    [
        ("update_enrollment", an_enrollment(eid="enr_x")),
        ("update_item", an_item("itm_x")),
        ("update_attempt", an_attempt("att_x")),
        ("update_refund", a_refund("ref_x", "1.00")),
    ],
    ids=["enrollment", "item", "attempt", "refund"],
)
def test_updating_a_missing_record_is_a_storage_error(
    seeded: Store, update: str, record: object
) -> None:
    """Updates never insert: a missing record is a StorageError naming it."""
    with pytest.raises(StorageError, match="does not exist"), seeded.transaction() as tx:
        getattr(tx, update)(record)


def test_list_enrollments_filters_and_orders_oldest_first(seeded: Store) -> None:
    """Filters combine; ties on created_at are broken by id."""
    with seeded.transaction() as tx:
        tx.put_product(a_product(pid="prod_2", ext="course-2"))
        tx.add_enrollment(an_enrollment(eid="enr_b", user="u-2", created_at=T0 - timedelta(1)))
        tx.add_enrollment(an_enrollment(eid="enr_a", user="u-3", created_at=T0 - timedelta(1),
                                        status=EnrollmentStatus.PAST_DUE))  # fmt: skip
        tx.add_enrollment(an_enrollment(eid="enr_c", user="u-2", product_id="prod_2",
                                        status=EnrollmentStatus.COMPLETED))  # fmt: skip
    with seeded.transaction() as tx:
        assert [e.id for e in tx.enrollments_of("u-2")] == ["enr_b", "enr_c"]
    with seeded.reader() as tx:
        assert [e.id for e in tx.list_enrollments()] == ["enr_a", "enr_b", "enr_1", "enr_c"]
        assert [e.id for e in tx.list_enrollments(user_id="u-2")] == ["enr_b", "enr_c"]
        assert [e.id for e in tx.list_enrollments(product_id="prod_2")] == ["enr_c"]
        statuses = frozenset({EnrollmentStatus.PAST_DUE, EnrollmentStatus.COMPLETED})
        assert [e.id for e in tx.list_enrollments(statuses=statuses)] == ["enr_a", "enr_c"]
        assert tx.list_enrollments(user_id="u-2", statuses=statuses, product_id="prod_1") == []


# --- schedule items -------------------------------------------------------------------


def test_items_round_trip_in_sequence_order(seeded: Store) -> None:
    """Items come back equal, every optional field included, ordered by seq."""
    full = an_item("itm_9", seq=9, kind="period", status=ItemStatus.FAILED,
                   amount_paid=usd("40.00"), failures=2,
                   next_attempt_at=T0.astimezone(PARIS), lease_until=LEASE,
                   last_decline_code="insufficient_funds", paid_at=T0, updated_at=None,
                   overdue_at=LEASE, reminded_at=T0.astimezone(PARIS))  # fmt: skip
    with seeded.transaction() as tx:
        tx.add_items([full, an_item("itm_0", seq=0)])
    with seeded.transaction() as tx:
        assert tx.get_item("itm_9") == full
        assert [i.seq for i in tx.items_of("enr_1")] == [0, 1, 2, 3, 9]
        assert tx.items_of("enr_2") == []


def test_update_item_replaces_it(seeded: Store) -> None:
    """An updated item reads back as written."""
    paid = an_item("itm_1", status=ItemStatus.PAID, amount_paid=usd("100.00"), paid_at=T0)
    with seeded.transaction() as tx:
        tx.update_item(paid)
    assert read(seeded, lambda tx: tx.get_item("itm_1")) == paid


def test_duplicate_items_are_refused_after_inserting_the_ones_before(seeded: Store) -> None:
    """An id or (enrollment, seq) seen before is a DuplicateError; earlier items stay written."""
    with seeded.transaction() as tx:
        with pytest.raises(DuplicateError) as by_id:
            tx.add_items([an_item("itm_4", seq=4), an_item("itm_1", seq=5)])
        with pytest.raises(DuplicateError) as by_seq:
            tx.add_items([an_item("itm_6", seq=6), an_item("itm_7", seq=6)])
    assert (by_id.value.what, by_id.value.key) == ("schedule item id", "itm_1")
    assert (by_seq.value.what, by_seq.value.key) == ("schedule item", ("enr_1", 6))
    assert read(seeded, lambda tx: [i.id for i in tx.items_of("enr_1")]) == [
        "itm_1", "itm_2", "itm_3", "itm_4", "itm_6"]  # fmt: skip


def test_list_items_filters_and_orders_by_due_then_id(seeded: Store) -> None:
    """Every filter of ItemQuery holds; results are ordered by due date then id."""
    with seeded.transaction() as tx:
        tx.put_product(a_product(pid="prod_2", ext="course-2"))
        tx.add_enrollment(an_enrollment(eid="enr_2", user="u-2", product_id="prod_2"))
        tx.add_items([an_item("itm_b", eid="enr_2", seq=1),
                      an_item("itm_a", eid="enr_2", seq=2, status=ItemStatus.PAID)])  # fmt: skip
    with seeded.reader() as view:

        def ids(**query: Any) -> list[str]:
            return [i.id for i in view.list_items(ItemQuery(**query))]

        assert ids() == ["itm_1", "itm_a", "itm_b", "itm_2", "itm_3"]
        assert ids(statuses=frozenset({ItemStatus.PAID})) == ["itm_a"]
        assert ids(due_from=TODAY + timedelta(1)) == ["itm_2", "itm_3"]
        assert ids(due_to=TODAY) == ["itm_1", "itm_a", "itm_b"]
        assert ids(product_id="prod_2") == ["itm_a", "itm_b"]
        assert ids(user_id="u-1", due_to=TODAY + timedelta(30)) == ["itm_1", "itm_2"]
        assert ids(enrollment_id="enr_2", statuses=frozenset({ItemStatus.SCHEDULED})) == ["itm_b"]
        assert ids(limit=2) == ["itm_1", "itm_a"]


# --- claiming due items ------------------------------------------------------------------


def claim(store: Store, now: datetime = T0, limit: int = 100, lease: datetime = LEASE) -> list[str]:
    """Claim due items at ``now`` and return their ids (checking the lease they carry)."""
    with store.transaction() as tx:
        claimed = tx.claim_due(today=now.date(), now=now, lease_until=lease, limit=limit)
    assert all(i.lease_until == lease for i in claimed)
    return [i.id for i in claimed]


def test_claim_takes_scheduled_items_due_by_today_and_stores_the_lease(seeded: Store) -> None:
    """Only items due by today are claimed; the lease is written to the store."""
    assert claim(seeded) == ["itm_1"]
    stored = read(seeded, lambda tx: tx.get_item("itm_1"))
    assert stored == an_item("itm_1", lease_until=LEASE)
    assert read(seeded, lambda tx: tx.get_item("itm_2")).lease_until is None


def test_a_leased_item_is_not_claimed_again_until_the_lease_expires(seeded: Store) -> None:
    """While the lease runs nobody gets the item; from its expiry on, the next worker does."""
    assert claim(seeded) == ["itm_1"]
    assert claim(seeded, now=T0 + timedelta(minutes=5)) == []
    later = LEASE + timedelta(minutes=10)
    assert claim(seeded, now=LEASE, lease=later) == ["itm_1"]
    assert read(seeded, lambda tx: tx.get_item("itm_1")).lease_until == later


def test_paused_and_cancelled_enrollments_are_not_claimed(seeded: Store) -> None:
    """Items of paused or cancelled enrollments are never collectible."""
    for status in (EnrollmentStatus.PAUSED, EnrollmentStatus.CANCELLED):
        with seeded.transaction() as tx:
            tx.update_enrollment(an_enrollment(status=status))
        assert claim(seeded) == [], status
    with seeded.transaction() as tx:
        tx.update_enrollment(an_enrollment(status=EnrollmentStatus.PAST_DUE))
    assert claim(seeded) == ["itm_1"]


def test_items_of_an_enrollment_the_gateway_bills_are_not_claimed(seeded: Store) -> None:
    """A gateway subscription collects them (its invoices settle them), not collect_due."""
    with seeded.transaction() as tx:
        tx.update_enrollment(an_enrollment(gateway_subscription_id="sub_1"))
    assert claim(seeded) == []
    with seeded.transaction() as tx:
        tx.update_enrollment(an_enrollment(gateway_subscription_id=None))
    assert claim(seeded) == ["itm_1"]


def test_failed_items_are_claimed_only_once_their_retry_is_due(seeded: Store) -> None:
    """A failed item waits for ``next_attempt_at``; without one it is never claimed."""
    retry_at = T0 + timedelta(days=3)
    with seeded.transaction() as tx:
        tx.update_item(an_item("itm_1", status=ItemStatus.FAILED, next_attempt_at=retry_at))
        tx.update_item(an_item("itm_2", seq=2, status=ItemStatus.FAILED, due=TODAY))
    assert claim(seeded) == []
    assert claim(seeded, now=retry_at - timedelta(microseconds=1)) == []
    assert claim(seeded, now=retry_at) == ["itm_1"]


def test_processing_items_are_claimed_only_with_an_expired_lease(seeded: Store) -> None:
    """Without a lease a customer is paying it; with an expired lease a worker died."""
    with seeded.transaction() as tx:
        tx.update_item(an_item("itm_1", status=ItemStatus.PROCESSING))
        tx.update_item(an_item("itm_2", seq=2, status=ItemStatus.PROCESSING, lease_until=T0))
    assert claim(seeded, now=T0 - timedelta(seconds=1)) == []
    assert claim(seeded) == ["itm_2"]


def test_other_statuses_are_never_claimed(seeded: Store) -> None:
    """Paid, waived, cancelled, paused, defaulted and waiting items are not collectible."""
    others = [s for s in ItemStatus if s not in (ItemStatus.SCHEDULED, ItemStatus.FAILED,
                                                  ItemStatus.PROCESSING)]  # fmt: skip
    with seeded.transaction() as tx:
        tx.add_items([an_item(f"itm_s{n}", seq=10 + n, status=s, next_attempt_at=T0,
                              lease_until=T0 - timedelta(1))
                      for n, s in enumerate(others)])  # fmt: skip
        tx.update_item(an_item("itm_1", status=ItemStatus.PAID))
    assert claim(seeded) == []


def test_claims_come_in_due_then_id_order_up_to_the_limit(seeded: Store) -> None:
    """The oldest due items go first, ties by id, and no more than ``limit``."""
    with seeded.transaction() as tx:
        tx.add_items([an_item("itm_0b", seq=5, due=TODAY - timedelta(2)),
                      an_item("itm_0a", seq=6, due=TODAY - timedelta(2)),
                      an_item("itm_00", seq=7, due=TODAY - timedelta(1))])  # fmt: skip
    assert claim(seeded, limit=2) == ["itm_0a", "itm_0b"]
    assert claim(seeded, limit=5) == ["itm_00", "itm_1"]
    assert claim(seeded, limit=5) == []


# --- attempts ---------------------------------------------------------------------


def test_attempts_round_trip_and_are_found_by_gateway_id(seeded: Store) -> None:
    """An attempt with every field set comes back equal, also by its gateway id."""
    attempt = an_attempt("att_1", status=AttemptStatus.FAILED, gateway_payment_id="pi_1",
                         decline_code="card_declined", decline_class=DeclineClass.SOFT,
                         message="declined", mode="on_session", card_brand="visa",
                         reattempt=True)  # fmt: skip
    with seeded.transaction() as tx:
        tx.add_attempt(attempt)
    with seeded.transaction() as tx:
        assert tx.get_attempt("att_1") == attempt
        assert tx.find_attempt_by_gateway_id("pi_1") == attempt
        assert tx.find_attempt_by_gateway_id("pi_2") is None
        tx.update_attempt(attrs.evolve(attempt, status=AttemptStatus.SUCCEEDED, decline_code=None,
                                       decline_class=None))  # fmt: skip
    assert read(seeded, lambda tx: tx.get_attempt("att_1")).status == AttemptStatus.SUCCEEDED


def test_attempt_idempotency_keys_and_ids_are_unique(seeded: Store) -> None:
    """A reused key or id is a DuplicateError naming it; nothing is written."""
    with seeded.transaction() as tx:
        tx.add_attempt(an_attempt("att_1"))
    with pytest.raises(DuplicateError) as by_key, seeded.transaction() as tx:
        tx.add_attempt(an_attempt("att_2"))
    with pytest.raises(DuplicateError) as by_id, seeded.transaction() as tx:
        tx.add_attempt(an_attempt("att_1", number=2))
    assert (by_key.value.what, by_key.value.key) == ("idempotency key", "item:itm_1:attempt:1")
    assert (by_id.value.what, by_id.value.key) == ("attempt id", "att_1")
    assert read(seeded, lambda tx: [a.id for a in tx.attempts_of("itm_1")]) == ["att_1"]


def test_a_gateway_payment_id_belongs_to_one_attempt(seeded: Store) -> None:
    """Adding or updating an attempt to reuse another's gateway payment id is refused."""
    with seeded.transaction() as tx:
        tx.add_attempt(an_attempt("att_1", gateway_payment_id="pi_1"))
        tx.add_attempt(an_attempt("att_2", number=2))
    with pytest.raises(DuplicateError) as on_add, seeded.transaction() as tx:
        tx.add_attempt(an_attempt("att_3", number=3, gateway_payment_id="pi_1"))
    with pytest.raises(DuplicateError) as on_update, seeded.transaction() as tx:
        tx.update_attempt(an_attempt("att_2", number=2, gateway_payment_id="pi_1"))
    with seeded.transaction() as tx:
        assert tx.lock_enrollment("enr_1") is not None
        held = tx.get_attempt("att_2")  # a row the transaction holds
        assert held is not None
        with pytest.raises(DuplicateError) as on_held_update:
            tx.update_attempt(attrs.evolve(held, gateway_payment_id="pi_1"))
    for raised in (on_add, on_update, on_held_update):
        assert (raised.value.what, raised.value.key) == ("gateway payment id", "pi_1")
    with seeded.transaction() as tx:
        tx.update_attempt(an_attempt("att_1", gateway_payment_id="pi_1", message="same id is fine"))
    assert read(seeded, lambda tx: tx.get_attempt("att_2")).gateway_payment_id is None


def test_attempts_are_listed_by_number_and_by_status_oldest_first(seeded: Store) -> None:
    """attempts_of orders by number; list_attempts filters statuses, orders by age, limits."""
    with seeded.transaction() as tx:
        tx.add_attempt(an_attempt("att_c", number=3, status=AttemptStatus.UNKNOWN))
        tx.add_attempt(an_attempt("att_a", number=1, status=AttemptStatus.FAILED,
                                  created_at=T0 + timedelta(1)))  # fmt: skip
        tx.add_attempt(an_attempt("att_b", number=2, status=AttemptStatus.PENDING,
                                  created_at=T0 - timedelta(1)))  # fmt: skip
        tx.add_attempt(an_attempt("att_d", iid="itm_2", status=AttemptStatus.UNKNOWN))
    with seeded.transaction() as tx:
        assert [a.id for a in tx.attempts_of("itm_1")] == ["att_a", "att_b", "att_c"]
    with seeded.reader() as tx:
        assert [a.id for a in tx.attempts_of("itm_1")] == ["att_a", "att_b", "att_c"]
        waiting = frozenset({AttemptStatus.UNKNOWN, AttemptStatus.PENDING})
        assert [a.id for a in tx.list_attempts(statuses=waiting)] == ["att_b", "att_c", "att_d"]
        assert [a.id for a in tx.list_attempts(statuses=waiting, limit=1)] == ["att_b"]
        assert tx.list_attempts(statuses=frozenset({AttemptStatus.SUCCEEDED})) == []


def test_reattempts_on_a_payment_method_are_counted_by_time(seeded: Store) -> None:
    """reattempts_on: a user's reattempts on one method after ``since``, oldest first.

    Those of every item and enrollment of the user count; attempts that are
    no reattempts, on another method, another user's (test ids such as
    pm_card_visa are shared), or made at or before ``since`` do not. An
    instant comes back equal and aware.
    """
    since = T0 - timedelta(days=30)
    an_hour_ago = (T0 - timedelta(hours=1)).astimezone(PARIS)
    with seeded.transaction() as tx:
        tx.put_product(a_product(pid="prod_2", ext="course-2"))
        tx.add_enrollment(an_enrollment("enr_2", product_id="prod_2"))
        tx.add_enrollment(an_enrollment("enr_3", user="u-2"))
        tx.add_items([an_item("itm_4", eid="enr_2"), an_item("itm_5", eid="enr_3")])
        tx.add_attempt(an_attempt("att_old", number=2, reattempt=True, created_at=since))
        tx.add_attempt(an_attempt("att_2", number=3, reattempt=True, created_at=an_hour_ago))
        tx.add_attempt(an_attempt("att_3", iid="itm_2", number=2, reattempt=True,
                                  created_at=since + timedelta(microseconds=1)))  # fmt: skip
        tx.add_attempt(an_attempt("att_first", iid="itm_3", number=1))
        tx.add_attempt(an_attempt("att_other", iid="itm_3", number=2, reattempt=True,
                                  payment_method_id="pm_card_mastercard"))  # fmt: skip
        two_days_ago = T0 - timedelta(days=2)
        tx.add_attempt(an_attempt("att_enr_2", iid="itm_4", number=2, reattempt=True,
                                  enrollment_id="enr_2", created_at=two_days_ago))  # fmt: skip
        tx.add_attempt(an_attempt("att_u2", iid="itm_5", number=2, reattempt=True,
                                  enrollment_id="enr_3"))  # fmt: skip
        # The transaction's own reattempt counts at once.
        tx.add_attempt(an_attempt("att_4", number=4, reattempt=True))
        assert tx.reattempts_on("u-1", "pm_card_visa", since=since) == [
            since + timedelta(microseconds=1),
            T0 - timedelta(days=2),
            T0 - timedelta(hours=1),
            T0,
        ]
    with seeded.transaction() as tx:
        assert tx.reattempts_on("u-1", "pm_card_mastercard", since=since) == [T0]
        assert tx.reattempts_on("u-2", "pm_card_visa", since=since) == [T0]
        assert tx.reattempts_on("u-1", "pm_card_visa", since=T0) == []
        assert tx.reattempts_on("u-1", "pm_unknown", since=since) == []
        assert tx.reattempts_on("u-9", "pm_card_visa", since=since) == []
        (latest,) = tx.reattempts_on("u-1", "pm_card_visa", since=T0 - timedelta(minutes=1))
        assert latest.utcoffset() == timedelta(0)


def test_counting_reattempts_holds_the_payment_method_until_commit(seeded: Store) -> None:
    """A second unit of work counting the same method waits, then sees the first one's reattempt.

    So two workers cannot both count one short of a cap and both charge.
    """
    since = T0 - timedelta(days=30)
    seen: list[list[datetime]] = []

    def count_elsewhere() -> None:
        with seeded.transaction() as other:
            seen.append(other.reattempts_on("u-1", "pm_card_visa", since=since))

    with seeded.transaction() as tx:
        assert tx.reattempts_on("u-1", "pm_card_visa", since=since) == []
        tx.add_attempt(an_attempt("att_1", number=2, reattempt=True))
        racer = threading.Thread(target=count_elsewhere)
        racer.start()
        racer.join(timeout=0.5)
        assert racer.is_alive()  # waiting for this unit of work
    racer.join(timeout=30)
    assert seen == [[T0]]


# --- payments and refunds -------------------------------------------------------------


def test_payments_round_trip_and_are_listed_oldest_first(seeded: Store) -> None:
    """Payments come back equal; payments_of orders by time received, then id."""
    gateway = a_payment("pay_g", method="gateway", gateway_payment_id="pi_1", reference=None,
                        notes=None, actor=None, received_at=T0 - timedelta(1))  # fmt: skip
    with seeded.transaction() as tx:
        tx.add_payment(a_payment("pay_2"))
        tx.add_payment(a_payment("pay_1"))
        tx.add_payment(gateway)
    with seeded.transaction() as tx:
        assert tx.get_payment("pay_1") == a_payment("pay_1")
        assert tx.find_payment_by_gateway_id("pi_1") == gateway
        assert tx.find_payment_by_gateway_id("pi_2") is None
        assert [p.id for p in tx.payments_of("enr_1")] == ["pay_g", "pay_1", "pay_2"]


def test_a_gateway_payment_is_recorded_once(seeded: Store) -> None:
    """A second payment for the same gateway payment id, or a known id, is a DuplicateError."""
    with seeded.transaction() as tx:
        tx.add_payment(a_payment("pay_1", gateway_payment_id="pi_1"))
    with pytest.raises(DuplicateError) as by_gateway, seeded.transaction() as tx:
        tx.add_payment(a_payment("pay_2", gateway_payment_id="pi_1"))
    with pytest.raises(DuplicateError) as by_id, seeded.transaction() as tx:
        tx.add_payment(a_payment("pay_1"))
    assert (by_gateway.value.what, by_gateway.value.key) == ("gateway payment id", "pi_1")
    assert (by_id.value.what, by_id.value.key) == ("payment id", "pay_1")


@pytest.fixture
def paid(seeded: Store) -> Store:
    """``seeded`` with a payment ``pay_1`` of 100 USD."""
    with seeded.transaction() as tx:
        tx.add_payment(a_payment("pay_1"))
    return seeded


def test_refunds_round_trip_and_are_listed(paid: Store) -> None:
    """Refunds come back equal; listings filter by status and order by time, then id."""
    gateway = a_refund("ref_g", "10.00", method="gateway", status="pending",
                       idempotency_key="refund:ref_g", created_at=T0 - timedelta(1))  # fmt: skip
    with paid.transaction() as tx:
        tx.add_refund(a_refund("ref_2", "5.00"))
        tx.add_refund(gateway)
        tx.add_refund(a_refund("ref_1", "5.00"))
    with paid.transaction() as tx:
        assert tx.get_refund("ref_g") == gateway
        assert [r.id for r in tx.refunds_of("enr_1")] == ["ref_g", "ref_1", "ref_2"]
        with paid.reader() as view:
            assert [r.id for r in view.list_refunds(status="succeeded")] == ["ref_1", "ref_2"]
            assert [r.id for r in view.list_refunds(status="pending")] == ["ref_g"]
        done = attrs.evolve(gateway, status="succeeded", gateway_refund_id="re_1")
        tx.update_refund(done)
        assert tx.find_refund_by_gateway_id("re_1") == done


def test_refunds_never_exceed_the_payment(paid: Store) -> None:
    """Pending and succeeded refunds count, failed ones do not; the excess is refused."""
    with paid.transaction() as tx:
        tx.add_refund(a_refund("ref_1", "60.00", status="pending"))
        tx.add_refund(a_refund("ref_2", "30.00", status="failed"))
    with pytest.raises(RefundExceedsPaidError) as raised, paid.transaction() as tx:
        tx.add_refund(a_refund("ref_3", "40.01"))
    assert raised.value.requested == usd("40.01")
    assert raised.value.refundable == usd("40.00")
    with paid.transaction() as tx:
        tx.add_refund(a_refund("ref_3", "40.00"))
    with pytest.raises(RefundExceedsPaidError) as none_left, paid.transaction() as tx:
        tx.add_refund(a_refund("ref_4", "0.01"))
    assert none_left.value.refundable == usd("0")
    assert read(paid, lambda tx: [r.id for r in tx.refunds_of("enr_1")]) == [
        "ref_1", "ref_2", "ref_3"]  # fmt: skip


def test_zero_refunds_and_refunds_of_unknown_payments_are_refused(paid: Store) -> None:
    """A refund must be positive and refund a recorded payment."""
    with pytest.raises(RefundExceedsPaidError), paid.transaction() as tx:
        tx.add_refund(a_refund("ref_1", "0"))
    with pytest.raises(PaymentNotFoundError) as missing, paid.transaction() as tx:
        tx.add_refund(a_refund("ref_1", "1.00", payment_id="pay_x"))
    assert missing.value.ident == "pay_x"


def test_refund_ids_keys_and_gateway_ids_are_unique(paid: Store) -> None:
    """Each uniqueness rule of refunds raises a DuplicateError naming it."""
    with paid.transaction() as tx:
        tx.add_refund(a_refund("ref_1", "1.00", idempotency_key="k1", gateway_refund_id="re_1"))
        tx.add_refund(a_refund("ref_2", "1.00"))
    cases = {
        ("refund id", "ref_1"): a_refund("ref_1", "1.00"),
        ("gateway refund id", "re_1"): a_refund("ref_3", "1.00", gateway_refund_id="re_1"),
        ("refund idempotency key", "k1"): a_refund("ref_3", "1.00", idempotency_key="k1"),
    }
    for (what, key), refund in cases.items():
        with pytest.raises(DuplicateError) as raised, paid.transaction() as tx:
            tx.add_refund(refund)
        assert (raised.value.what, raised.value.key) == (what, key)
    with pytest.raises(DuplicateError) as on_update, paid.transaction() as tx:
        tx.update_refund(a_refund("ref_2", "1.00", gateway_refund_id="re_1"))
    assert (on_update.value.what, on_update.value.key) == ("gateway refund id", "re_1")


# --- webhooks and audit ----------------------------------------------------------------


def test_webhook_receipts_are_unique_by_event_id(store: Store) -> None:
    """A receipt reads back equal; recording the same event twice is a DuplicateError."""
    receipt = WebhookReceipt("evt_1", "payment_intent.succeeded", T0, "processed")
    with store.transaction() as tx:
        tx.add_webhook_receipt(receipt)
    assert read(store, lambda tx: tx.get_webhook_receipt("evt_1")) == receipt
    with pytest.raises(DuplicateError) as raised, store.transaction() as tx:
        tx.add_webhook_receipt(attrs.evolve(receipt, outcome="duplicate"))
    assert (raised.value.what, raised.value.key) == ("webhook event", "evt_1")
    assert read(store, lambda tx: tx.get_webhook_receipt("evt_1")) == receipt


def test_audit_entries_chain_and_verify(store: Store) -> None:
    """Appended entries are numbered, linked, stored as returned, and the chain verifies."""
    with store.transaction() as tx:
        first = tx.append_audit(a_draft(1))
        second = tx.append_audit(a_draft(2, entity_id="itm_1", entity_type="schedule_item"))
    with store.transaction() as tx:
        third = tx.append_audit(a_draft(3))
    assert (first.seq, second.seq, third.seq) == (1, 2, 3)
    assert second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    assert first.data == {"amount": {"minor": 150, "currency": "USD"}, "on": "2027-03-15",
                          "status": "paid", "n": 1}  # fmt: skip
    with store.reader() as tx:
        entries = tx.list_audit()
        assert entries == [first, second, third]
        assert tx.list_audit(entity_type="enrollment") == [first, third]
        assert tx.list_audit(entity_type="schedule_item", entity_id="itm_1") == [second]
        assert tx.list_audit(entity_id="nope") == []
    verification = verify_audit_chain(entries)
    assert verification.ok
    assert verification.checked == 3


def test_audit_appends_of_a_rolled_back_transaction_leave_no_gap(store: Store) -> None:
    """The chain continues from the last committed entry."""
    with store.transaction() as tx:
        tx.append_audit(a_draft(1))
    with pytest.raises(RuntimeError, match="boom"):
        write_then_fail(store, lambda tx: tx.append_audit(a_draft(2)))
    with store.transaction() as tx:
        tx.append_audit(a_draft(3))
    entries = look(store, lambda view: view.list_audit())
    assert [e.seq for e in entries] == [1, 2]
    assert verify_audit_chain(entries).ok


# --- transactions -----------------------------------------------------------------------


def test_an_exception_rolls_back_every_write_of_the_block(seeded: Store) -> None:
    """Nothing a failing block wrote is visible afterwards, and the exception propagates."""
    before = snapshot(seeded)

    def write_everything(tx: StoreTransaction) -> None:
        tx.put_customer(Customer("u-1", "cus_1"))
        tx.update_enrollment(an_enrollment(status=EnrollmentStatus.CANCELLED))
        tx.add_items([an_item("itm_4", seq=4, due=TODAY + timedelta(days=90))])
        tx.add_payment(a_payment("pay_1"))
        tx.add_refund(a_refund("ref_1", "1.00"))
        tx.add_webhook_receipt(WebhookReceipt("evt_1", "x", T0, "processed"))
        tx.append_audit(a_draft(1))
        tx.claim_due(today=TODAY, now=T0, lease_until=LEASE, limit=10)
        tx.replace_plan_rules([PlanRule(FullPayment())])

    with pytest.raises(RuntimeError, match="boom"):
        write_then_fail(seeded, write_everything)
    assert snapshot(seeded) == before


def test_a_refused_write_leaves_the_transaction_usable(seeded: Store) -> None:
    """After catching a DuplicateError the block may go on and commit its other writes."""
    with seeded.transaction() as tx:
        tx.add_webhook_receipt(WebhookReceipt("evt_1", "x", T0, "processed"))
        with pytest.raises(DuplicateEnrollmentError):
            tx.add_enrollment(an_enrollment(eid="enr_2"))
        with pytest.raises(DuplicateError):
            tx.add_webhook_receipt(WebhookReceipt("evt_1", "x", T0, "processed"))
        tx.add_enrollment(an_enrollment(eid="enr_2", user="u-2"))
    with seeded.transaction() as tx:
        assert tx.get_webhook_receipt("evt_1") is not None
    assert [e.id for e in look(seeded, lambda view: view.list_enrollments())] == ["enr_1", "enr_2"]


def test_instants_come_back_equal_and_time_zone_aware(seeded: Store) -> None:
    """An instant written in any zone reads back as the same instant, never naive."""
    instant = datetime(2027, 10, 31, 1, 30, 15, 999999, tzinfo=PARIS)
    with seeded.transaction() as tx:
        tx.update_item(an_item("itm_1", next_attempt_at=instant, status=ItemStatus.FAILED))
    stored = read(seeded, lambda tx: tx.get_item("itm_1")).next_attempt_at
    assert stored == instant
    assert stored.utcoffset() is not None


def snapshot(store: Store) -> dict[str, Any]:
    """Everything the contract can observe about ``seeded``, for before/after checks."""
    with store.transaction() as tx:
        receipt = tx.get_webhook_receipt("evt_1")
    with store.reader() as tx:
        return _snapshot(tx) | {"receipt": receipt}


def _snapshot(tx: StoreReader) -> dict[str, Any]:
    return {
        "customers": tx.get_customer("u-1"),
        "enrollments": tx.list_enrollments(),
        "items": tx.list_items(ItemQuery()),
        "payments": tx.payments_of("enr_1"),
        "refunds": tx.refunds_of("enr_1"),
        "audit": tx.list_audit(),
        "rules": tx.list_plan_rules(),
        "products": tx.list_products(),
        "amount": Decimal(0),
    }
