"""A Hypothesis state machine over the whole system: random operations, invariants after each.

The machine enrolls several users in products on every kind of plan (full
payment, installments with and without a deposit, an open-ended
subscription, a zero-decimal currency), pays on-session, collects with
scripted gateway outcomes, reconciles, delivers webhooks (in order,
duplicated, reversed, some dropped for good), records manual payments,
refunds, reschedules, pauses, resumes, cancels, waives, updates cards,
retries, has cardholders dispute card payments (the bank deciding some)
and moves the clock. After every step it checks the invariants
below; at the end it drains the gateway's outbox, reconciles and checks
that the library's books match the money the fake gateway moved.

Invariants (per enrollment unless said otherwise)
-------------------------------------------------

``ledger``
    Money in equals money applied: ``sum(payments) == sum(item.amount_paid)
    + sum(unapplied)``, where ``unapplied`` are the payments flagged by a
    ``payment.unapplied`` audit entry (money that arrived for an item already
    paid, waived or cancelled; it stays on the books, is refundable, and is
    not applied to any item). An item's ``amount_paid`` may exceed its
    amount only by what a ``payment.excess`` entry flags. Refunds never
    change ``amount_paid``: what the enrollment holds is
    ``sum(payments) - sum(refunds not failed)``, which is
    ``PaymentDetails.paid - PaymentDetails.refunded`` and is never negative.
``refunds``
    For every payment, the refunds that did not fail add up to at most the
    payment.
``disputes``
    Each dispute belongs to a payment of its enrollment; what the disputes
    withhold (``PaymentDetails.disputed``) is at most ``paid - refunded``,
    so what the enrollment keeps is never negative; the enrollment's
    ``dispute_hold`` is what the dispute policy says of its disputes; no
    refund succeeded at the gateway for a payment whose chargeback (not
    won) was recorded before the refund.
``paid once``
    Each gateway payment id and each attempt is recorded as at most one
    payment; per item, the payments applied to it (not unapplied) add up to
    ``amount_paid``, and more than the item's amount only with an excess flag.
``one attempt in flight``
    At most one attempt per item is ``pending``, ``unknown``,
    ``requires_action`` or ``processing``; a paid item's latest attempt is
    never ``unknown``.
``status``
    The enrollment's status is :func:`derive_enrollment_status` of its items
    under the system's access policy and its dispute hold (cancelled and
    paused are explicit) as
    of today, or as of an earlier day since the last write: the status is
    refreshed by writes and by the sweep, and a due date passing is neither
    (time alone implies ``pending_payment``, ``past_due`` and ``suspended``,
    so the check looks at the days where each could have begun). While a
    charge is in flight (the item ``processing`` with an open attempt) the
    enrollment keeps the status it had before the charge, so that item
    counts as open, failed or defaulted: opening a checkout or sending a
    retry does not restore access, its outcome does.
    A cancelled enrollment expects no more money: its items are terminal,
    or ``processing`` while an attempt's outcome is still open.
``terminal``
    Paid, cancelled and waived items, succeeded attempts, cancelled
    enrollments, recorded payments and settled refunds never change.
``seats``
    The ``seated`` product (one seat) never has more live seats than its
    limit; each of its enrollments holds exactly one live seat until it is
    cancelled (then none), held once money came in and reserved before; a
    student waits on its list only while no seat is free.
``audit``
    The audit chain verifies.
``gateway``
    The fake never charged one idempotency key twice. After the outbox is
    delivered and ``reconcile`` has run, every charge the fake made is
    recorded as exactly one gateway payment of the same amount and every
    gateway payment is a charge of the fake; the refunds the fake made for
    a payment equal the gateway refunds recorded for it.

Runs against the store :func:`make_store` returns. The normal run is small
(50 examples of up to 40 steps); ``ENROLLPAY_STRESS=1`` runs 1000 examples
of up to 80 steps (several minutes).
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from enrollpay import (
    AttemptStatus,
    Deposit,
    EnrollmentStatus,
    FullPayment,
    Installments,
    Interval,
    ItemStatus,
    Money,
    PaymentPlan,
    Subscription,
    SystemConfig,
)
from enrollpay.domain.disputes import UNREFUNDABLE_STATUSES
from enrollpay.domain.lifecycle import (
    TERMINAL_ITEM_STATUSES,
    ItemState,
    derive_enrollment_status,
)
from enrollpay.domain.records import Payment, ScheduleItem
from enrollpay.domain.seats import SeatStatus, WaitlistEntry
from enrollpay.errors import (
    DuplicateEnrollmentError,
    GatewayRequestError,
    InvalidInputError,
    InvalidStateError,
    ItemNotPayableError,
    OverpaymentError,
)
from enrollpay.errors_seats import AlreadyWaitlistedError, SeatsFullError
from enrollpay.ports import Store
from enrollpay.service.results import PaymentDetails
from enrollpay.storage.memory import InMemoryStore
from enrollpay.storage.sql import SqlStore
from enrollpay.testing import Outcome
from tests.adversarial.support import full_state, make_world


def make_store(kind: str = "memory") -> Store:
    """A fresh store for one run of the machine: in memory, or a new SQLite file."""
    if kind == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="enrollpay-machine-"))
        return SqlStore.from_url(f"sqlite:///{folder / 'machine.db'}")
    return InMemoryStore()


STRESS = os.environ.get("ENROLLPAY_STRESS") == "1"
SETTINGS = settings(
    max_examples=1000 if STRESS else 50,
    stateful_step_count=80 if STRESS else 40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
#: A real SQLite file costs a migration and fsyncs per run, so fewer examples.
SQLITE_SETTINGS = settings(
    SETTINGS, max_examples=200 if STRESS else 6, stateful_step_count=80 if STRESS else 30
)

USERS = ("ana", "ben", "chloe")
PRODUCTS: dict[str, tuple[Money, PaymentPlan]] = {
    "full": (Money.of("300.00", "USD"), FullPayment()),
    "deposit": (
        Money.of("500.00", "USD"),
        Installments(3, interval=Interval.weeks(1), deposit=Deposit.percent(20)),
    ),
    "installments": (Money.of("100.00", "USD"), Installments(4, interval=Interval.weeks(1))),
    "subscription": (Money.of("20.00", "USD"), Subscription(Interval.weeks(1))),
    "yen": (Money.of("9999", "JPY"), Installments(2, interval=Interval.weeks(2))),
    "seated": (Money.of("150.00", "USD"), FullPayment()),
}
#: Seat limits of the products that have one.
SEAT_LIMITS = {"seated": 1}
CHARGES: dict[str, Outcome] = {
    "ok": Outcome("succeed"),
    "soft_decline": Outcome("decline", "insufficient_funds"),
    "hard_decline": Outcome("decline", "stolen_card"),
    "authentication_decline": Outcome("decline", "authentication_required"),
    "requires_action": Outcome("requires_action"),
    "timeout_before": Outcome("timeout_before"),
    "timeout_after": Outcome("timeout_after"),
    "rate_limited": Outcome("rate_limited"),
    "processing": Outcome("processing"),
}
ON_SESSION: dict[str, Outcome] = {
    "ok": Outcome("succeed"),
    "soft_decline": Outcome("decline", "insufficient_funds"),
    "hard_decline": Outcome("decline", "lost_card"),
    "requires_action": Outcome("requires_action"),
}
REFUNDS: dict[str, Outcome | None] = {
    "ok": None,
    "timeout_before": Outcome("timeout_before"),
    "timeout_after": Outcome("timeout_after"),
}
#: Representatives of what an item may have been before a charge started (open,
#: retry pending, card needed): the derivation only tells these classes apart.
_BEFORE_A_CHARGE = (ItemStatus.PROCESSING, ItemStatus.FAILED, ItemStatus.DEFAULTED)
IN_FLIGHT = frozenset(
    {
        AttemptStatus.PENDING,
        AttemptStatus.UNKNOWN,
        AttemptStatus.REQUIRES_ACTION,
        AttemptStatus.PROCESSING,
    }
)
REFUSED = (InvalidInputError, InvalidStateError)


def flagged(audit: list[Any], action: str) -> dict[str, dict[str, Any]]:
    """Audit data of ``action`` entries, by payment id."""
    return {e.entity_id: dict(e.data) for e in audit if e.action == action}


class PaymentsMachine(RuleBasedStateMachine):
    """Random operations on one payment system; the invariants hold after each."""

    store_kind = "memory"

    def __init__(self) -> None:
        super().__init__()
        self.store = make_store(self.store_kind)
        self.world = make_world(self.store, config=SystemConfig(subscription_horizon=3))
        self.system = self.world.system
        self.fake = self.world.fake
        self.clock = self.world.clock
        self.products = {
            key: self.system.register_product(
                product_type="course",
                product_id=key,
                name=key,
                price=price,
                payment_plan=plan,
            ).id
            for key, (price, plan) in PRODUCTS.items()
        }
        for key, limit in SEAT_LIMITS.items():
            self.system.set_seat_limit(self.products[key], limit)
        self.cards = 0
        self.seen_terminal: dict[str, Any] = {}

    # -- views -----------------------------------------------------------------------

    def details(self) -> list[PaymentDetails]:
        return [self.system.payment_details(e.id) for e in self.system.list_enrollments()]

    def items(self) -> list[ScheduleItem]:
        return sorted(self.system.list_schedule_items(), key=lambda i: i.id)

    def open_items(self) -> list[ScheduleItem]:
        return [i for i in self.items() if i.status not in TERMINAL_ITEM_STATUSES]

    def payments(self) -> list[Payment]:
        return [p for d in self.details() for p in d.payments]

    def enrollment_ids(self) -> list[str]:
        return [e.id for e in self.system.list_enrollments()]

    def refused(self, before: dict[str, Any], error: Exception) -> None:
        """A refused call wrote nothing and said why without a traceback of ours."""
        assert full_state(self.world) == before, f"{type(error).__name__} but state changed"

    def room(self, payment: Payment) -> Money:
        """What may be refunded of ``payment``: nothing under a recorded chargeback not won."""
        details = self.system.payment_details(payment.enrollment_id)
        if any(
            d.payment_id == payment.id and d.status in UNREFUNDABLE_STATUSES
            for d in details.disputes
        ):
            return Money(0, payment.amount.currency)
        taken = sum(
            r.amount.minor
            for r in details.refunds
            if r.payment_id == payment.id and r.status != "failed"
        )
        return Money(payment.amount.minor - taken, payment.amount.currency)

    def disputable(self) -> list[Payment]:
        """Card payments the fake has not refunded in full (those can be disputed)."""
        found = []
        for payment in self.payments():
            gid = payment.gateway_payment_id
            if gid is None:
                continue
            refunded = sum(r.amount.minor for r in self.fake.refunds_for(gid))
            if refunded < payment.amount.minor:
                found.append(payment)
        return found

    # -- rules -----------------------------------------------------------------------

    @initialize(
        starts=st.lists(
            st.tuples(st.sampled_from(USERS), st.sampled_from(sorted(PRODUCTS))),
            min_size=1,
            max_size=3,
            unique=True,
        )
    )
    def start(self, starts: list[tuple[str, str]]) -> None:
        """Some users enroll and pay their first item on-session, which saves their card."""
        for user, product in starts:
            try:
                result = self.system.enroll(user_id=user, product_id=self.products[product])
            except (DuplicateEnrollmentError, SeatsFullError):
                continue
            assert result.client_secret is not None
            self.fake.complete_payment(result.client_secret)
        self.fake.deliver(self.system)

    @rule(user=st.sampled_from(USERS), product=st.sampled_from(sorted(PRODUCTS)))
    def enroll(self, user: str, product: str) -> None:
        """A user enrolls; a second open enrollment in the same product is refused."""
        before = full_state(self.world)
        try:
            result = self.system.enroll(user_id=user, product_id=self.products[product])
        except DuplicateEnrollmentError as error:
            self.refused(before, error)
            return
        except SeatsFullError as error:
            self.refused(before, error)
            self.join_waitlist(user, product)
            return
        assert result.requires_immediate_payment
        assert result.client_secret is not None

    def join_waitlist(self, user: str, product: str) -> None:
        """A student who found the product full joins its line (once)."""
        before = full_state(self.world)
        try:
            self.system.join_waitlist(user, self.products[product])
        except AlreadyWaitlistedError as error:
            self.refused(before, error)

    def seat_offers(self) -> list[WaitlistEntry]:
        return [o for key in SEAT_LIMITS for o in self.system.seats(self.products[key]).offers]

    @precondition(lambda self: bool(self.seat_offers()))
    @rule(data=st.data())
    def accept_seat_offer(self, data: st.DataObject) -> None:
        """A student offered a seat takes it (refused if the offer lapsed or they enrolled)."""
        self.accept_seat_offer_with(data.draw(st.sampled_from(self.seat_offers()), label="offer"))

    def accept_seat_offer_with(self, offer: WaitlistEntry) -> None:
        """Accept ``offer``; a refusal (it lapsed) writes nothing."""
        before = full_state(self.world)
        try:
            result = self.system.accept_seat_offer(offer.id)
        except REFUSED as error:
            self.refused(before, error)
            return
        assert result.client_secret is not None

    @precondition(lambda self: bool(self.open_items()))
    @rule(data=st.data(), outcome=st.sampled_from(sorted(ON_SESSION)))
    def pay_on_session(self, data: st.DataObject, outcome: str) -> None:
        """The customer opens the checkout for an item and completes it."""
        item = data.draw(st.sampled_from(self.open_items()), label="item")
        before = full_state(self.world)
        try:
            session = self.system.start_payment(item.id)
        except ItemNotPayableError as error:
            if error.status == "paid":
                # The gateway says the customer paid (its webhook is late): start_payment
                # records that payment, as the webhook would, and refuses a new one.
                paid = [i for i in self.items() if i.id == item.id]
                assert paid[0].status == ItemStatus.PAID or paid[0].amount_paid.minor > 0
                return
            self.refused(before, error)
            return
        except REFUSED as error:
            self.refused(before, error)
            return
        try:
            self.fake.complete_payment(session.client_secret, ON_SESSION[outcome])
        except GatewayRequestError:
            # The browser shows "already paid": the intent succeeded earlier.
            assert session.gateway_payment_id in {c.gateway_payment_id for c in self.fake.charges}

    @rule(outcomes=st.lists(st.sampled_from(sorted(CHARGES)), max_size=4))
    def collect(self, outcomes: list[str]) -> None:
        """Collection runs with the next charges scripted."""
        self.fake.script(*(CHARGES[o] for o in outcomes))
        report = self.system.collect_due()
        self.fake.clear_scripts()
        assert len({o.item_id for o in report.outcomes}) == len(report.outcomes)

    @rule()
    def reconcile(self) -> None:
        """Reconciliation asks the gateway about every open outcome."""
        self.system.reconcile()

    @rule(
        data=st.data(),
        mode=st.sampled_from(("in_order", "twice", "reversed", "drop_some")),
    )
    def deliver(self, data: st.DataObject, mode: str) -> None:
        """The gateway delivers its webhooks: in order, twice, reversed, or losing some."""
        hooks = self.fake.take_events()
        if mode == "reversed":
            hooks.reverse()
        if mode == "drop_some":
            keep = data.draw(
                st.lists(st.booleans(), min_size=len(hooks), max_size=len(hooks)), label="keep"
            )
            hooks = [hook for hook, kept in zip(hooks, keep, strict=True) if kept]
        for hook in hooks:
            outcome = self.system.handle_webhook(hook.payload, hook.headers)
            assert outcome.result in ("processed", "stale", "ignored"), outcome
            if mode == "twice":
                before = full_state(self.world)
                again = self.system.handle_webhook(hook.payload, hook.headers)
                assert again.result == "duplicate"
                assert full_state(self.world) == before

    @precondition(lambda self: bool(self.open_items()))
    @rule(
        data=st.data(),
        method=st.sampled_from(("cash", "check", "bank_transfer")),
        part=st.booleans(),
    )
    def manual_payment(self, data: st.DataObject, method: Any, part: bool) -> None:
        """An admin records an offline payment (all that is owed, or half)."""
        item = data.draw(st.sampled_from(self.open_items()), label="item")
        amount = Money(max(1, item.outstanding.minor // 2), item.amount.currency) if part else None
        before = full_state(self.world)
        try:
            self.system.record_manual_payment(
                item.id, method=method, actor="admin", reference="REF-1", amount=amount
            )
        except (*REFUSED, OverpaymentError) as error:
            if "paid by card meanwhile" in str(error):
                # The one refusal that writes: the student's card payment won
                # the race with the desk, and money received is always recorded.
                paid = next(i for i in self.items() if i.id == item.id)
                assert paid.status == ItemStatus.PAID, paid
                return
            self.refused(before, error)

    @precondition(lambda self: bool(self.payments()))
    @rule(
        data=st.data(),
        share=st.sampled_from(("one_unit", "half", "all", "too_much")),
        gateway=st.sampled_from(sorted(REFUNDS)),
    )
    def refund(self, data: st.DataObject, share: str, gateway: str) -> None:
        """An admin refunds part or all of a payment (the gateway may time out)."""
        payment = data.draw(st.sampled_from(self.payments()), label="payment")
        room = self.room(payment)
        minor = {
            "one_unit": 1,
            "half": room.minor // 2,
            "all": room.minor,
            "too_much": room.minor + 1,
        }[share]
        scripted = REFUNDS[gateway]
        before = full_state(self.world)
        if scripted is not None:
            self.fake.script(scripted, verb="refund")
        refused = False
        try:
            self.system.refund_payment(
                payment.id, Money(minor, room.currency), actor="admin", reason="goodwill"
            )
        except REFUSED as error:
            refused = True
            self.refused(before, error)
        finally:
            self.fake.clear_scripts()
        assert refused == (minor <= 0 or minor > room.minor)

    @precondition(lambda self: bool(self.disputable()))
    @rule(
        data=st.data(),
        kind=st.sampled_from(("chargeback", "inquiry")),
        outcome=st.sampled_from(("open", "won", "lost")),
    )
    def dispute(self, data: st.DataObject, kind: str, outcome: str) -> None:
        """A cardholder disputes a card payment; the bank may decide at once (webhooks queued)."""
        payment = data.draw(st.sampled_from(self.disputable()), label="payment")
        assert payment.gateway_payment_id is not None
        dispute_id = self.fake.disputes.open(payment.gateway_payment_id, inquiry=kind == "inquiry")
        if outcome == "won" or (outcome == "lost" and kind == "chargeback"):
            self.fake.disputes.close(dispute_id, "won" if outcome == "won" else "lost")

    @precondition(lambda self: bool(self.open_items()))
    @rule(data=st.data(), days=st.integers(min_value=0, max_value=20))
    def reschedule(self, data: st.DataObject, days: int) -> None:
        """An admin moves an unpaid item's due date."""
        item = data.draw(st.sampled_from(self.open_items()), label="item")
        before = full_state(self.world)
        try:
            moved = self.system.reschedule(
                item.id, self.system.today() + timedelta(days=days), actor="admin"
            )
        except REFUSED as error:
            self.refused(before, error)
            return
        assert moved.due == self.system.today() + timedelta(days=days)

    @precondition(lambda self: bool(self.enrollment_ids()))
    @rule(data=st.data())
    def pause(self, data: st.DataObject) -> None:
        """An admin pauses an enrollment."""
        enrollment_id = data.draw(st.sampled_from(self.enrollment_ids()), label="enrollment")
        before = full_state(self.world)
        try:
            paused = self.system.pause(enrollment_id, actor="admin")
        except REFUSED as error:
            self.refused(before, error)
            return
        assert paused.status == EnrollmentStatus.PAUSED

    @precondition(lambda self: bool(self.enrollment_ids()))
    @rule(data=st.data())
    def resume(self, data: st.DataObject) -> None:
        """An admin resumes an enrollment."""
        enrollment_id = data.draw(st.sampled_from(self.enrollment_ids()), label="enrollment")
        before = full_state(self.world)
        try:
            resumed = self.system.resume(enrollment_id, actor="admin")
        except REFUSED as error:
            self.refused(before, error)
            return
        assert resumed.status != EnrollmentStatus.PAUSED

    @precondition(lambda self: bool(self.enrollment_ids()))
    @rule(
        data=st.data(),
        how=st.sampled_from(("policy", "nothing", "half", "all", "too_much")),
        gateway=st.sampled_from(sorted(REFUNDS)),
    )
    def cancel(self, data: st.DataObject, how: str, gateway: str) -> None:
        """An admin cancels: refund by policy, or an explicit amount."""
        enrollment_id = data.draw(st.sampled_from(self.enrollment_ids()), label="enrollment")
        details = self.system.payment_details(enrollment_id)
        held = (details.paid - details.refunded).minor
        amount = (
            None
            if how == "policy"
            else Money(
                {"nothing": 0, "half": held // 2, "all": held, "too_much": held + 1}[how],
                details.enrollment.price.currency,
            )
        )
        scripted = REFUNDS[gateway]
        before = full_state(self.world)
        if scripted is not None:
            self.fake.script(scripted, verb="refund")
        try:
            result = self.system.cancel_enrollment(
                enrollment_id, reason="changed their mind", actor="admin", refund_amount=amount
            )
        except REFUSED as error:
            self.refused(before, error)
            return
        finally:
            self.fake.clear_scripts()
        assert result.enrollment.status == EnrollmentStatus.CANCELLED
        assert sum(r.amount.minor for r in result.refunds) == result.refund_total.minor

    @precondition(lambda self: bool(self.open_items()))
    @rule(data=st.data())
    def waive(self, data: st.DataObject) -> None:
        """An admin waives an unpaid item."""
        item = data.draw(st.sampled_from(self.open_items()), label="item")
        before = full_state(self.world)
        try:
            waived = self.system.waive_item(item.id, actor="admin", reason="hardship")
        except REFUSED as error:
            self.refused(before, error)
            return
        assert waived.status == ItemStatus.WAIVED

    @rule(
        user=st.sampled_from(USERS), outcomes=st.lists(st.sampled_from(sorted(CHARGES)), max_size=2)
    )
    def update_card(self, user: str, outcomes: list[str]) -> None:
        """The customer saves a new card; items waiting for one are charged once each."""
        self.cards += 1
        card = f"pm_card_{self.cards}"
        secret = self.system.start_payment_method_update(user)
        self.fake.complete_setup(secret, payment_method=card)
        self.fake.script_method(card, *(CHARGES[o] for o in outcomes))
        retried = self.system.update_payment_method(user, card)
        self.fake.clear_scripts()
        assert len({o.item_id for o in retried}) == len(retried)

    @precondition(lambda self: bool(self.open_items()))
    @rule(data=st.data())
    def retry_now(self, data: st.DataObject) -> None:
        """The customer presses "retry" on an item."""
        item = data.draw(st.sampled_from(self.open_items()), label="item")
        before = full_state(self.world)
        try:
            self.system.retry_now(item.id)
        except REFUSED as error:
            self.refused(before, error)

    def processing(self) -> list[str]:
        """Gateway payments accepted but not settled yet (a slow payment method)."""
        return sorted(
            a.gateway_payment_id
            for d in self.details()
            for a in d.attempts
            if a.status in (AttemptStatus.UNKNOWN, AttemptStatus.PROCESSING)
            and a.gateway_payment_id is not None
        )

    @precondition(lambda self: bool(self.processing()))
    @rule(data=st.data(), outcome=st.sampled_from(("ok", "soft_decline", "hard_decline")))
    def settle(self, data: st.DataObject, outcome: str) -> None:
        """A slow payment settles at the gateway, one way or the other."""
        payment = data.draw(st.sampled_from(self.processing()), label="payment")
        try:
            self.fake.settle(payment, CHARGES[outcome])
        except GatewayRequestError:
            # It settled earlier (its outcome is on its way to us).
            assert payment in {c.gateway_payment_id for c in self.fake.charges}

    @rule(hours=st.sampled_from((1, 6, 24, 24 * 3, 24 * 8)))
    def advance(self, hours: int) -> None:
        """Time passes."""
        self.clock.advance(hours=hours)

    # -- invariants --------------------------------------------------------------------

    @invariant()
    def ledger_balances(self) -> None:
        """Payments = amounts applied to items + unapplied; refunds never exceed payments."""
        audit = self.system.audit_log()
        unapplied = flagged(audit, "payment.unapplied")
        for d in self.details():
            currency = d.enrollment.price.currency
            paid = sum(p.amount.minor for p in d.payments)
            applied = sum(i.amount_paid.minor for i in d.items)
            loose = sum(p.amount.minor for p in d.payments if p.id in unapplied)
            assert paid == applied + loose, (d.enrollment.id, paid, applied, loose)
            refunded = sum(r.amount.minor for r in d.refunds if r.status != "failed")
            assert d.paid == Money(paid, currency)
            assert d.refunded == Money(refunded, currency)
            assert 0 <= refunded <= paid
            for payment in d.payments:
                taken = sum(
                    r.amount.minor
                    for r in d.refunds
                    if r.payment_id == payment.id and r.status != "failed"
                )
                assert taken <= payment.amount.minor, (payment, taken)

    @invariant()
    def disputes_withhold_what_was_paid_and_hold_per_policy(self) -> None:
        """Disputes of own payments; withheld <= paid - refunded; the hold is the policy's."""
        policy = self.system.config.dispute_policy
        for d in self.details():
            payment_ids = {p.id for p in d.payments}
            assert all(x.payment_id in payment_ids for x in d.disputes), d.disputes
            assert d.disputed.minor <= (d.paid - d.refunded).minor, (d.disputed, d.paid)
            assert d.kept.minor >= 0, d
            held = policy.holds_any(x.status for x in d.disputes)
            assert d.enrollment.dispute_hold == held, (d.enrollment, d.disputes)
            for x in d.disputes:
                if x.status not in UNREFUNDABLE_STATUSES:
                    continue
                later = [r for r in d.refunds if r.payment_id == x.payment_id
                         and r.created_at > x.opened_at and r.status == "succeeded"]  # fmt: skip
                assert later == [], (x, later)

    @invariant()
    def items_are_paid_once(self) -> None:
        """No gateway payment or attempt is recorded twice; overpayment is always flagged."""
        audit = self.system.audit_log()
        unapplied = flagged(audit, "payment.unapplied")
        excess = flagged(audit, "payment.excess")
        payments = self.payments()
        gids = Counter(p.gateway_payment_id for p in payments if p.gateway_payment_id)
        attempts = Counter(p.attempt_id for p in payments if p.attempt_id)
        assert all(n == 1 for n in gids.values()), gids
        assert all(n == 1 for n in attempts.values()), attempts
        by_item: dict[str, list[Payment]] = defaultdict(list)
        for payment in payments:
            by_item[payment.item_id].append(payment)
        for item in self.items():
            applied = [p for p in by_item[item.id] if p.id not in unapplied]
            assert sum(p.amount.minor for p in applied) == item.amount_paid.minor, item
            over = item.amount_paid.minor - item.amount.minor
            flagged_over = sum(excess[p.id]["excess"]["minor"] for p in applied if p.id in excess)
            assert flagged_over == max(over, 0), (item, flagged_over)
            if item.status == ItemStatus.PAID:
                assert over >= 0, item
            elif item.status not in TERMINAL_ITEM_STATUSES:
                assert over < 0, item

    @invariant()
    def one_attempt_in_flight(self) -> None:
        """At most one open attempt per item; a paid item's latest attempt is never unknown."""
        for d in self.details():
            for item in d.items:
                attempts = [a for a in d.attempts if a.item_id == item.id]
                open_ = [a for a in attempts if a.status in IN_FLIGHT]
                assert len(open_) <= 1, (item, open_)
                if item.status == ItemStatus.PAID and attempts:
                    assert attempts[-1].status != AttemptStatus.UNKNOWN, (item, attempts[-1])

    @invariant()
    def status_is_derived(self) -> None:
        """Each enrollment's status is what its items imply (see the module docstring)."""
        today = self.system.today()
        for d in self.details():
            enrollment = d.enrollment
            in_flight = {
                a.item_id
                for a in d.attempts
                if a.status in IN_FLIGHT
                and any(i.id == a.item_id and i.status == ItemStatus.PROCESSING for i in d.items)
            }
            # An item being charged counts as what it may have been before the charge.
            choices = [_BEFORE_A_CHARGE if i.id in in_flight else (i.status,) for i in d.items]
            # The status was derived on the day of the last change, which may
            # be any day up to today: the days around each due date, the end of
            # its grace and the start of suspension stand for all of them.
            policy = self.system.config.access_policy
            marks = (-1, policy.grace_days + 1, policy.grace_days + policy.suspend_after_days)
            days = {today} | {
                day
                for i in d.items
                for mark in marks
                if (day := i.due + timedelta(days=mark)) <= today
            }
            plan = enrollment.plan
            allowed = {
                derive_enrollment_status(
                    [ItemState(status, i.due) for status, i in zip(combo, d.items, strict=True)],
                    today=day,
                    cancelled=enrollment.status == EnrollmentStatus.CANCELLED,
                    paused=enrollment.status == EnrollmentStatus.PAUSED,
                    open_ended=isinstance(plan, Subscription) and plan.cycles is None,
                    access=policy,
                    held=enrollment.dispute_hold,
                )
                for combo in itertools.product(*choices)
                for day in days
            }
            assert enrollment.status in allowed, (enrollment.status, allowed, d.items)
            if enrollment.status == EnrollmentStatus.CANCELLED:
                for item in d.items:
                    assert item.status in TERMINAL_ITEM_STATUSES or item.id in in_flight, item

    @invariant()
    def terminal_states_never_change(self) -> None:
        """Terminal items, attempts, enrollments, payments and settled refunds stay as they were."""
        now: dict[str, Any] = {}
        for d in self.details():
            if d.enrollment.status == EnrollmentStatus.CANCELLED:
                now[d.enrollment.id] = d.enrollment.status
            for item in d.items:
                if item.status in TERMINAL_ITEM_STATUSES:
                    now[item.id] = item.status
            for attempt in d.attempts:
                if attempt.status == AttemptStatus.SUCCEEDED:
                    now[attempt.id] = (attempt.status, attempt.gateway_payment_id)
            for payment in d.payments:
                now[payment.id] = payment
            for refund in d.refunds:
                if refund.status != "pending":
                    now[refund.id] = (refund.status, refund.amount)
        for key, value in self.seen_terminal.items():
            assert now.get(key) == value, (key, value, now.get(key))
        self.seen_terminal = now

    @invariant()
    def seats_follow_their_enrollments_within_the_limit(self) -> None:
        """Live seats <= limit; one per uncancelled enrollment, held iff money came in."""
        for key, limit in SEAT_LIMITS.items():
            view = self.system.seats(self.products[key])
            assert view.counts.taken <= limit, view.counts
            assert not view.waiting or view.counts.free == 0, view
            by_enrollment = Counter(s.enrollment_id for s in view.seats if s.enrollment_id)
            for d in self.details():
                if d.enrollment.product_id != self.products[key]:
                    continue
                eid = d.enrollment.id
                if d.enrollment.status == EnrollmentStatus.CANCELLED:
                    assert by_enrollment[eid] == 0, (eid, view.seats)
                    continue
                assert by_enrollment[eid] == 1, (eid, d.enrollment.status, view.seats)
                (seat,) = [s for s in view.seats if s.enrollment_id == eid]
                assert (seat.status == SeatStatus.HELD) == bool(d.payments), (seat, d.payments)

    @invariant()
    def audit_chain_verifies(self) -> None:
        """The hash-chained audit trail is intact."""
        verification = self.system.verify_audit_chain()
        assert verification.ok, verification

    @invariant()
    def no_key_charged_twice(self) -> None:
        """The fake never moved money twice for one idempotency key."""
        keys = Counter(c.idempotency_key for c in self.fake.charges)
        assert all(n == 1 for n in keys.values()), keys

    def teardown(self) -> None:
        """Deliver everything, reconcile, and compare the books with the gateway's."""
        self.fake.clear_scripts()
        for _ in range(2):
            self.fake.deliver(self.system)
            self.system.reconcile()
        self.fake.deliver(self.system)
        payments = {p.gateway_payment_id: p for p in self.payments() if p.method == "gateway"}
        charges = {c.gateway_payment_id: c for c in self.fake.charges}
        assert set(payments) == set(charges), set(payments) ^ set(charges)
        for gid, charge in charges.items():
            assert payments[gid].amount == charge.amount
        refunds: dict[str, int] = defaultdict(int)
        for d in self.details():
            assert not [r for r in d.refunds if r.status == "pending"], d.refunds
            for refund in d.refunds:
                payment = next(p for p in d.payments if p.id == refund.payment_id)
                if refund.method == "gateway" and refund.status == "succeeded":
                    assert payment.gateway_payment_id is not None
                    refunds[payment.gateway_payment_id] += refund.amount.minor
        for gid in charges:
            made = sum(r.amount.minor for r in self.fake.refunds_for(gid))
            assert made == refunds.get(gid, 0), (gid, made, refunds.get(gid, 0))
        if isinstance(self.store, SqlStore):
            self.store.close()


class SqlitePaymentsMachine(PaymentsMachine):
    """The same machine on a SQLite file: real transactions, constraints and locking."""

    store_kind = "sqlite"


def test_random_operations_keep_every_invariant() -> None:
    """Random operation sequences never break a money, state or audit invariant."""
    run_state_machine_as_test(PaymentsMachine, settings=SETTINGS)


def test_random_operations_keep_every_invariant_on_sqlite() -> None:
    """The same random sequences on a SQLite file keep every invariant too."""
    run_state_machine_as_test(SqlitePaymentsMachine, settings=SQLITE_SETTINGS)


def test_the_machine_reaches_the_interesting_states() -> None:
    """The machine is not vacuous: a scripted walk pays, retries and checks every invariant."""
    machine = PaymentsMachine()
    machine.start([("ana", "installments")])
    machine.advance(24 * 8)
    machine.collect(["soft_decline"])
    for check in (
        machine.ledger_balances,
        machine.disputes_withhold_what_was_paid_and_hold_per_policy,
        machine.items_are_paid_once,
        machine.one_attempt_in_flight,
        machine.status_is_derived,
        machine.terminal_states_never_change,
        machine.audit_chain_verifies,
        machine.no_key_charged_twice,
    ):
        check()
    assert sorted(i.status for i in machine.items()) == ["failed", "paid", "scheduled", "scheduled"]
    machine.teardown()
    assert len(machine.fake.charges) == 1


def test_the_machine_reaches_the_seat_states() -> None:
    """A scripted walk fills the seated product, queues a student, frees and offers the seat."""
    machine = PaymentsMachine()
    machine.start([("ana", "seated")])
    machine.enroll("ben", "seated")  # full: ben joins the line
    seated = machine.products["seated"]
    (waiting,) = machine.system.seats(seated).waiting
    assert waiting.user_id == "ben"
    machine.seats_follow_their_enrollments_within_the_limit()
    (ana,) = machine.system.list_enrollments()
    machine.system.cancel_enrollment(ana.id, reason="r", actor="admin")
    (offer,) = machine.seat_offers()
    assert offer.user_id == "ben"
    machine.seats_follow_their_enrollments_within_the_limit()
    machine.accept_seat_offer_with(offer)
    assert machine.system.seats(seated).counts.reserved == 1
    machine.seats_follow_their_enrollments_within_the_limit()
    machine.teardown()


# -- regressions the machine found (kept as plain, deterministic scenarios) -----------------


def _installments_world() -> tuple[Any, str]:
    world = make_world(make_store())
    product = world.system.register_product(
        product_type="course",
        product_id="c",
        name="C",
        price=Money.of("300.00", "USD"),
        payment_plan=Installments(3),
    )
    return world, product.id


def test_reconcile_records_an_authenticated_payment_whose_webhooks_were_lost() -> None:
    """A payment needing authentication, then authenticated, with every webhook lost, is found."""
    world, product_id = _installments_world()
    result = world.system.enroll(user_id="u", product_id=product_id)
    assert result.client_secret is not None
    world.fake.complete_payment(result.client_secret, "requires_action")
    world.fake.take_events()  # lost
    world.system.reconcile()
    assert world.system.payment_details(result.enrollment_id).attempts[0].status == (
        AttemptStatus.REQUIRES_ACTION
    )
    world.fake.settle(result.client_secret)  # the customer authenticates
    world.fake.take_events()  # lost again

    world.system.reconcile()

    details = world.system.payment_details(result.enrollment_id)
    assert [p.gateway_payment_id for p in details.payments] == [
        world.fake.charges[0].gateway_payment_id
    ]
    assert details.items[0].status == ItemStatus.PAID


def test_reconcile_records_a_second_card_on_a_declined_checkout_whose_webhook_was_lost() -> None:
    """Declined, then paid with another card on the same checkout, webhook lost: found."""
    world, product_id = _installments_world()
    result = world.system.enroll(user_id="u", product_id=product_id)
    assert result.client_secret is not None
    world.fake.complete_payment(result.client_secret, world.fake.decline("insufficient_funds"))
    world.fake.deliver(world.system)
    world.fake.complete_payment(result.client_secret)
    world.fake.take_events()  # lost

    world.system.reconcile()

    details = world.system.payment_details(result.enrollment_id)
    assert len(details.payments) == 1
    assert details.items[0].status == ItemStatus.PAID


def test_a_late_event_does_not_reopen_a_cancelled_checkout() -> None:
    """payment_intent.requires_action of a checkout cancelled since is stale."""
    world, product_id = _installments_world()
    result = world.system.enroll(user_id="u", product_id=product_id)
    assert result.client_secret is not None
    world.fake.complete_payment(result.client_secret, "requires_action")
    late = world.fake.take_events()
    secret = world.system.start_payment_method_update("u")
    world.fake.complete_setup(secret, payment_method="pm_card_saved")
    world.fake.deliver(world.system)
    world.clock.advance(hours=24)  # the checkout window is over
    world.fake.script(world.fake.decline("insufficient_funds"))
    (outcome,) = world.system.collect_due().outcomes
    assert outcome.result == "failed"
    world.fake.deliver(world.system)

    outcomes = [world.system.handle_webhook(h.payload, world.fake.sign(h.payload)) for h in late]

    assert [o.result for o in outcomes] == ["stale"]
    details = world.system.payment_details(result.enrollment_id)
    first, second = details.attempts
    assert first.status == AttemptStatus.CANCELED
    assert second.status == AttemptStatus.FAILED
    assert details.items[0].status == ItemStatus.FAILED


def test_a_retry_in_flight_keeps_the_enrollment_status_until_its_outcome() -> None:
    """A card-less item retried with an unknown outcome: still suspended until it is paid."""
    world = make_world(make_store())
    price, plan = PRODUCTS["deposit"]
    product = world.system.register_product(
        product_type="course", product_id="d", name="D", price=price, payment_plan=plan
    )
    result = world.system.enroll(user_id="u", product_id=product.id)
    assert result.client_secret is not None
    world.fake.complete_payment(result.client_secret)
    world.fake.deliver(world.system)
    early = world.system.start_payment(result.schedule[1].id)  # pays the next one early
    world.fake.complete_payment(early.client_secret, world.fake.decline("lost_card"))
    world.fake.deliver(world.system)
    assert world.system.get_enrollment(result.enrollment_id).status == EnrollmentStatus.SUSPENDED
    secret = world.system.start_payment_method_update("u")
    world.fake.complete_setup(secret, payment_method="pm_card_new")
    world.fake.script_method("pm_card_new", "rate_limited")

    (outcome,) = world.system.update_payment_method("u", "pm_card_new")

    assert outcome.result == "unknown"
    details = world.system.payment_details(result.enrollment_id)
    assert details.items[1].status == ItemStatus.PROCESSING
    assert details.enrollment.status == EnrollmentStatus.SUSPENDED
    assert not details.has_access
    world.system.reconcile()  # never reached the gateway: sent again, same key
    world.clock.advance(minutes=1)
    (again,) = world.system.collect_due().outcomes
    assert again.result == "succeeded"
    assert world.system.get_enrollment(result.enrollment_id).status == EnrollmentStatus.ACTIVE


def test_opening_the_checkout_does_not_restore_access() -> None:
    """A suspended student who opens the payment page, and leaves, gets no access for it."""
    world, product_id = _installments_world()
    result = world.system.enroll(user_id="u", product_id=product_id)
    assert result.client_secret is not None
    world.fake.complete_payment(result.client_secret)
    world.fake.deliver(world.system)
    world.clock.advance(days=31)
    world.fake.script(world.fake.decline("stolen_card"))
    world.system.collect_due()
    details = world.system.payment_details(result.enrollment_id)
    assert (details.enrollment.status, details.has_access) == (EnrollmentStatus.SUSPENDED, False)

    session = world.system.start_payment(details.items[1].id)

    details = world.system.payment_details(result.enrollment_id)
    assert (details.enrollment.status, details.has_access) == (EnrollmentStatus.SUSPENDED, False)
    world.fake.complete_payment(session.client_secret)
    world.fake.deliver(world.system)
    assert world.system.get_enrollment(result.enrollment_id).status == EnrollmentStatus.ACTIVE


def test_a_charge_settling_after_the_cancellation_leaves_nothing_owed() -> None:
    """A charge in flight at cancellation that then fails cancels its item: nothing is owed."""
    world, product_id = _installments_world()
    result = world.system.enroll(user_id="u", product_id=product_id)
    assert result.client_secret is not None
    world.fake.complete_payment(result.client_secret)
    world.fake.deliver(world.system)
    world.clock.advance(days=31)
    world.fake.script("processing")
    (outcome,) = world.system.collect_due().outcomes
    assert outcome.result == "processing"
    world.system.cancel_enrollment(result.enrollment_id, reason="leaving", actor="admin")
    in_flight = world.system.payment_details(result.enrollment_id).attempts[-1]
    assert in_flight.gateway_payment_id is not None

    world.fake.settle(in_flight.gateway_payment_id, world.fake.decline("insufficient_funds"))
    world.fake.deliver(world.system)
    world.clock.advance(days=2)

    details = world.system.payment_details(result.enrollment_id)
    assert [i.status for i in details.items] == [
        ItemStatus.PAID,
        ItemStatus.CANCELLED,
        ItemStatus.CANCELLED,
    ]
    assert details.outstanding.minor == 0
    assert world.system.stats().outstanding["USD"].minor == 0
    assert world.system.collect_due().outcomes == ()


def test_retrying_an_item_waiting_for_authentication_does_not_open_a_second_payment() -> None:
    """retry_now on an item whose payment awaits authentication is refused, writing nothing."""
    world, product_id = _installments_world()
    result = world.system.enroll(user_id="u", product_id=product_id)
    assert result.client_secret is not None
    world.fake.complete_payment(result.client_secret)
    world.fake.deliver(world.system)
    world.clock.advance(days=31)
    world.fake.script("requires_action")
    (outcome,) = world.system.collect_due().outcomes
    assert outcome.result == "requires_action"
    item_id = outcome.item_id
    world.fake.script("requires_action")
    before = full_state(world)

    with pytest.raises(InvalidStateError):
        world.system.retry_now(item_id)

    assert full_state(world) == before
    open_attempts = [
        a
        for a in world.system.payment_details(result.enrollment_id).attempts
        if a.status in IN_FLIGHT
    ]
    assert len(open_attempts) == 1


def test_a_declined_checkout_closed_by_a_retry_stays_closed() -> None:
    """A declined checkout cancelled before a retry is not revived by its late events."""
    world, product_id = _installments_world()
    result = world.system.enroll(user_id="u", product_id=product_id)
    assert result.client_secret is not None
    world.fake.complete_payment(result.client_secret, world.fake.decline("insufficient_funds"))
    world.fake.deliver(world.system)
    item_id = result.schedule[0].id
    again = world.system.start_payment(item_id)  # same checkout, now needing authentication
    world.fake.complete_payment(again.client_secret, "requires_action")
    late = world.fake.take_events()
    secret = world.system.start_payment_method_update("u")
    world.fake.complete_setup(secret, payment_method="pm_card_new")
    world.fake.script_method("pm_card_new", world.fake.decline("stolen_card"))
    (retried,) = world.system.update_payment_method("u", "pm_card_new")
    assert retried.result == "requires_payment_method"

    outcomes = [world.system.handle_webhook(h.payload, world.fake.sign(h.payload)) for h in late]
    world.fake.deliver(world.system)

    assert "processed" not in [o.result for o in outcomes]
    details = world.system.payment_details(result.enrollment_id)
    first = details.attempts[0]
    assert first.status == AttemptStatus.CANCELED
    assert [a for a in details.attempts if a.status in IN_FLIGHT] == []
    assert details.items[0].status == ItemStatus.REQUIRES_PAYMENT_METHOD
