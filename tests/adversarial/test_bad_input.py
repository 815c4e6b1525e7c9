"""Bad input everywhere it can enter: a typed error, nothing written, nothing sensitive echoed.

Each refused call raises a subclass of :class:`~enrollpay.errors.EnrollpayError`
that also is the builtin a caller would catch (``ValueError`` for bad
values, ``TypeError`` for wrong types such as floats near money,
``LookupError`` for unknown ids), and leaves the store exactly as it was.
This goes beyond ``tests/service/test_bad_input.py``: every money entry
point, every id-taking method, every free-text field, dates and instants.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest

from enrollpay import FullPayment, Installments, Money, PaymentSystem
from enrollpay.errors import (
    AmountPrecisionError,
    CurrencyMismatchError,
    EnrollmentNotFoundError,
    EnrollpayError,
    InvalidAmountError,
    InvalidInputError,
    MoneyTypeError,
    NaiveDatetimeError,
    OverpaymentError,
    PaymentNotFoundError,
    ProductNotFoundError,
    RefundExceedsPaidError,
    ScheduleItemNotFoundError,
    UnknownCurrencyError,
)
from enrollpay.errors_prices import CurrencyNotOffered, PriceListError
from enrollpay.testing import FrozenClock
from tests.adversarial.support import World, full_state, usd


def bad(value: object) -> Any:
    """Pass a wrongly typed value past the type checker, as untyped callers can."""
    return value


@attrs.frozen
class Ctx:
    """What the calls under test work on."""

    system: PaymentSystem
    product_id: str
    enrollment_id: str
    paid_item: str
    open_item: str
    payment_id: str


@pytest.fixture(scope="module")
def ctx(shared_world: World) -> Ctx:
    """A course with one enrollment: first installment paid through the gateway."""
    world = shared_world
    system = world.system
    product = system.register_product(
        product_type="course",
        product_id="bad-input",
        name="Bad input",
        price=usd("300.00"),
        payment_plan=Installments(3),
    )
    result = system.enroll(user_id="student", product_id=product.id)
    assert result.client_secret is not None
    world.fake.complete_payment(result.client_secret)
    world.fake.deliver(system)
    details = system.payment_details(result.enrollment_id)
    return Ctx(
        system=system,
        product_id=product.id,
        enrollment_id=result.enrollment_id,
        paid_item=details.items[0].id,
        open_item=details.items[1].id,
        payment_id=details.payments[0].id,
    )


Call = Callable[[Ctx], object]
EUR = Money.of("10.00", "EUR")
LONG_ID = "x" * 201
LONG_TEXT = "x" * 501
AWARE = datetime(2027, 5, 1, 9, tzinfo=UTC)
NAIVE = datetime(2027, 5, 1, 9)  # noqa: DTZ001 - the naive datetime under test


def _product(c: Ctx, **changes: Any) -> object:
    fields: dict[str, Any] = {
        "product_type": "course",
        "product_id": "new",
        "name": "New",
        "price": usd("10.00"),
        **changes,
    }
    return c.system.register_product(**fields)


def _manual(c: Ctx, **changes: Any) -> object:
    fields: dict[str, Any] = {"method": "cash", "actor": "admin", **changes}
    return c.system.record_manual_payment(c.open_item, **fields)


def _cancel(c: Ctx, **changes: Any) -> object:
    fields: dict[str, Any] = {"reason": "because", "actor": "admin", **changes}
    return c.system.cancel_enrollment(c.enrollment_id, **fields)


def _refund(c: Ctx, amount: Any, **changes: Any) -> object:
    fields: dict[str, Any] = {"actor": "admin", **changes}
    return c.system.refund_payment(c.payment_id, amount, **fields)


def _enroll(c: Ctx, **changes: Any) -> object:
    fields: dict[str, Any] = {"user_id": "other", "product_id": c.product_id, **changes}
    return c.system.enroll(**fields)


MONEY_CASES: list[tuple[str, Call, type[EnrollpayError]]] = [
    ("price float", lambda c: _product(c, price=bad(19.99)), MoneyTypeError),
    ("price int", lambda c: _product(c, price=bad(1999)), MoneyTypeError),
    ("price str", lambda c: _product(c, price=bad("19.99")), MoneyTypeError),
    ("price Decimal", lambda c: _product(c, price=bad(Decimal("19.99"))), MoneyTypeError),
    ("price None", lambda c: _product(c, price=bad(None)), MoneyTypeError),
    ("price negative", lambda c: _product(c, price=usd("-10")), InvalidInputError),
    ("price zero", lambda c: _product(c, price=usd("0")), InvalidInputError),
    ("manual float", lambda c: _manual(c, amount=bad(10.5)), MoneyTypeError),
    ("manual int", lambda c: _manual(c, amount=bad(1000)), MoneyTypeError),
    ("manual negative", lambda c: _manual(c, amount=usd("-1")), InvalidInputError),
    ("manual zero", lambda c: _manual(c, amount=usd("0")), InvalidInputError),
    ("manual in EUR", lambda c: _manual(c, amount=EUR), CurrencyMismatchError),
    ("manual over outstanding", lambda c: _manual(c, amount=usd("100.01")), OverpaymentError),
    ("refund float", lambda c: _refund(c, bad(5.0)), MoneyTypeError),
    ("refund str", lambda c: _refund(c, bad("5.00")), MoneyTypeError),
    ("refund negative", lambda c: _refund(c, usd("-5")), InvalidInputError),
    ("refund zero", lambda c: _refund(c, usd("0")), InvalidInputError),
    ("refund in EUR", lambda c: _refund(c, EUR), CurrencyMismatchError),
    ("refund over the payment", lambda c: _refund(c, usd("100.01")), RefundExceedsPaidError),
    ("cancel refund float", lambda c: _cancel(c, refund_amount=bad(5.0)), MoneyTypeError),
    ("cancel refund int", lambda c: _cancel(c, refund_amount=bad(5)), MoneyTypeError),
    ("cancel refund negative", lambda c: _cancel(c, refund_amount=usd("-5")), InvalidInputError),
    ("cancel refund in EUR", lambda c: _cancel(c, refund_amount=EUR), CurrencyMismatchError),
    (
        "cancel refund over paid",
        lambda c: _cancel(c, refund_amount=usd("100.01")),
        RefundExceedsPaidError,
    ),
]

PRICE_LIST_CASES: list[tuple[str, Call, type[EnrollpayError]]] = [
    ("prices None", lambda c: _product(c, prices=bad(None)), PriceListError),
    ("prices one Money", lambda c: _product(c, prices=bad(EUR)), PriceListError),
    ("prices text", lambda c: _product(c, prices=bad("10.00 EUR")), PriceListError),
    ("prices float", lambda c: _product(c, prices=bad([9.5])), PriceListError),
    ("prices twice EUR", lambda c: _product(c, prices=[EUR, EUR]), PriceListError),
    ("prices in USD", lambda c: _product(c, prices=[usd("9.00")]), PriceListError),
    ("prices zero", lambda c: _product(c, prices=[Money(0, "EUR")]), PriceListError),
    ("enroll currency float", lambda c: _enroll(c, currency=bad(1.5)), UnknownCurrencyError),
    ("enroll currency unknown", lambda c: _enroll(c, currency="EURO"), UnknownCurrencyError),
    ("enroll currency not sold", lambda c: _enroll(c, currency="EUR"), CurrencyNotOffered),
    (
        "preview currency not sold",
        lambda c: c.system.preview_schedule(c.product_id, FullPayment(), currency="JPY"),
        CurrencyNotOffered,
    ),
]

TIME_CASES: list[tuple[str, Call, type[EnrollpayError]]] = [
    ("collect_due naive now", lambda c: c.system.collect_due(now=NAIVE), NaiveDatetimeError),
    (
        "collect_due now as text",
        lambda c: c.system.collect_due(now=bad("2027-05-01")),
        InvalidInputError,
    ),
    (
        "collect_due now as date",
        lambda c: c.system.collect_due(now=bad(date(2027, 5, 1))),
        InvalidInputError,
    ),
    ("collect_due limit zero", lambda c: c.system.collect_due(limit=0), InvalidInputError),
    ("collect_due limit bool", lambda c: c.system.collect_due(limit=bad(True)), InvalidInputError),
    ("collect_due limit text", lambda c: c.system.collect_due(limit=bad("5")), InvalidInputError),
    ("collect_due limit float", lambda c: c.system.collect_due(limit=bad(1.5)), InvalidInputError),
    ("enroll start as datetime", lambda c: _enroll(c, start=bad(AWARE)), InvalidInputError),
    ("enroll start as text", lambda c: _enroll(c, start=bad("2027-05-01")), InvalidInputError),
    (
        "reschedule to a datetime",
        lambda c: c.system.reschedule(c.open_item, bad(AWARE), actor="admin"),
        InvalidInputError,
    ),
    (
        "reschedule to text",
        lambda c: c.system.reschedule(c.open_item, bad("2027-05-01"), actor="admin"),
        InvalidInputError,
    ),
    (
        "quote on a datetime",
        lambda c: c.system.quote_cancellation(c.enrollment_id, on=bad(AWARE)),
        InvalidInputError,
    ),
    (
        "list items due from a datetime",
        lambda c: c.system.list_schedule_items(due_from=bad(AWARE)),
        InvalidInputError,
    ),
    (
        "unknown enrollment status",
        lambda c: c.system.list_enrollments(status="gone"),
        InvalidInputError,
    ),
]

UNKNOWN = "nope_000000"
UNKNOWN_ID_CASES: list[tuple[str, Call, type[EnrollpayError]]] = [
    ("enroll", lambda c: _enroll(c, product_id=UNKNOWN), ProductNotFoundError),
    ("get_product", lambda c: c.system.get_product(UNKNOWN), ProductNotFoundError),
    ("find_product", lambda c: c.system.find_product("course", UNKNOWN), ProductNotFoundError),
    ("deactivate_product", lambda c: c.system.deactivate_product(UNKNOWN), ProductNotFoundError),
    ("eligible_plans", lambda c: c.system.eligible_plans(UNKNOWN), ProductNotFoundError),
    (
        "preview_schedule",
        lambda c: c.system.preview_schedule(UNKNOWN, FullPayment()),
        ProductNotFoundError,
    ),
    ("payment_details", lambda c: c.system.payment_details(UNKNOWN), EnrollmentNotFoundError),
    ("get_enrollment", lambda c: c.system.get_enrollment(UNKNOWN), EnrollmentNotFoundError),
    (
        "cancel_enrollment",
        lambda c: c.system.cancel_enrollment(UNKNOWN, reason="r", actor="admin"),
        EnrollmentNotFoundError,
    ),
    (
        "quote_cancellation",
        lambda c: c.system.quote_cancellation(UNKNOWN),
        EnrollmentNotFoundError,
    ),
    ("pause", lambda c: c.system.pause(UNKNOWN, actor="admin"), EnrollmentNotFoundError),
    ("resume", lambda c: c.system.resume(UNKNOWN, actor="admin"), EnrollmentNotFoundError),
    (
        "record_manual_payment",
        lambda c: c.system.record_manual_payment(UNKNOWN, method="cash", actor="admin"),
        ScheduleItemNotFoundError,
    ),
    (
        "reschedule",
        lambda c: c.system.reschedule(UNKNOWN, date(2027, 6, 1), actor="admin"),
        ScheduleItemNotFoundError,
    ),
    (
        "waive_item",
        lambda c: c.system.waive_item(UNKNOWN, actor="admin"),
        ScheduleItemNotFoundError,
    ),
    ("retry_now", lambda c: c.system.retry_now(UNKNOWN), ScheduleItemNotFoundError),
    ("start_payment", lambda c: c.system.start_payment(UNKNOWN), ScheduleItemNotFoundError),
    (
        "refund_payment",
        lambda c: c.system.refund_payment(UNKNOWN, usd("1"), actor="admin"),
        PaymentNotFoundError,
    ),
]

TEXT_CASES: list[tuple[str, Call, type[EnrollpayError]]] = [
    ("user id too long", lambda c: _enroll(c, user_id=LONG_ID), InvalidInputError),
    ("user id empty", lambda c: _enroll(c, user_id=""), InvalidInputError),
    ("user id not a string", lambda c: _enroll(c, user_id=bad(42)), InvalidInputError),
    ("user id with NUL", lambda c: _enroll(c, user_id="u\x00"), InvalidInputError),
    (
        "user id with a newline",
        lambda c: _enroll(c, user_id="u\nforged log line"),
        InvalidInputError,
    ),
    ("product id too long", lambda c: _enroll(c, product_id=LONG_ID), InvalidInputError),
    ("metadata key too long", lambda c: _enroll(c, metadata={LONG_ID: "v"}), InvalidInputError),
    ("metadata value too long", lambda c: _enroll(c, metadata={"k": LONG_ID}), InvalidInputError),
    ("metadata value not text", lambda c: _enroll(c, metadata={"k": bad(1)}), InvalidInputError),
    ("metadata not a mapping", lambda c: _enroll(c, metadata=bad(["k", "v"])), InvalidInputError),
    (
        "metadata with too many keys",
        lambda c: _enroll(c, metadata={f"k{i}": "v" for i in range(51)}),
        InvalidInputError,
    ),
    ("metadata value with NUL", lambda c: _enroll(c, metadata={"k": "\x00"}), InvalidInputError),
    ("cancel reason too long", lambda c: _cancel(c, reason=LONG_TEXT), InvalidInputError),
    ("cancel reason empty", lambda c: _cancel(c, reason=" "), InvalidInputError),
    ("cancel actor too long", lambda c: _cancel(c, actor=LONG_ID), InvalidInputError),
    ("cancel actor empty", lambda c: _cancel(c, actor=""), InvalidInputError),
    ("refund reason too long", lambda c: _refund(c, usd("1"), reason=LONG_TEXT), InvalidInputError),
    ("refund reason not text", lambda c: _refund(c, usd("1"), reason=bad(7)), InvalidInputError),
    ("manual reference too long", lambda c: _manual(c, reference=LONG_TEXT), InvalidInputError),
    ("manual reference as bytes", lambda c: _manual(c, reference=bad(b"TXN")), InvalidInputError),
    ("manual notes too long", lambda c: _manual(c, notes="n" * 2001), InvalidInputError),
    ("manual method unknown", lambda c: _manual(c, method=bad("crypto")), InvalidInputError),
    (
        "pause reason too long",
        lambda c: c.system.pause(c.enrollment_id, actor="admin", reason=LONG_TEXT),
        InvalidInputError,
    ),
    (
        "waive reason too long",
        lambda c: c.system.waive_item(c.open_item, actor="admin", reason=LONG_TEXT),
        InvalidInputError,
    ),
    ("product name too long", lambda c: _product(c, name=LONG_TEXT), InvalidInputError),
    ("product type too long", lambda c: _product(c, product_type=LONG_ID), InvalidInputError),
    (
        "card-update user too long",
        lambda c: c.system.update_payment_method(LONG_ID, "pm_card_visa"),
        InvalidInputError,
    ),
]

CASES = [
    pytest.param(call, error, id=f"{group}: {name}")
    for group, table in (
        ("money", MONEY_CASES),
        ("price list", PRICE_LIST_CASES),
        ("time", TIME_CASES),
        ("unknown id", UNKNOWN_ID_CASES),
        ("text", TEXT_CASES),
    )
    for name, call, error in table
]


def builtin_of(error: type[EnrollpayError]) -> type[Exception]:
    """The builtin exception the documented error also is."""
    if issubclass(error, MoneyTypeError):
        return TypeError
    if issubclass(error, LookupError):
        return LookupError
    return ValueError


@pytest.mark.parametrize(("call", "error"), CASES)
def test_bad_input_is_refused_with_a_typed_error_and_writes_nothing(
    shared_world: World, ctx: Ctx, call: Call, error: type[EnrollpayError]
) -> None:
    """Each bad input raises its documented, typed error and leaves every table as it was."""
    world = shared_world
    before = full_state(world)

    with pytest.raises(error) as info:
        call(ctx)

    assert isinstance(info.value, EnrollpayError)
    assert isinstance(info.value, builtin_of(error))
    assert full_state(world) == before


CARDS = [
    "4242424242424242",
    "4242 4242 4242 4242",
    "4242-4242-4242-4242",
    " 4242424242424242\n",
    "4000056655665556",
    "5555555555554444",
    "378282246310005",
    "6011111111111117",
    "4222222222222",
    "6200000000000000005",
    "pm_4242424242424242",
    "card_4242 4242 4242 4242",
    "pm_card_4242424242424242",
]


@pytest.mark.parametrize("card", CARDS)
def test_card_numbers_are_never_accepted_as_payment_methods(
    shared_world: World, ctx: Ctx, card: str
) -> None:
    """A card number where a payment-method id belongs is refused, not echoed, not stored."""
    world = shared_world
    before = full_state(world)

    with pytest.raises(InvalidInputError) as info:
        ctx.system.update_payment_method("student", card)

    digits = re.sub(r"\D", "", card)
    shown = f"{info.value!s} {info.value!r} {info.value.args!r}"
    assert digits[:6] not in re.sub(r"\D", "", shown)
    assert digits[-4:] not in shown
    assert info.value.__cause__ is None
    assert full_state(world) == before


def test_a_card_number_passed_as_an_int_is_refused_without_echo(ctx: Ctx) -> None:
    """Even an integer card number is refused without being repeated in the error."""
    with pytest.raises(InvalidInputError) as info:
        ctx.system.update_payment_method("student", bad(4242424242424242))
    assert "4242" not in f"{info.value!s} {info.value!r}"


@pytest.mark.parametrize(
    "method", ["pm_card_visa", "pm_1NxYz2LkdIwHu7ix0a1b2c3d", "pm_card_mastercard"]
)
def test_real_payment_method_ids_are_accepted(world: World, method: str) -> None:
    """The card-number check does not refuse genuine payment-method ids."""
    assert world.system.update_payment_method("student", method) == []


MONEY_OF: list[tuple[str, Callable[[], object], type[EnrollpayError]]] = [
    ("float", lambda: Money.of(bad(19.99), "USD"), MoneyTypeError),
    ("bool", lambda: Money.of(bad(True), "USD"), MoneyTypeError),
    ("list", lambda: Money.of(bad([1]), "USD"), MoneyTypeError),
    ("None", lambda: Money.of(bad(None), "USD"), MoneyTypeError),
    ("cents of a cent", lambda: Money.of("10.001", "USD"), AmountPrecisionError),
    ("yen with decimals", lambda: Money.of("1.5", "JPY"), AmountPrecisionError),
    ("dinar beyond fils", lambda: Money.of("1.0001", "KWD"), AmountPrecisionError),
    ("tiny exponent", lambda: Money.of("1e-40", "USD"), AmountPrecisionError),
    ("huge exponent", lambda: Money.of("1e999999999", "USD"), InvalidAmountError),
    ("not a number", lambda: Money.of("abc", "USD"), InvalidAmountError),
    ("empty", lambda: Money.of("", "USD"), InvalidAmountError),
    ("comma decimal", lambda: Money.of("1,00", "USD"), InvalidAmountError),
    ("NaN", lambda: Money.of("NaN", "USD"), InvalidAmountError),
    ("Infinity", lambda: Money.of("Infinity", "USD"), InvalidAmountError),
    ("-Infinity", lambda: Money.of(Decimal("-Infinity"), "USD"), InvalidAmountError),
    ("unknown currency", lambda: Money.of("1", "ZZZ"), UnknownCurrencyError),
    ("currency not text", lambda: Money.of("1", bad(840)), UnknownCurrencyError),
    ("empty currency", lambda: Money.of("1", ""), UnknownCurrencyError),
    ("minor units as float", lambda: Money(bad(1.0), "USD"), MoneyTypeError),
    ("minor units as bool", lambda: Money(bad(True), "USD"), MoneyTypeError),
    ("minor units as text", lambda: Money(bad("100"), "USD"), MoneyTypeError),
    ("adding EUR to USD", lambda: usd("1") + EUR, CurrencyMismatchError),
    ("comparing USD with EUR", lambda: usd("1") < EUR, CurrencyMismatchError),
    ("adding a float", lambda: usd("1") + bad(1.0), MoneyTypeError),
    ("adding an int", lambda: usd("1") + bad(1), MoneyTypeError),
    ("allocating into zero parts", lambda: usd("1").allocate(0), InvalidAmountError),
    ("allocating by float ratios", lambda: usd("1").allocate(bad([0.5, 0.5])), MoneyTypeError),
]


@pytest.mark.parametrize(
    ("make", "error"), [(m, e) for _, m, e in MONEY_OF], ids=[n for n, _, _ in MONEY_OF]
)
def test_money_refuses_inexact_or_foreign_amounts(
    make: Callable[[], object], error: type[EnrollpayError]
) -> None:
    """Money never rounds silently, never takes floats, never mixes currencies."""
    with pytest.raises(error) as info:
        make()
    assert isinstance(info.value, builtin_of(error))


@pytest.mark.parametrize(
    "make",
    [lambda: FrozenClock(NAIVE), lambda: FrozenClock(AWARE).set(NAIVE)],
    ids=["start", "set"],
)
def test_frozen_clocks_refuse_naive_datetimes(make: Callable[[], object]) -> None:
    """A test clock cannot be made or moved to an instant without a time zone."""
    with pytest.raises(NaiveDatetimeError):
        make()


class NaiveClock:
    """A broken clock that returns naive datetimes."""

    def now(self) -> datetime:
        """A naive instant."""
        return NAIVE


def test_a_clock_returning_naive_datetimes_is_refused_before_anything_is_written(
    shared_world: World,
) -> None:
    """A host wiring a naive clock gets a typed error from the first operation, no writes."""
    world = shared_world
    system = PaymentSystem(store=world.store, gateway=world.fake, clock=NaiveClock())
    before = full_state(world)

    with pytest.raises(NaiveDatetimeError):
        system.register_product(product_type="c", product_id="p", name="N", price=usd("1"))
    with pytest.raises(NaiveDatetimeError):
        system.collect_due()

    assert full_state(world) == before


def test_a_system_without_a_gateway_refuses_gateway_operations_without_writing(
    world: World,
) -> None:
    """Manual-only systems refuse charging and webhooks with a typed error and no writes."""
    system = PaymentSystem(store=world.store, clock=world.clock)
    product = system.register_product(
        product_type="c", product_id="p", name="N", price=usd("10"), payment_plan=FullPayment()
    )
    result = system.enroll(user_id="u", product_id=product.id)
    before = full_state(world)

    for call in (
        lambda: system.start_payment(result.schedule[0].id),
        system.reconcile,
        lambda: system.handle_webhook(b"{}", {}),
        lambda: system.update_payment_method("u", "pm_card_visa"),
    ):
        with pytest.raises(EnrollpayError) as info:
            call()
        assert isinstance(info.value, ValueError)

    assert full_state(world) == before
