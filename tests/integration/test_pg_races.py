"""Races on PostgreSQL that must not lose or double money (issue 7).

Each test gives every racer its own :class:`PaymentSystem` over its own
:class:`SqlStore` (its own connection pool, as separate processes would
have) on one fresh database, and repeats the race on fresh enrollments.
Threads start together at a barrier ("free" races, whose interleaving is
up to the scheduler), or one racer is held at a chosen point until the
other has finished ("forced" orderings, so that every interleaving that
matters is shown to happen and to end well):

- Two partial refunds of one payment whose sum exceeds it: one succeeds,
  the other raises ``RefundExceedsPaidError`` and writes nothing, and the
  gateway sees one refund. Forced: both pass the service's own check of
  the refundable amount before either writes, so the store's row lock on
  the payment decides.
- A manual payment against an off-session charge of the same item. The
  item is paid once and the books equal the money the gateway moved plus
  the manual payments accepted. Per ordering, with a manual payment of
  the whole 100.00 due or of 40.00 of it:

  ============  ===============================  ===============================
  ordering      full manual payment              partial manual payment
  ============  ===============================  ===============================
  charge_first  manual refused (``ItemNot-       the same
                PayableError``, being charged);
                the charge pays the item
  lease_first   manual pays the item; the        manual applied; the worker
                worker, its lease gone, skips    (its lease kept) charges the
                it and charges nothing           rest
  manual_first  manual pays the item;            manual applied; ``collect_due``
                ``collect_due`` skips the locked skips the locked item (the next
                item, ``retry_now`` waits for    run charges the rest),
                the lock and finds it paid       ``retry_now`` waits, then
                (``InvalidStateError``)          charges the rest
  ============  ===============================  ===============================

  Both never move the item's money twice here (the manual payment checks
  for a charge in flight under the item's lock, and a worker re-reads its
  lease under the same lock); were they to, the excess would have to be
  flagged ``payment.excess`` or ``payment.unapplied``, which the book
  check demands too.
- Two workers (``collect_due`` and/or ``retry_now``) on one due item: one
  gateway charge, one payment, the item paid once, no attempt left open.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any

import attrs
import pytest
import sqlalchemy as sa

from enrollpay import (
    AttemptStatus,
    CollectionReport,
    FullPayment,
    Installments,
    ItemStatus,
    Money,
    PaymentSystem,
)
from enrollpay.domain.records import Payment, Product, Refund, ScheduleItem
from enrollpay.errors import InvalidStateError, ItemNotPayableError, RefundExceedsPaidError
from enrollpay.ports import ChargeResult, Store
from enrollpay.service.results import ItemOutcome
from enrollpay.storage.sql import SqlStore
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds
from tests.support.stores import WrappedStore

pytestmark = pytest.mark.postgres

START = datetime(2027, 3, 15, 9, 0, tzinfo=UTC)
#: Rounds of each free race (fresh enrollments each time).
ROUNDS = 10
#: Rounds of each forced ordering (deterministic, so a few show it repeats).
FORCED_ROUNDS = 3
#: How long an off-session charge takes at the test gateway, so that racers overlap.
CHARGE_DELAY = 0.05
#: A guard against hangs only: no assertion is about how long anything took.
WAIT = 30.0
_OPEN_ATTEMPTS = frozenset(
    {AttemptStatus.PENDING, AttemptStatus.UNKNOWN, AttemptStatus.REQUIRES_ACTION}
)


def usd(amount: str) -> Money:
    """Dollars."""
    return Money.of(amount, "USD")


# -- test doubles ----------------------------------------------------------------------


class RaceGateway(FakeGateway):
    """The fake gateway with slow off-session charges and a one-shot hook before one.

    ``FakeGateway`` refuses a charge whose idempotency key a concurrent
    charge is still using (as Stripe answers 409: outcome unknown to that
    caller). Here the whole call is atomic instead, so a second call with
    the key waits and replays the first, and the delay comes before it so
    that concurrent calls overlap.
    """

    def __init__(self, *, clock: FrozenClock, delay: float = CHARGE_DELAY) -> None:
        super().__init__(clock=clock)
        self.delay = delay
        self._atomic = threading.Lock()
        self._hook_lock = threading.Lock()
        self._before_charge: Callable[[], None] | None = None

    def before_next_charge(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` (once) when the next off-session charge arrives, before it is made."""
        with self._hook_lock:
            self._before_charge = hook

    def charge_off_session(
        self,
        *,
        customer_id: str,
        payment_method_id: str,
        amount: Money,
        idempotency_key: str,
        metadata: Mapping[str, str],
        description: str = "",
    ) -> ChargeResult:
        """Run the hook if armed, wait ``delay``, then charge atomically."""
        with self._hook_lock:
            hook, self._before_charge = self._before_charge, None
        if hook is not None:
            hook()
        time.sleep(self.delay)
        with self._atomic:
            return super().charge_off_session(
                customer_id=customer_id,
                payment_method_id=payment_method_id,
                amount=amount,
                idempotency_key=idempotency_key,
                metadata=metadata,
                description=description,
            )

    def charge_calls(self, item_id: str) -> int:
        """Off-session charge requests (replays included) for an item's attempts."""
        prefix = f"item:{item_id}:"
        return sum(
            1
            for call in self.calls
            if call.verb == "charge_off_session"
            and str(call.params.get("idempotency_key", "")).startswith(prefix)
        )

    def refund_calls(self, gateway_payment_id: str) -> int:
        """Refund requests for one payment."""
        return sum(
            1
            for call in self.calls
            if call.verb == "refund" and call.params.get("gateway_payment_id") == gateway_payment_id
        )


