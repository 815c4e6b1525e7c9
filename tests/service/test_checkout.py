"""On-session checkouts: reopening, abandoning, authenticating, and slow settlement."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import timedelta

import pytest

from enrollpay import AttemptStatus, EnrollmentStatus, Installments, ItemStatus, PaymentSystem
from enrollpay.domain.records import Product
from enrollpay.errors import GatewayRequestError, ItemNotPayableError, OverpaymentError
from enrollpay.ports import ChargeResult, Store, StoreReader, StoreTransaction
from enrollpay.testing import FakeGateway, FrozenClock
from tests.service.conftest import usd


@pytest.fixture
def two_installments(system: PaymentSystem) -> Product:
    """A 200.00 USD course on 2 monthly installments."""
    return system.register_product(product_type="course", product_id="two", name="Two",
                                   price=usd("200"), payment_plan=Installments(2))  # fmt: skip


def _give_saved_card(system: PaymentSystem, fake: FakeGateway, user: str) -> None:
    secret = system.start_payment_method_update(user)
    fake.complete_setup(secret, payment_method=f"pm_{user}")
    fake.deliver(system)


def test_an_abandoned_checkout_is_cancelled_then_the_saved_card_is_charged(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, two_installments: Product
) -> None:
    """After the checkout window the open payment is cancelled first: one charge in all."""
    result = system.enroll(user_id="u", product_id=two_installments.id)
    _give_saved_card(system, fake, "u")
    clock.advance(hours=22)
    assert system.collect_due().outcomes == ()  # still inside the checkout window

    clock.advance(hours=2)
    report = system.collect_due()
    fake.deliver(system)

    assert [o.result for o in report.outcomes] == ["succeeded"]
    assert len(fake.charges) == 1
    assert result.client_secret is not None
    with pytest.raises(GatewayRequestError):  # the abandoned payment can no longer be paid
        fake.complete_payment(result.client_secret)
    details = system.payment_details(result.enrollment_id)
    assert [a.status for a in details.attempts] == [AttemptStatus.CANCELED, AttemptStatus.SUCCEEDED]
    assert details.enrollment.status == EnrollmentStatus.ACTIVE


def test_a_checkout_completed_while_its_webhook_was_lost_is_not_charged_again(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, two_installments: Product
) -> None:
    """The customer paid but the webhook never came: collection records that payment."""
    result = system.enroll(user_id="u", product_id=two_installments.id)
    _give_saved_card(system, fake, "u")
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret)
    fake.take_events()  # lost
    clock.advance(hours=24)

    report = system.collect_due()

    assert [o.result for o in report.outcomes] == ["succeeded"]
    assert len(fake.charges) == 1
    assert system.payment_details(result.enrollment_id).items[0].status == ItemStatus.PAID


def test_reopening_the_checkout_returns_the_same_payment(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, two_installments: Product
) -> None:
    """A customer back after an hour gets the same client secret and a fresh window."""
    result = system.enroll(user_id="u", product_id=two_installments.id)
    clock.advance(hours=20)

    session = system.start_payment(result.schedule[0].id)
    clock.advance(hours=20)

    assert session.client_secret == result.client_secret
    assert system.collect_due().outcomes == ()  # the window restarted when they came back


def test_authentication_reopens_the_off_session_payment_itself(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, two_installments: Product
) -> None:
    """For an off-session charge needing authentication, start_payment reuses its intent."""
    result = system.enroll(user_id="u", product_id=two_installments.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret)
    fake.deliver(system)
    clock.set(clock.now() + timedelta(days=31))
    fake.script("requires_action")
    assert [o.result for o in system.collect_due().outcomes] == ["requires_action"]
    item = system.payment_details(result.enrollment_id).items[1]
    off_session = system.payment_details(result.enrollment_id).attempts[-1]

    session = system.start_payment(item.id)

    assert session.gateway_payment_id == off_session.gateway_payment_id
    assert session.status == "requires_action"
    fake.settle(session.client_secret)
    fake.deliver(system)
    assert system.payment_details(result.enrollment_id).items[1].status == ItemStatus.PAID
    assert len(fake.charges) == 2


def test_a_charge_still_processing_is_processing_until_it_settles(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, two_installments: Product
) -> None:
    """A slow payment method: the attempt is processing (settling), reconcile settles it later."""
    result = system.enroll(user_id="u", product_id=two_installments.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret)
    fake.deliver(system)
    clock.set(clock.now() + timedelta(days=31))
    fake.script("processing")

    assert [o.result for o in system.collect_due().outcomes] == ["processing"]
    attempt = system.payment_details(result.enrollment_id).attempts[-1]
    assert attempt.status == AttemptStatus.PROCESSING
    assert attempt.gateway_payment_id is not None
    first = system.reconcile()
    assert (first.still_unknown, first.settling) == (0, 1)

    fake.settle(attempt.gateway_payment_id)
    fake.take_events()  # even without the webhook, reconcile finds out
    assert system.reconcile().resolved == 1
    assert system.payment_details(result.enrollment_id).items[1].status == ItemStatus.PAID


def test_a_new_card_from_the_setup_webhook_queues_waiting_items(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, two_installments: Product
) -> None:
    """setup_intent.succeeded makes card-less and defaulted items collectible again."""
    result = system.enroll(user_id="u", product_id=two_installments.id)
    system.record_manual_payment(result.schedule[0].id, method="cash", actor="desk")
    clock.set(clock.now() + timedelta(days=31))
    assert [o.result for o in system.collect_due().outcomes] == ["requires_payment_method"]

    secret = system.start_payment_method_update("u")
    fake.complete_setup(secret, payment_method="pm_new")
    outcomes = fake.deliver(system)
    report = system.collect_due()
    fake.deliver(system)

    assert [o.result for o in outcomes if o.event_type == "setup_intent.succeeded"] == ["processed"]
    assert [o.result for o in report.outcomes] == ["succeeded"]
    assert system.get_enrollment(result.enrollment_id).status == EnrollmentStatus.COMPLETED


def test_after_an_abandoned_checkout_the_student_gets_a_new_payment(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, two_installments: Product
) -> None:
    """A cancelled checkout is never reopened: paying now opens a new, payable intent."""
    result = system.enroll(user_id="u", product_id=two_installments.id)
    clock.advance(hours=24)
    assert [o.result for o in system.collect_due().outcomes] == ["requires_payment_method"]

    session = system.start_payment(result.schedule[0].id)

    assert session.client_secret != result.client_secret
    fake.complete_payment(session.client_secret)
    fake.deliver(system)
    assert system.payment_details(result.enrollment_id).items[0].status == ItemStatus.PAID
    assert len(fake.charges) == 1


def test_a_manual_payment_cancels_the_open_card_checkout_first(
    system: PaymentSystem, fake: FakeGateway, two_installments: Product
) -> None:
    """Cash recorded while a checkout is open: the checkout can no longer take the money."""
    result = system.enroll(user_id="u", product_id=two_installments.id)
    item_id = result.schedule[0].id

    system.record_manual_payment(item_id, method="cash", actor="desk")

    assert result.client_secret is not None
    with pytest.raises(GatewayRequestError):
        fake.complete_payment(result.client_secret)
    details = system.payment_details(result.enrollment_id)
    assert [p.method for p in details.payments] == ["cash"]
    assert fake.charges == []


def test_a_card_payment_that_won_the_race_is_kept_and_the_manual_one_refused(
    system: PaymentSystem, fake: FakeGateway, two_installments: Product
) -> None:
    """The student paid by card a moment before the desk recorded cash: one payment."""
    result = system.enroll(user_id="u", product_id=two_installments.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret)  # its webhook has not arrived yet

    with pytest.raises(ItemNotPayableError):
        system.record_manual_payment(result.schedule[0].id, method="cash", actor="desk")

    details = system.payment_details(result.enrollment_id)
    assert [p.method for p in details.payments] == ["gateway"]
    assert details.items[0].status == ItemStatus.PAID


def test_a_refused_manual_payment_leaves_the_checkout_open(
    system: PaymentSystem, fake: FakeGateway, two_installments: Product
) -> None:
    """An overpayment is refused before anything happens at the gateway."""
    result = system.enroll(user_id="u", product_id=two_installments.id)

    with pytest.raises(OverpaymentError):
        system.record_manual_payment(
            result.schedule[0].id, method="cash", actor="desk", amount=usd("100.01")
        )

    assert result.client_secret is not None
    fake.complete_payment(result.client_secret)
    fake.deliver(system)
    assert system.payment_details(result.enrollment_id).items[0].status == ItemStatus.PAID


def test_cancelling_an_enrollment_closes_its_open_checkout(
    system: PaymentSystem, fake: FakeGateway, two_installments: Product
) -> None:
    """After cancellation the abandoned first payment can no longer be completed."""
    result = system.enroll(user_id="u", product_id=two_installments.id)

    system.cancel_enrollment(result.enrollment_id, reason="changed mind", actor="admin")

    assert result.client_secret is not None
    with pytest.raises(GatewayRequestError):
        fake.complete_payment(result.client_secret)
    assert fake.charges == []


def test_a_student_back_at_the_checkout_while_collection_cancels_it_is_not_charged_twice(
    system: PaymentSystem,
    fake: FakeGateway,
    clock: FrozenClock,
    two_installments: Product,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Collection cancels an abandoned checkout as the student reopens it: no off-session charge.

    Reopening extends the item's lease, so the collecting run finds its lease
    gone and skips the item; the student then pays the first installment in
    a new checkout, once.
    """
    result = system.enroll(user_id="u", product_id=two_installments.id)
    item_id = result.payment_item_id
    assert item_id is not None
    _give_saved_card(system, fake, "u")
    clock.advance(hours=24)
    cancel = fake.cancel_payment
    reopened: list[str] = []

    def student_returns_then_cancel(
        *, gateway_payment_id: str, idempotency_key: str
    ) -> ChargeResult:
        reopened.append(system.start_payment(item_id).gateway_payment_id)
        return cancel(gateway_payment_id=gateway_payment_id, idempotency_key=idempotency_key)

    monkeypatch.setattr(fake, "cancel_payment", student_returns_then_cancel)
    report = system.collect_due()
    monkeypatch.undo()

    assert [o.result for o in report.outcomes] == ["skipped"]
    assert fake.charges == []  # nothing charged off-session
    session = system.start_payment(item_id)  # the cancelled one cannot be paid
    assert session.gateway_payment_id not in reopened
    fake.complete_payment(session.client_secret)
    fake.deliver(system)
    details = system.payment_details(result.enrollment_id)
    assert [p.amount for p in details.payments] == [usd("100")]
    assert [i.status for i in details.items] == [ItemStatus.PAID, ItemStatus.SCHEDULED]


