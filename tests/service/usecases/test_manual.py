"""Use case ``record_manual_payment``: cash, checks and transfers against a schedule item."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enrollpay import EnrollmentStatus, Installments, ItemStatus, Money, PaymentSystem
from enrollpay.domain.records import Product
from enrollpay.errors import (
    CurrencyMismatchError,
    InvalidInputError,
    ItemNotPayableError,
    MoneyTypeError,
    OverpaymentError,
    PermissionDeniedError,
    ScheduleItemNotFoundError,
)
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds
from tests.service.conftest import START, usd
from tests.service.usecases.support import (
    Outbox,
    calls_of,
    enroll_and_pay,
    everything,
    kinds,
    refused,
    run_retries,
    usd_data,
)


@pytest.fixture
def offline(clock: FrozenClock) -> PaymentSystem:
    """A system without a gateway (manual payments only)."""
    return PaymentSystem(store=InMemoryStore(), clock=clock, ids=SequentialIds())


@pytest.fixture
def waiting(offline: PaymentSystem) -> tuple[str, list[str]]:
    """An enrollment on three installments of 100.00 waiting for its first payment."""
    product = offline.register_product(
        product_type="c", product_id="c", name="C", price=usd("300.00"),
        payment_plan=Installments(3),
    )  # fmt: skip
    result = offline.enroll(user_id="u-1", product_id=product.id)
    return result.enrollment_id, [i.id for i in result.schedule]


def test_a_bank_transfer_pays_the_first_item_and_activates(
    offline: PaymentSystem, waiting: tuple[str, list[str]]
) -> None:
    """The whole outstanding by default; the payment keeps method, reference, notes and actor."""
    enrollment_id, items = waiting
    mark = len(offline.list_events())

    payment = offline.record_manual_payment(
        items[0], method="bank_transfer", actor="admin-1", reference="TXN-1", notes="wire"
    )

    assert (payment.amount, payment.method, payment.reference, payment.notes, payment.actor) == (
        usd("100.00"),
        "bank_transfer",
        "TXN-1",
        "wire",
        "admin-1",
    )
    assert (payment.item_id, payment.enrollment_id, payment.received_at) == (
        items[0],
        enrollment_id,
        START,
    )
    assert payment.gateway_payment_id is None
    events = offline.list_events()[mark:]
    assert kinds(events) == ["installment.paid", "enrollment.activated", "access.granted"]
    assert dict(events[0].data) == {
        "item_id": items[0],
        "seq": 1,
        "amount": usd_data(10000),
        "paid": usd_data(10000),
    }
    details = offline.payment_details(enrollment_id)
    assert details.items[0].status == ItemStatus.PAID
    assert details.enrollment.status == EnrollmentStatus.ACTIVE
    assert details.payments == (payment,)
    assert details.outstanding == usd("200.00")
    recorded = offline.audit_log(entity_type="schedule_item", entity_id=items[0])
    assert [e.action for e in recorded] == ["payment.manual_recorded"]
    assert recorded[0].actor == "admin-1"


def test_a_partial_payment_leaves_the_item_open_then_the_rest_pays_it(
    offline: PaymentSystem, waiting: tuple[str, list[str]]
) -> None:
    """30.00 then 70.00: ``partially_paid`` (received, paid) then ``paid``; status follows."""
    enrollment_id, items = waiting
    mark = len(offline.list_events())

    offline.record_manual_payment(items[0], method="cash", actor="admin", amount=usd("30.00"))

    item = offline.get_schedule_item(items[0])
    assert (item.status, item.amount_paid, item.outstanding) == (
        ItemStatus.SCHEDULED,
        usd("30.00"),
        usd("70.00"),
    )
    assert offline.get_enrollment(enrollment_id).status == EnrollmentStatus.PENDING_PAYMENT
    (partial,) = offline.list_events()[mark:]
    assert partial.kind == "installment.partially_paid"
    assert dict(partial.data) == {
        "item_id": items[0],
        "seq": 1,
        "received": usd_data(3000),
        "paid": usd_data(3000),
    }

    offline.record_manual_payment(items[0], method="cash", actor="admin", amount=usd("70.00"))

    assert kinds(offline.list_events()[mark + 1 :]) == [
        "installment.paid",
        "enrollment.activated",
        "access.granted",
    ]
    assert offline.payment_details(enrollment_id).paid == usd("100.00")


def test_any_item_paid_ends_the_wait_for_a_first_payment(
    offline: PaymentSystem, waiting: tuple[str, list[str]]
) -> None:
    """Paying item 3 first activates: pending_payment lasts only while nothing is paid.

    Item 1 is due today, not overdue, so nothing else holds the status back
    (the rule of ``derive_enrollment_status``).
    """
    enrollment_id, items = waiting
    mark = len(offline.list_events())

    offline.record_manual_payment(items[2], method="check", actor="admin", reference="CHK-9")

    events = offline.list_events()[mark:]
    assert kinds(events) == ["installment.paid", "enrollment.activated", "access.granted"]
    assert events[0].data["seq"] == 3
    assert offline.get_enrollment(enrollment_id).status == EnrollmentStatus.ACTIVE
    assert offline.get_schedule_item(items[0]).status == ItemStatus.SCHEDULED


def test_a_manual_payment_of_a_defaulted_item_restores_access(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, three: Product
) -> None:
    """Suspended after four declines; a transfer pays the item: restored, access back."""
    result = enroll_and_pay(system, fake, three)
    fake.script(*[fake.decline()] * 4)
    run_retries(system, clock, 4)
    outbox.mark()

    system.record_manual_payment(result.schedule[1].id, method="bank_transfer", actor="admin")

    events = outbox.new()
    assert kinds(events) == ["installment.paid", "enrollment.activated", "access.restored"]
    assert dict(events[1].data) == {"from": "suspended", "to": "active"}
    assert system.has_access(system.get_enrollment(result.enrollment_id))


def test_a_partial_payment_of_a_failed_item_keeps_its_retry(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, three: Product
) -> None:
    """Still failed with the same retry time; the retry charges only the rest."""
    result = enroll_and_pay(system, fake, three)
    fake.script(fake.decline())
    run_retries(system, clock, 1)
    item_id = result.schedule[1].id
    retry_at = system.get_schedule_item(item_id).next_attempt_at
    outbox.mark()

    system.record_manual_payment(item_id, method="cash", actor="admin", amount=usd("25.00"))

    item = system.get_schedule_item(item_id)
    assert (item.status, item.next_attempt_at, item.amount_paid) == (
        ItemStatus.FAILED,
        retry_at,
        usd("25.00"),
    )
    assert kinds(outbox.new()) == ["installment.partially_paid"]
    clock.advance(days=1)
    system.collect_due()
    assert calls_of(fake, "charge_off_session")[-1].params["amount"] == usd("75.00")
    assert system.get_schedule_item(item_id).status == ItemStatus.PAID


def test_an_open_card_checkout_is_cancelled_at_the_gateway_first(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, three: Product
) -> None:
    """``payment.canceled`` before ``installment.paid``; the cancel is keyed by the attempt."""
    result = system.enroll(user_id="u-1", product_id=three.id)
    (checkout,) = system.payment_details(result.enrollment_id).attempts
    outbox.mark()
    before = len(fake.calls)

    system.record_manual_payment(result.schedule[0].id, method="cash", actor="admin")

    (cancel,) = calls_of(fake, "cancel_payment", before)
    assert cancel.params == {
        "gateway_payment_id": checkout.gateway_payment_id,
        "idempotency_key": f"cancel:{checkout.id}",
    }
    events = outbox.new()
    assert kinds(events) == [
        "payment.canceled",
        "installment.paid",
        "enrollment.activated",
        "access.granted",
    ]
    assert events[0].data["attempt_id"] == checkout.id
    assert result.client_secret is not None
    assert len(fake.charges) == 0


def test_a_card_payment_that_won_the_race_is_kept_and_the_manual_one_refused(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox, three: Product
) -> None:
    """The cancel finds the checkout paid: that payment is recorded; ItemNotPayableError."""
    result = system.enroll(user_id="u-1", product_id=three.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret)  # its webhook is still on the way
    outbox.mark()

    with pytest.raises(ItemNotPayableError, match="paid by card"):
        system.record_manual_payment(result.schedule[0].id, method="cash", actor="admin")

    assert kinds(outbox.new()) == ["installment.paid", "enrollment.activated", "access.granted"]
    (payment,) = system.payment_details(result.enrollment_id).payments
    assert payment.method == "gateway"


def test_a_refused_manual_payment_leaves_the_checkout_open(
    system: PaymentSystem, fake: FakeGateway, three: Product
) -> None:
    """The checks run before the cancel: an overpayment cancels nothing at the gateway."""
    result = system.enroll(user_id="u-1", product_id=three.id)
    with refused(system, OverpaymentError, fake=fake):
        system.record_manual_payment(
            result.schedule[0].id, method="cash", actor="admin", amount=usd("100.01")
        )


# -- refusals ---------------------------------------------------------------------------


def test_more_than_is_outstanding_is_refused(
    offline: PaymentSystem, waiting: tuple[str, list[str]]
) -> None:
    """OverpaymentError, also after a partial payment."""
    _, items = waiting
    offline.record_manual_payment(items[0], method="cash", actor="a", amount=usd("60.00"))
    with refused(offline, OverpaymentError):
        offline.record_manual_payment(items[0], method="cash", actor="a", amount=usd("40.01"))


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"method": "bitcoin"}, InvalidInputError),
        ({"actor": ""}, InvalidInputError),
        ({"reference": "r" * 501}, InvalidInputError),
        ({"reference": "bad\x00ref"}, InvalidInputError),
        ({"notes": "n" * 2001}, InvalidInputError),
        ({"amount": 10.0}, MoneyTypeError),
        ({"amount": 10}, MoneyTypeError),
        ({"amount": Money.of("10", "EUR")}, CurrencyMismatchError),
        ({"amount": usd("0")}, InvalidInputError),
    ],
    ids=["method", "actor", "long-reference", "nul", "long-notes", "float", "int", "eur", "zero"],
)
def test_bad_arguments_are_refused(
    offline: PaymentSystem,
    waiting: tuple[str, list[str]],
    kwargs: dict[str, Any],
    error: type[Exception],
) -> None:
    """The typed error; nothing written."""
    _, items = waiting
    arguments: dict[str, Any] = {"method": "cash", "actor": "admin", **kwargs}
    with refused(offline, error):
        offline.record_manual_payment(items[0], **arguments)


def test_an_unknown_item_is_refused(offline: PaymentSystem) -> None:
    """ScheduleItemNotFoundError."""
    with refused(offline, ScheduleItemNotFoundError):
        offline.record_manual_payment("itm_missing", method="cash", actor="admin")


@pytest.mark.parametrize("state", ["paid", "waived"])
def test_a_settled_item_is_refused(
    offline: PaymentSystem, waiting: tuple[str, list[str]], state: str
) -> None:
    """ItemNotPayableError names the status."""
    _, items = waiting
    if state == "paid":
        offline.record_manual_payment(items[1], method="cash", actor="admin")
    else:
        offline.waive_item(items[1], actor="admin")
    with refused(offline, ItemNotPayableError, match=state):
        offline.record_manual_payment(items[1], method="cash", actor="admin")


def test_an_item_of_a_cancelled_enrollment_is_refused(
    offline: PaymentSystem, waiting: tuple[str, list[str]]
) -> None:
    """Nothing is owed after a cancellation."""
    enrollment_id, items = waiting
    offline.cancel_enrollment(enrollment_id, reason="left", actor="admin")
    with refused(offline, ItemNotPayableError, match="cancelled"):
        offline.record_manual_payment(items[1], method="cash", actor="admin")


def test_an_item_being_charged_is_refused(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three: Product
) -> None:
    """An off-session charge of unknown outcome: the money may be on its way."""
    result = enroll_and_pay(system, fake, three)
    fake.script("timeout_after")
    run_retries(system, clock, 1)
    with refused(system, ItemNotPayableError, fake=fake, match="being charged"):
        system.record_manual_payment(result.schedule[1].id, method="cash", actor="admin")


def test_a_refusing_policy_denies_the_payment_and_only_logs_the_denial(
    clock: FrozenClock,
) -> None:
    """PermissionDeniedError; the one write is the ``permission.denied`` audit entry."""
    system = PaymentSystem(
        store=InMemoryStore(), clock=clock, ids=SequentialIds(),
        authorize=lambda actor, action, target: actor == "boss",
    )  # fmt: skip
    product = system.register_product(
        product_type="c", product_id="c", name="C", price=usd("10.00")
    )
    item_id = system.enroll(user_id="u", product_id=product.id).schedule[0].id
    before = everything(system)

    with pytest.raises(PermissionDeniedError):
        system.record_manual_payment(item_id, method="cash", actor="intern")

    after = everything(system)
    assert [e.action for e in after.pop("audit")[len(before["audit"]) :]] == ["permission.denied"]
    before.pop("audit")
    assert after == before
    assert system.record_manual_payment(item_id, method="cash", actor="boss").amount == usd("10")


# -- properties -------------------------------------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cuts=st.lists(st.integers(min_value=1, max_value=9_999), max_size=5, unique=True))
def test_any_split_of_an_item_pays_it_exactly_once(cuts: list[int]) -> None:
    """Parts summing to the amount: one ``partially_paid`` per part but the last, then ``paid``."""
    clock = FrozenClock(START)
    system = PaymentSystem(store=InMemoryStore(), clock=clock, ids=SequentialIds())
    product = system.register_product(
        product_type="c", product_id="c", name="C", price=usd("100.00")
    )
    result = system.enroll(user_id="u", product_id=product.id, start=date(2027, 4, 1))
    bounds = [0, *sorted(cuts), 10_000]
    parts = [b - a for a, b in itertools.pairwise(bounds)]
    mark = len(system.list_events())

    for minor in parts:
        system.record_manual_payment(
            result.schedule[0].id, method="cash", actor="a", amount=Money(minor, "USD")
        )

    events = system.list_events()[mark:]
    assert kinds(events)[: len(parts)] == ["installment.partially_paid"] * (len(parts) - 1) + [
        "installment.paid"
    ]
    assert [e.data["paid"]["minor"] for e in events[: len(parts) - 1]] == bounds[1:-1]
    assert system.get_schedule_item(result.schedule[0].id).amount_paid == usd("100.00")