class HookedIds:
    """An id factory that runs a one-shot hook when an id with a given prefix is made.

    The service makes a payment's and a refund's id inside the transaction
    that writes it, after its checks: a hook there holds the racer at that
    point (with the item's locks, for a manual payment).
    """

    def __init__(self, ids: SequentialIds) -> None:
        self._ids = ids
        self._hooks: dict[str, Callable[[], None]] = {}
        self._lock = threading.Lock()

    def on_next(self, prefix: str, hook: Callable[[], None]) -> None:
        """Run ``hook`` when the next id with ``prefix`` is made."""
        with self._lock:
            self._hooks[prefix] = hook

    def __call__(self, prefix: str) -> str:
        """The next id, after the hook armed for ``prefix``, if any."""
        with self._lock:
            hook = self._hooks.pop(prefix, None)
        if hook is not None:
            hook()
        return self._ids(prefix)


class PausingStore(WrappedStore):
    """A store that runs a one-shot hook right after its next committed transaction."""

    def __init__(self, inner: SqlStore) -> None:
        super().__init__(inner)
        self._hook: Callable[[], None] | None = None

    def after_next_commit(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` once the next transaction has committed."""
        self._hook = hook

    def committed(self) -> None:
        """Run the hook, if one is armed."""
        hook, self._hook = self._hook, None
        if hook is not None:
            hook()


# -- the setting -------------------------------------------------------------------------


@attrs.define
class Race:
    """One database, clock and gateway; a system (own store, own pool) per racer."""

    url: str
    clock: FrozenClock
    fake: RaceGateway
    ids: SequentialIds
    stores: list[SqlStore] = attrs.Factory(list)

    def store(self) -> SqlStore:
        """A new store (and connection pool) on the race's database."""
        store = SqlStore.from_url(self.url)
        self.stores.append(store)
        return store

    def system(
        self, *, store: Store | None = None, ids: Callable[[str], str] | None = None
    ) -> PaymentSystem:
        """A payment system of its own over the shared database, gateway and clock."""
        return PaymentSystem(
            store=store or self.store(),
            gateway=self.fake,
            clock=self.clock,
            ids=ids or self.ids,
        )

    def close(self) -> None:
        """Close every store's pool."""
        for store in self.stores:
            store.close()


@pytest.fixture
def race(pg_url: str) -> Iterator[Race]:
    """A race on a fresh database (``pg_url`` makes one per test)."""
    clock = FrozenClock(START)
    setting = Race(pg_url, clock, RaceGateway(clock=clock), SequentialIds())
    yield setting
    setting.close()


@attrs.frozen
class Ran:
    """What one racer's call returned, or raised."""

    value: object = None
    error: BaseException | None = None


def run_together(*calls: Callable[[], object]) -> list[Ran]:
    """Run each call in its own thread, released together by a barrier; wait for all."""
    start = threading.Barrier(len(calls), timeout=WAIT)
    results: list[Ran] = [Ran() for _ in calls]

    def run(slot: int, call: Callable[[], object]) -> None:
        start.wait()
        try:
            results[slot] = Ran(value=call())
        except BaseException as error:
            results[slot] = Ran(error=error)

    threads = [threading.Thread(target=run, args=(n, c)) for n, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=3 * WAIT)
        assert not thread.is_alive(), "a racer hung"
    return results


def after(delay: float, call: Callable[[], object]) -> object:
    """Sleep ``delay`` seconds, then call (to stagger one racer; nothing is timed)."""
    time.sleep(delay)
    return call()


def wait_until(ready: Callable[[], bool], what: str) -> None:
    """Poll ``ready`` until it is true (a hang guard fails the test after ``WAIT``)."""
    deadline = time.monotonic() + WAIT
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.005)


def waiting_for_a_lock(store: SqlStore) -> bool:
    """True when a session on the test's database waits for a row (or advisory) lock."""
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    with store.engine.connect() as conn:
        return int(conn.execute(query).scalar_one()) > 0


def meet(barrier: threading.Barrier) -> None:
    """Wait at ``barrier`` for the other racer."""
    barrier.wait()


# -- refunds -------------------------------------------------------------------------


def paid_payment(
    race: Race, admin: PaymentSystem, product: Product, user: str, how: str
) -> Payment:
    """Enroll ``user`` and pay the whole price by card (``gateway``) or in cash."""
    enrolled = admin.enroll(user_id=user, product_id=product.id)
    if how == "gateway":
        assert enrolled.client_secret is not None
        race.fake.complete_payment(enrolled.client_secret)
        race.fake.deliver(admin)
        (payment,) = admin.payment_details(enrolled.enrollment_id).payments
        return payment
    (item,) = admin.list_schedule_items(enrollment_id=enrolled.enrollment_id)
    return admin.record_manual_payment(item.id, method="cash", actor="registrar")


@pytest.mark.parametrize("how", ["gateway", "cash"])
@pytest.mark.parametrize("meeting", ["free", "past_the_check"])
def test_concurrent_partial_refunds_over_the_payment_refuse_one(
    race: Race, how: str, meeting: str
) -> None:
    """Two admins refund 200.00 of a 300.00 payment at once: one refund, one typed refusal.

    ``free``: released together, ten times. ``past_the_check``: both racers
    are held after the service has checked the refundable amount (both saw
    300.00 left) until the other is there too, so the store's lock on the
    payment row alone must refuse the second. The loser raises
    ``RefundExceedsPaidError`` and writes nothing; the gateway refunds once.
    """
    admin = race.system()
    product = admin.register_product(
        product_type="course",
        product_id="c-refund",
        name="Course",
        price=usd("300.00"),
        payment_plan=FullPayment(),
    )
    racer_ids = [HookedIds(race.ids), HookedIds(race.ids)]
    racers = [race.system(ids=ids) for ids in racer_ids]
    for round_ in range(ROUNDS):
        payment = paid_payment(race, admin, product, f"u-{round_}", how)
        assert payment.amount == usd("300.00")
        audit_before = admin.audit_log()[-1].seq
        if meeting == "past_the_check":
            both_checked = threading.Barrier(2, timeout=WAIT)
            for ids in racer_ids:
                # The refund's id is made after the check and before the write.
                ids.on_next("ref", partial(meet, both_checked))
        results = run_together(
            partial(racers[0].refund_payment, payment.id, usd("200.00"), actor="admin-a"),
            partial(racers[1].refund_payment, payment.id, usd("200.00"), actor="admin-b"),
        )
        (won,) = [r.value for r in results if r.error is None]
        (lost,) = [r.error for r in results if r.error is not None]
        assert isinstance(won, Refund)
        assert (won.status, won.amount, won.payment_id) == ("succeeded", usd("200.00"), payment.id)
        assert isinstance(lost, RefundExceedsPaidError), lost
        assert (lost.requested, lost.refundable) == (usd("200.00"), usd("100.00"))
        details = admin.payment_details(payment.enrollment_id)
        assert details.refunds == (won,)
        assert (details.paid, details.refunded) == (usd("300.00"), usd("200.00"))
        # The loser wrote nothing: every entry of the round is about the winner's refund.
        written = [e for e in admin.audit_log() if e.seq > audit_before]
        assert written
        assert {(e.entity_type, e.entity_id) for e in written} == {("refund", won.id)}
        if how == "gateway":
            assert payment.gateway_payment_id is not None
            (at_gateway,) = race.fake.refunds_for(payment.gateway_payment_id)
            assert at_gateway.amount == usd("200.00")
            assert race.fake.refund_calls(payment.gateway_payment_id) == 1
        race.fake.deliver(admin)  # the charge.refunded webhooks record nothing more
        assert admin.payment_details(payment.enrollment_id).refunds == (won,)
    refunds_at_gateway = [c for c in race.fake.calls if c.verb == "refund"]
    assert len(refunds_at_gateway) == (ROUNDS if how == "gateway" else 0)
    assert admin.verify_audit_chain().ok


# -- a due installment -----------------------------------------------------------------


def installments_product(admin: PaymentSystem) -> Product:
    """200.00 in two monthly installments of 100.00."""
    return admin.register_product(
        product_type="course",
        product_id="c-installments",
        name="Course",
        price=usd("200.00"),
        payment_plan=Installments(2),
    )


def due_installment(race: Race, admin: PaymentSystem, product: Product, user: str) -> ScheduleItem:
    """Enroll ``user``, pay the first installment by card (saved), make the second due."""
    enrolled = admin.enroll(user_id=user, product_id=product.id)
    assert enrolled.client_secret is not None
    race.fake.complete_payment(enrolled.client_secret)
    race.fake.deliver(admin)
    race.clock.advance(days=31)
    first, second = admin.list_schedule_items(enrollment_id=enrolled.enrollment_id)
    assert first.status == ItemStatus.PAID
    assert second.status == ItemStatus.SCHEDULED
    assert second.due <= race.clock.now().date()
    assert second.amount == usd("100.00")
    return second


def flagged(system: PaymentSystem, action: str) -> dict[str, dict[str, Any]]:
    """Audit data of ``action`` entries, by payment id."""
    return {e.entity_id: dict(e.data) for e in system.audit_log() if e.action == action}


def check_books(
    race: Race,
    admin: PaymentSystem,
    due: ScheduleItem,
    *,
    charges_before: int,
    manual: list[Payment],
) -> int:
    """The item is paid once and its money adds up; returns how many payments moved money.

    Payments recorded minus refunds equal what the gateway moved for the
    item (its charges since ``charges_before``, less its refunds) plus the
    manual payments the racers were told were recorded. Money beyond the
    item's amount must be flagged (``payment.excess`` or
    ``payment.unapplied``), never dropped; no attempt is left open.
    """
    item_id = due.id
    details = admin.payment_details(due.enrollment_id)
    (item,) = [i for i in details.items if i.id == item_id]
    payments = [p for p in details.payments if p.item_id == item_id]
    refunds = [
        r
        for r in details.refunds
        if r.status != "failed" and r.payment_id in {p.id for p in payments}
    ]
    charges = race.fake.charges[charges_before:]
    at_gateway = sum(c.amount.minor for c in charges) - sum(
        r.amount.minor for c in charges for r in race.fake.refunds_for(c.gateway_payment_id)
    )
    by_hand = sum(p.amount.minor for p in manual)
    on_books = sum(p.amount.minor for p in payments) - sum(r.amount.minor for r in refunds)
    assert on_books == at_gateway + by_hand, (payments, charges, manual)
    assert all(str(c.idempotency_key).startswith(f"item:{item_id}:") for c in charges), charges
    assert {c.gateway_payment_id for c in charges} <= {p.gateway_payment_id for p in payments}
    assert {p.id for p in manual} <= {p.id for p in payments}
    unapplied = flagged(admin, "payment.unapplied")
    excess = flagged(admin, "payment.excess")
    applied = [p for p in payments if p.id not in unapplied]
    assert sum(p.amount.minor for p in applied) == item.amount_paid.minor
    over = sum(excess[p.id]["excess"]["minor"] for p in applied if p.id in excess)
    assert item.status == ItemStatus.PAID
    assert item.amount_paid.minor - over == item.amount.minor  # paid once; any excess flagged
    attempts = [a for a in details.attempts if a.item_id == item_id]
    assert not [a for a in attempts if a.status in _OPEN_ATTEMPTS], attempts
    return len(charges) + len(manual)


def run_worker(system: PaymentSystem, worker: str, item_id: str) -> object:
    """What a worker does to the item: a ``collect_due`` run or ``retry_now``."""
    if worker == "collect_due":
        return system.collect_due()
    return system.retry_now(item_id, actor="worker")


def outcome_of(ran: Ran, item_id: str) -> str:
    """A worker's result in one word: succeeded, skipped, nothing (empty run) or refused."""
    if isinstance(ran.error, InvalidStateError):
        return "refused"
    assert ran.error is None, ran.error
    if isinstance(ran.value, CollectionReport):
        if not ran.value.outcomes:
            return "nothing"
        (outcome,) = ran.value.outcomes
        assert outcome.item_id == item_id
        return outcome.result
    assert isinstance(ran.value, ItemOutcome), ran.value
    assert ran.value.item_id == item_id
    return ran.value.result


def finish(race: Race, admin: PaymentSystem) -> None:
    """What happens after a race anyway: the next collection run and the webhooks."""
    admin.collect_due()
    race.fake.deliver(admin)


# -- a manual payment racing an off-session charge ---------------------------------------


#: What the registrar pays by hand: everything outstanding, or 40.00 of the 100.00.
MANUAL_AMOUNTS: dict[str, Money | None] = {"full": None, "partial": usd("40.00")}
#: (manual payment, worker) outcomes a free race may end in, by manual amount.
FREE_RACE_ENDINGS = {
    "full": {
        ("refused", "succeeded"),  # the charge was in flight: the manual payment is refused
        ("recorded", "skipped"),  # the worker had leased the item: it lost its lease
        ("recorded", "nothing"),  # collect_due found the item locked or paid
        ("recorded", "refused"),  # retry_now found it paid
    },
    "partial": {
        ("refused", "succeeded"),
        ("recorded", "succeeded"),  # the worker charged the rest
        ("recorded", "nothing"),  # collect_due found the item locked: the next run charges it
    },
}


def pay_by_hand(system: PaymentSystem, item_id: str, amount: Money | None) -> Payment:
    """The registrar records a check for the item."""
    return system.record_manual_payment(item_id, method="check", actor="registrar", amount=amount)


def recorded(manual: Ran) -> list[Payment]:
    """The manual payment a racer was told was recorded (none if it was refused)."""
    if manual.error is not None:
        assert isinstance(manual.error, ItemNotPayableError), manual.error
        return []
    assert isinstance(manual.value, Payment), manual.value
    return [manual.value]


@pytest.mark.parametrize("worker", ["collect_due", "retry_now"])
@pytest.mark.parametrize("paying", ["full", "partial"])
def test_a_manual_payment_racing_a_charge_leaves_the_item_paid_once(
    race: Race, paying: str, worker: str
) -> None:
    """A manual payment and a worker on one due item, released together, ten times.

    Whatever the interleaving, the item ends paid once, every cent the
    gateway or the registrar took is on the books, the item's outstanding
    amount moves once (a full manual payment and a charge never both
    apply), and each round ends in one of the documented ways.
    """
    admin = race.system()
    product = installments_product(admin)
    manual_system, worker_system = race.system(), race.system()
    amount = MANUAL_AMOUNTS[paying]
    for round_ in range(ROUNDS):
        item = due_installment(race, admin, product, f"u-{round_}")
        charges_before = len(race.fake.charges)
        # Stagger the registrar by 0, 1/4 or 1/2 of a charge's time, so that rounds
        # land on both sides of the moment the worker writes its attempt.
        stagger = (round_ % 3) * CHARGE_DELAY / 4
        manual, work = run_together(
            partial(after, stagger, partial(pay_by_hand, manual_system, item.id, amount)),
            partial(run_worker, worker_system, worker, item.id),
        )
        taken = recorded(manual)
        ending = ("recorded" if taken else "refused", outcome_of(work, item.id))
        assert ending in FREE_RACE_ENDINGS[paying], ending
        finish(race, admin)
        moved = check_books(race, admin, item, charges_before=charges_before, manual=taken)
        charged = race.fake.charge_calls(item.id)
        if paying == "full":
            assert (moved, charged) == ((1, 0) if taken else (1, 1))
        else:
            assert charged == 1  # the rest, or all of it when the manual payment was refused
            assert moved == 1 + len(taken)
            assert race.fake.charges[-1].amount == usd("60.00" if taken else "100.00")
    assert admin.verify_audit_chain().ok


@attrs.define
class ForcedRound:
    """One race between a manual payment and a worker in a chosen order."""

    race: Race
    admin: PaymentSystem
    manual_ids: HookedIds
    manual_system: PaymentSystem
    pausing: PausingStore
    worker_system: PaymentSystem
    probe: SqlStore
    item: ScheduleItem
    amount: Money | None
    worker: str
    arrived: threading.Event = attrs.Factory(threading.Event)
    go_on: threading.Event = attrs.Factory(threading.Event)
    worker_done: threading.Event = attrs.Factory(threading.Event)
    #: manual_first: whether the worker finished (rather than queued) while the item was held.
    worker_done_while_held: bool | None = None

    def pay(self) -> Payment:
        """Record the manual payment once the worker is where the ordering wants it."""
        assert self.arrived.wait(WAIT)
        try:
            return pay_by_hand(self.manual_system, self.item.id, self.amount)
        finally:
            self.go_on.set()

    def work(self) -> object:
        """Run the worker on the item."""
        try:
            return run_worker(self.worker_system, self.worker, self.item.id)
        finally:
            self.worker_done.set()

    def hold_worker(self) -> None:
        """Called by the worker: let the manual payment run, wait until it is done."""
        self.arrived.set()
        assert self.go_on.wait(WAIT)

    def leased(self) -> None:
        """After the worker's lease committed: check that premise, then hold it."""
        items = self.admin.list_schedule_items(enrollment_id=self.item.enrollment_id)
        (now,) = [i for i in items if i.id == self.item.id]
        assert now.lease_until is not None
        attempts = self.admin.payment_details(self.item.enrollment_id).attempts
        assert not [a for a in attempts if a.item_id == self.item.id]
        self.hold_worker()

    def holding_the_item(self) -> None:
        """Inside the manual payment's transaction, its checks passed, the item locked."""
        self.go_on.set()
        wait_until(
            lambda: self.worker_done.is_set() or waiting_for_a_lock(self.probe),
            "the worker to finish or to queue behind the manual payment",
        )
        self.worker_done_while_held = self.worker_done.is_set()

    def work_after_manual(self) -> object:
        """Start the worker once the manual payment holds the item."""
        assert self.go_on.wait(WAIT)
        return self.work()

    def run(self, ordering: str) -> tuple[Ran, Ran]:
        """Race the two in ``ordering``; the manual payment's and the worker's results."""
        if ordering == "charge_first":
            self.race.fake.before_next_charge(self.hold_worker)
            manual, work = run_together(self.pay, self.work)
        elif ordering == "lease_first":
            self.pausing.after_next_commit(self.leased)
            manual, work = run_together(self.pay, self.work)
        else:
            self.manual_ids.on_next("pay", self.holding_the_item)
            self.arrived.set()
            manual, work = run_together(self.pay, self.work_after_manual)
        return manual, work


#: (worker outcome, charges during the race, payments that moved money) per forced order.
FORCED_ENDINGS = {
    ("charge_first", "full", "collect_due"): ("succeeded", 1, 1),
    ("charge_first", "full", "retry_now"): ("succeeded", 1, 1),
    ("charge_first", "partial", "collect_due"): ("succeeded", 1, 1),
    ("charge_first", "partial", "retry_now"): ("succeeded", 1, 1),
    ("lease_first", "full", "collect_due"): ("skipped", 0, 1),
    ("lease_first", "full", "retry_now"): ("skipped", 0, 1),
    ("lease_first", "partial", "collect_due"): ("succeeded", 1, 2),
    ("lease_first", "partial", "retry_now"): ("succeeded", 1, 2),
    ("manual_first", "full", "collect_due"): ("nothing", 0, 1),
    ("manual_first", "full", "retry_now"): ("refused", 0, 1),
    ("manual_first", "partial", "collect_due"): ("nothing", 0, 2),  # the next run charges
    ("manual_first", "partial", "retry_now"): ("succeeded", 1, 2),
}


@pytest.mark.parametrize("worker", ["collect_due", "retry_now"])
@pytest.mark.parametrize("paying", ["full", "partial"])
@pytest.mark.parametrize("ordering", ["charge_first", "lease_first", "manual_first"])
def test_a_manual_payment_racing_a_charge_in_each_order(
    race: Race, ordering: str, paying: str, worker: str
) -> None:
    """Each interleaving that matters, forced, ends as the module's table says.

    - ``charge_first``: the worker's charge is at the gateway when the
      manual payment is recorded: it is refused (``ItemNotPayableError``).
    - ``lease_first``: the worker has leased the item but written no
      attempt yet when the manual payment is recorded.
    - ``manual_first``: the manual payment holds the item's lock (checks
      passed, not yet committed) while the worker runs.
    """
    admin = race.system()
    product = installments_product(admin)
    manual_ids = HookedIds(race.ids)
    manual_system = race.system(ids=manual_ids)
    pausing = PausingStore(race.store())
    worker_system = race.system(store=pausing)
    probe = race.store()
    result_expected, charged_expected, moved_expected = FORCED_ENDINGS[ordering, paying, worker]
    for round_ in range(FORCED_ROUNDS):
        item = due_installment(race, admin, product, f"u-{round_}")
        charges_before = len(race.fake.charges)
        forced = ForcedRound(
            race=race,
            admin=admin,
            manual_ids=manual_ids,
            manual_system=manual_system,
            pausing=pausing,
            worker_system=worker_system,
            probe=probe,
            item=item,
            amount=MANUAL_AMOUNTS[paying],
            worker=worker,
        )
        manual, work = forced.run(ordering)
        taken = recorded(manual)
        assert outcome_of(work, item.id) == result_expected
        assert race.fake.charge_calls(item.id) == charged_expected
        if ordering == "charge_first":
            assert isinstance(manual.error, ItemNotPayableError)
            assert manual.error.status == "being charged"
        else:
            assert len(taken) == 1
        if ordering == "manual_first":
            # collect_due skipped the locked item and returned; retry_now queued behind it.
            assert forced.worker_done_while_held == (worker == "collect_due")
        finish(race, admin)
        assert check_books(race, admin, item, charges_before=charges_before, manual=taken) == (
            moved_expected
        )
        if paying == "partial" and taken:
            assert race.fake.charges[-1].amount == usd("60.00")  # only the rest was charged
    assert admin.verify_audit_chain().ok


# -- two workers on one item -------------------------------------------------------------


PAIRS = [
    ("collect_due", "collect_due"),
    ("retry_now", "retry_now"),
    ("collect_due", "retry_now"),
    ("retry_now", "collect_due"),
]


def second_during_first_charge(
    race: Race, systems: tuple[PaymentSystem, PaymentSystem], kinds: tuple[str, str], item_id: str
) -> list[Ran]:
    """Run the first worker; while its charge is at the gateway, run the second."""
    charging, second_done = threading.Event(), threading.Event()

    def hold() -> None:
        charging.set()
        assert second_done.wait(WAIT)

    def run_second() -> object:
        assert charging.wait(WAIT)
        try:
            return run_worker(systems[1], kinds[1], item_id)
        finally:
            second_done.set()

    race.fake.before_next_charge(hold)
    return run_together(partial(run_worker, systems[0], kinds[0], item_id), run_second)


@pytest.mark.parametrize(("first", "second"), PAIRS, ids=["-".join(p) for p in PAIRS])
@pytest.mark.parametrize("meeting", ["free", "during_the_charge"])
def test_two_workers_on_one_item_charge_it_once(
    race: Race, meeting: str, first: str, second: str
) -> None:
    """Two workers take on the same due item: one charge at the gateway, one payment.

    ``free``: released together, ten times. ``during_the_charge``: the
    second worker runs while the first one's charge is at the gateway. The
    loser finds nothing to collect (``collect_due``) or is refused
    (``retry_now``: ``InvalidStateError``); no attempt is left open.
    """
    admin = race.system()
    product = installments_product(admin)
    systems = race.system(), race.system()
    kinds = (first, second)
    for round_ in range(ROUNDS if meeting == "free" else FORCED_ROUNDS):
        item = due_installment(race, admin, product, f"u-{round_}")
        charges_before = len(race.fake.charges)
        if meeting == "free":
            results = run_together(
                partial(run_worker, systems[0], first, item.id),
                partial(run_worker, systems[1], second, item.id),
            )
        else:
            results = second_during_first_charge(race, systems, kinds, item.id)
        outcomes = [outcome_of(r, item.id) for r in results]
        assert race.fake.charge_calls(item.id) == 1
        assert len(race.fake.charges) == charges_before + 1
        winner = outcomes.index("succeeded")
        loser = 1 - winner
        assert outcomes[loser] == ("nothing" if kinds[loser] == "collect_due" else "refused")
        if meeting == "during_the_charge":
            assert winner == 0
        finish(race, admin)
        assert check_books(race, admin, item, charges_before=charges_before, manual=[]) == 1
        details = admin.payment_details(item.enrollment_id)
        (payment,) = [p for p in details.payments if p.item_id == item.id]
        (attempt,) = [a for a in details.attempts if a.item_id == item.id]
        assert attempt.status == AttemptStatus.SUCCEEDED
        assert payment.attempt_id == attempt.id
        assert payment.amount == usd("100.00")
    assert admin.verify_audit_chain().ok
