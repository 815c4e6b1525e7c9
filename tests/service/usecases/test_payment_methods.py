"""Use cases ``start_payment_method_update`` and ``update_payment_method``: saved cards."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enrollpay import EnrollmentStatus, ItemStatus, PaymentSystem
from enrollpay.domain.records import Product
from enrollpay.errors import GatewayNotConfiguredError, InvalidInputError
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds
from tests.service.usecases.support import (
    Outbox,
    audited,
    calls_of,
    enroll_and_pay,
    kinds,
    refused,
    run_retries,
)


def test_the_card_form_gets_a_setup_secret_and_the_customer_is_made_once(
    system: PaymentSystem, fake: FakeGateway, outbox: Outbox
) -> None:
    """Customer created once under ``customer:<user>``; each form opens its own setup flow.

    The fake remembers a setup flow by its idempotency key, so two different
    secrets mean two different keys.
    """
    first = system.start_payment_method_update("u-1")
    second = system.start_payment_method_update("u-1")

    assert first != second
    assert first.endswith("_secret")
    customer, *setups = fake.calls
    assert (customer.verb, customer.params) == (
        "ensure_customer",
        {"user_id": "u-1", "idempotency_key": "customer:u-1"},
    )
    assert [c.verb for c in setups] == ["start_payment_method_update"] * 2
    keys = [str(c.params["idempotency_key"]) for c in setups]
    assert len(set(keys)) == 2
    assert all(k.startswith("setup:u-1:") for k in keys)
    assert [(c.params["customer_id"], c.params["metadata"]) for c in setups] == [
        ("cus_fake_000001", {})
    ] * 2
    assert outbox.new() == []
    (created,) = audited(system, "u-1", "customer.created")
    assert created.data == {"gateway_customer_id": "cus_fake_000001"}


def test_a_new_card_with_nothing_waiting_is_saved_and_used_next_time(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, three: Product
) -> None:
    """No item charged now; the next installment goes to the new card."""
    enroll_and_pay(system, fake, three)
    fake.attach_payment_method("cus_fake_000001", "pm_new")
    outbox.mark()

    outcomes = system.update_payment_method("u-1", "pm_new")

    assert outcomes == []
    assert outbox.new() == []
    assert [e.actor for e in audited(system, "u-1", "customer.payment_method_updated")] == [
        "customer"
    ]
    run_retries(system, clock, 1)
    (charge,) = calls_of(fake, "charge_off_session")
    assert charge.params["payment_method_id"] == "pm_new"


def test_items_waiting_for_a_card_are_charged_once_each(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, three: Product
) -> None:
    """A hard decline suspended the student; the new card pays the item: restored."""
    result = enroll_and_pay(system, fake, three)
    fake.script(fake.decline("stolen_card"))
    run_retries(system, clock, 1)
    fake.attach_payment_method("cus_fake_000001", "pm_new")
    item_id = result.schedule[1].id
    outbox.mark()

    outcomes = system.update_payment_method("u-1", "pm_new", actor="support")

    assert [(o.item_id, o.result) for o in outcomes] == [(item_id, "succeeded")]
    assert kinds(outbox.new()) == ["installment.paid", "enrollment.activated", "access.restored"]
    charges = calls_of(fake, "charge_off_session")
    assert [c.params["payment_method_id"] for c in charges] == ["pm_card_visa", "pm_new"]
    assert charges[-1].params["idempotency_key"] == f"item:{item_id}:attempt:2"
    assert [e.actor for e in audited(system, item_id, "payment.retry_requested")] == ["support"]


def test_a_new_card_that_is_declined_too_leaves_the_item_defaulted(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, outbox: Outbox, three: Product
) -> None:
    """Defaulted after four declines; the new card's soft decline: still defaulted, once."""
    result = enroll_and_pay(system, fake, three)
    fake.script(*[fake.decline()] * 4)
    run_retries(system, clock, 4)
    fake.attach_payment_method("cus_fake_000001", "pm_new")
    fake.script_method("pm_new", fake.decline("insufficient_funds"))
    outbox.mark()

    outcomes = system.update_payment_method("u-1", "pm_new")

    assert [o.result for o in outcomes] == ["defaulted"]
    (event,) = outbox.new()
    assert (event.kind, event.data["failures"]) == ("installment.defaulted", 5)
    assert system.get_schedule_item(result.schedule[1].id).status == ItemStatus.DEFAULTED
    assert len(calls_of(fake, "charge_off_session")) == 5