class _CountingStore:
    """A store that counts the transactions opened through it."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.transactions = 0

    def transaction(self) -> AbstractContextManager[StoreTransaction]:
        self.transactions += 1
        return self.inner.transaction()

    def reader(self) -> AbstractContextManager[StoreReader]:
        return self.inner.reader()


def test_a_new_students_enrollment_takes_two_transactions_and_one_customer(
    store: Store, fake: FakeGateway, clock: FrozenClock
) -> None:
    """Write-ahead, then record the gateway's answers: a customer read once is not re-read."""
    counting = _CountingStore(store)
    system = PaymentSystem(store=counting, gateway=fake, clock=clock)
    product = system.register_product(product_type="course", product_id="c", name="C",
                                      price=usd("300"), payment_plan=Installments(3))  # fmt: skip
    counting.transactions = 0
    result = system.enroll(user_id="new-student", product_id=product.id)
    assert result.client_secret is not None
    assert counting.transactions == 2
    assert [c.verb for c in fake.calls] == ["ensure_customer", "start_payment"]
    with store.transaction() as tx:
        customer = tx.get_customer("new-student")
    assert customer is not None
    assert [c.params.get("customer_id") for c in fake.calls[1:]] == [customer.gateway_customer_id]
    again = system.enroll(user_id="new-student", product_id=system.register_product(
        product_type="course", product_id="d", name="D", price=usd("100")).id)  # fmt: skip
    assert again.client_secret is not None
    assert [c.verb for c in fake.calls].count("ensure_customer") == 1  # stored, reused
