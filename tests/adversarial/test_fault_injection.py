"""A crash at any fault-injection point, then the normal recovery, ends as if nothing happened.

Each scenario (``collect_due`` of a due installment, ``handle_webhook`` of
``payment_intent.succeeded``, ``cancel_enrollment`` with a gateway refund,
``enroll``, and ``reconcile`` finding a dashboard refund whose webhook was
lost) runs twice: undisturbed on the in-memory store, and on the
store under test with the ``faults=`` hook raising :class:`Crash` once at
one named point of :data:`~enrollpay.service.base.FAULT_POINTS` that the
operation passes. Both runs then do the same recovery a deployment does
anyway: ``collect_due`` again once the lease has expired, ``reconcile``,
the gateway redelivering its webhooks, the student reloading the checkout.
The observable state (every enrollment's payment details: items, attempts,
payments, refunds; ids and instants normalised) must be the same, and the
fake gateway must have moved the money exactly once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from functools import cache
from typing import Any

import attrs
import pytest

from enrollpay import FullPayment, Installments, Money, PaymentPlan
from enrollpay.domain.records import Product
from enrollpay.ports import Store
from enrollpay.service.base import FAULT_POINTS
from enrollpay.storage.memory import InMemoryStore
from tests.adversarial.support import World, make_world, normal_details, usd


class Crash(Exception):  # noqa: N818 - it is what it simulates, not an error of the library
    """The process dies here (raised by the fault hook)."""


@attrs.define
class Faults:
    """The ``faults=`` hook: records the points passed and crashes once at ``target``."""

    target: str | None = None
    recording: bool = False
    passed: list[str] = attrs.Factory(list)
    fired: list[str] = attrs.Factory(list)

    def __call__(self, point: str) -> None:
        if not self.recording:
            return
        self.passed.append(point)
        if point == self.target and not self.fired:
            self.fired.append(point)
            raise Crash(point)

    @contextmanager
    def watching(self) -> Iterator[None]:
        """Record (and crash) only inside this block: the operation under test."""
        self.recording = True
        try:
            with suppress(Crash):
                yield
        finally:
            self.recording = False


def _course(world: World, plan: PaymentPlan) -> Product:
    """A 300.00 USD course sold on ``plan``."""
    return world.system.register_product(
        product_type="course", product_id="c", name="C", price=usd("300.00"), payment_plan=plan
    )


def _pay_first(world: World, product_id: str) -> str:
    result = world.system.enroll(user_id="student", product_id=product_id)
    assert result.client_secret is not None
    world.fake.complete_payment(result.client_secret)
    world.fake.deliver(world.system)
    return result.enrollment_id


def collect_scenario(world: World, faults: Faults) -> None:
    """collect_due charges the second of three monthly installments (the first was paid)."""
    product = _course(world, Installments(3))
    _pay_first(world, product.id)
    world.clock.advance(days=31)
    with faults.watching():
        world.system.collect_due()
    world.clock.advance(world.system.config.lease + timedelta(minutes=1))
    world.system.reconcile()
    world.system.collect_due()
    world.fake.deliver(world.system)
    world.system.reconcile()


def webhook_scenario(world: World, faults: Faults) -> None:
    """handle_webhook applies payment_intent.succeeded of the first payment."""
    product = _course(world, Installments(3))
    result = world.system.enroll(user_id="student", product_id=product.id)
    assert result.client_secret is not None
    world.fake.complete_payment(result.client_secret)
    (hook,) = world.fake.take_events()
    assert hook.event_type == "payment_intent.succeeded"
    with faults.watching():
        world.system.handle_webhook(hook.payload, hook.headers)
    # The gateway got no 2xx (or did, and redelivers anyway): it sends the event again.
    world.clock.advance(minutes=1)
    again = world.system.handle_webhook(hook.payload, world.fake.sign(hook.payload))
    assert again.result in ("processed", "duplicate")
    world.system.reconcile()


def cancel_scenario(world: World, faults: Faults) -> None:
    """cancel_enrollment refunds a 300.00 USD full payment through the gateway."""
    product = _course(world, FullPayment())
    enrollment_id = _pay_first(world, product.id)
    world.clock.advance(days=1)
    with faults.watching():
        world.system.cancel_enrollment(enrollment_id, reason="moving abroad", actor="admin")
    world.system.reconcile()
    world.fake.deliver(world.system)
    world.system.reconcile()


def enroll_scenario(world: World, faults: Faults) -> None:
    """Enrollment writes the first on-session attempt, then opens the payment at the gateway."""
    product = _course(world, Installments(3))
    with faults.watching():
        world.system.enroll(user_id="student", product_id=product.id)
    # The student reloads the checkout page (which calls start_payment) and pays.
    item = world.system.list_schedule_items()[0]
    session = world.system.start_payment(item.id)
    world.fake.complete_payment(session.client_secret)
    world.fake.deliver(world.system)
    world.system.reconcile()


def reconcile_scenario(world: World, faults: Faults) -> None:
    """A reconcile records a refund made in the dashboard whose webhook was lost.

    A crash after the refund is stored but before the cursors move: the next
    run reads the refund again and finds it recorded.
    """
    product = _course(world, Installments(3))
    _pay_first(world, product.id)
    (charge,) = world.fake.charges
    world.clock.advance(days=2)
    world.fake.refund_from_dashboard(charge.gateway_payment_id, usd("40.00"))
    world.fake.take_events()  # the charge.refunded webhook never arrives
    with faults.watching():
        world.system.reconcile()
    world.system.reconcile()


Scenario = Callable[[World, Faults], None]
SCENARIOS: dict[str, Scenario] = {
    "collect_due": collect_scenario,
    "handle_webhook": webhook_scenario,
    "cancel_enrollment": cancel_scenario,
    "enroll": enroll_scenario,
    "reconcile": reconcile_scenario,
}
#: The fault points each operation passes, in order (checked, not assumed, below).
REACHED: dict[str, tuple[str, ...]] = {
    "collect_due": (
        "after_attempt_written",
        "after_gateway_answered",
        "before_commit",
        "after_commit",
    ),
    "handle_webhook": ("webhook_before_commit", "webhook_after_commit"),
    "cancel_enrollment": ("after_refund_written", "after_refund_answered"),
    "enroll": ("after_attempt_written",),
    "reconcile": ("drift_before_cursor",),
}
CASES = [(name, point) for name, points in REACHED.items() for point in points]


@cache
def undisturbed(name: str) -> tuple[Any, int, int]:
    """The normal form, charges and refunds of an undisturbed run (in memory)."""
    faults = Faults()
    world = make_world(InMemoryStore(), faults=faults)
    SCENARIOS[name](world, faults)
    assert world.system.verify_audit_chain().ok
    return normal_details(world.system), len(world.fake.charges), _refunds(world)


def _refunds(world: World) -> int:
    return sum(len(world.fake.refunds_for(c.gateway_payment_id)) for c in world.fake.charges)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_each_operation_passes_its_fault_points_in_order(name: str) -> None:
    """Every point of FAULT_POINTS is passed by one of the operations, in this order."""
    faults = Faults()
    SCENARIOS[name](make_world(InMemoryStore(), faults=faults), faults)

    assert tuple(faults.passed) == REACHED[name]
    assert {p for points in REACHED.values() for p in points} == set(FAULT_POINTS)


@pytest.mark.parametrize(("name", "point"), CASES, ids=[f"{n}-{p}" for n, p in CASES])
def test_a_crash_then_recovery_ends_like_an_undisturbed_run(
    store_factory: Callable[[], Store], name: str, point: str
) -> None:
    """Crash once at the point, recover as usual: same state, one charge, one refund at most."""
    expected, charges, refunds = undisturbed(name)
    faults = Faults(target=point)
    world = make_world(store_factory(), faults=faults)

    SCENARIOS[name](world, faults)

    assert faults.fired == [point]
    assert normal_details(world.system) == expected
    assert len(world.fake.charges) == charges
    per_item = Counter(str(c.idempotency_key).split(":attempt:")[0] for c in world.fake.charges)
    assert set(per_item.values()) == {1}  # every item charged exactly once
    assert _refunds(world) == refunds
    assert world.system.verify_audit_chain().ok


def test_the_undisturbed_runs_move_money_once() -> None:
    """The reference runs move money as the scenarios say: charges and refunds counted."""
    collect, webhook, cancel, enroll, reconcile = (undisturbed(n) for n in SCENARIOS)

    assert collect[1:] == (2, 0)
    assert webhook[1:] == (1, 0)
    assert cancel[1:] == (1, 1)
    assert enroll[1:] == (1, 0)
    assert reconcile[1:] == (1, 1)
    (details,) = cancel[0]
    assert [r["amount"] for r in details["refunds"]] == [Money.of("300.00", "USD")]
    assert [r["status"] for r in details["refunds"]] == ["succeeded"]
    (resynced,) = reconcile[0]
    assert [(r["amount"], r["status"]) for r in resynced["refunds"]] == [
        (Money.of("40.00", "USD"), "succeeded")
    ]