def test_items_of_every_open_enrollment_of_the_user_are_charged(
    system: PaymentSystem,
    fake: FakeGateway,
    clock: FrozenClock,
    outbox: Outbox,
    three: Product,
    full: Product,
) -> None:
    """Two enrollments waiting for a card: one charge each."""
    enroll_and_pay(system, fake, full)
    later = system.enroll(user_id="u-1", product_id=three.id, start=clock.now().date())
    assert later.client_secret is not None
    fake.complete_payment(later.client_secret, fake.decline("card_declined"))
    fake.deliver(system)
    fake.script(fake.decline("stolen_card"))
    fake.attach_payment_method("cus_fake_000001", "pm_new")
    outbox.mark()

    outcomes = system.update_payment_method("u-1", "pm_new")

    assert [o.result for o in outcomes] == ["requires_payment_method"]
    assert [o.item_id for o in outcomes] == [later.schedule[0].id]
    assert len(calls_of(fake, "charge_off_session")) == 1


def test_paused_and_cancelled_enrollments_are_not_charged(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three: Product, full: Product
) -> None:
    """Their waiting items wait."""
    paused = enroll_and_pay(system, fake, three)
    fake.script(fake.decline("stolen_card"))
    run_retries(system, clock, 1)
    system.pause(paused.enrollment_id, actor="admin")
    fake.attach_payment_method("cus_fake_000001", "pm_new")
    charges = len(calls_of(fake, "charge_off_session"))

    assert system.update_payment_method("u-1", "pm_new") == []
    assert len(calls_of(fake, "charge_off_session")) == charges
    assert system.get_enrollment(paused.enrollment_id).status == EnrollmentStatus.PAUSED


@pytest.mark.parametrize(
    "value",
    ["4242 4242 4242 4242", "4242-4242-4242-4242", "4242424242424242", "pm_4242424242424242"],
)
def test_a_card_number_is_refused_and_never_echoed(
    system: PaymentSystem, fake: FakeGateway, value: str
) -> None:
    """InvalidInputError whose message holds no digits of the number; nothing written."""
    with refused(system, InvalidInputError, fake=fake) as info:
        system.update_payment_method("u-1", value)
    assert "4242" not in str(info.value)


@pytest.mark.parametrize("value", ["", "pm_", "card", "pm bad", 42])
def test_a_malformed_method_id_is_refused(
    system: PaymentSystem, fake: FakeGateway, value: object
) -> None:
    """InvalidInputError; no gateway call."""
    with refused(system, InvalidInputError, fake=fake):
        system.update_payment_method("u-1", value)  # type: ignore[arg-type]


@pytest.mark.parametrize("operation", ["start", "update"])
def test_an_empty_user_is_refused(system: PaymentSystem, fake: FakeGateway, operation: str) -> None:
    """InvalidInputError before any gateway call."""
    with refused(system, InvalidInputError, fake=fake):
        if operation == "start":
            system.start_payment_method_update("")
        else:
            system.update_payment_method("", "pm_x")


@pytest.mark.parametrize("operation", ["start", "update"])
def test_without_a_gateway_cards_cannot_be_saved(clock: FrozenClock, operation: str) -> None:
    """GatewayNotConfiguredError."""
    system = PaymentSystem(store=InMemoryStore(), clock=clock, ids=SequentialIds())
    with refused(system, GatewayNotConfiguredError):
        if operation == "start":
            system.start_payment_method_update("u-1")
        else:
            system.update_payment_method("u-1", "pm_x")


@settings(max_examples=30, deadline=None)
@given(
    digits=st.text(alphabet="0123456789", min_size=13, max_size=19).filter(
        lambda d: (
            sum(
                (int(c) * (2 if i % 2 else 1)) - (9 if int(c) * (2 if i % 2 else 1) > 9 else 0)
                for i, c in enumerate(reversed(d))
            )
            % 10
            == 0
        )
    )
)
def test_any_luhn_valid_number_is_refused(digits: str) -> None:
    """Whatever its length (13 to 19) and prefix: a card number is never a method id."""
    system = PaymentSystem(store=InMemoryStore(), gateway=FakeGateway(), ids=SequentialIds())
    with refused(system, InvalidInputError):
        system.update_payment_method("u-1", f"pm_{digits}")
