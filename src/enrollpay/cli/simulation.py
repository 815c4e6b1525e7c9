"""The simulation behind ``enrollpay demo``: a school, a cohort, several months.

Everything here is the library used as a course platform would use it, on
the store it is given (the command passes an SQLite file) with the fake
gateway on a frozen clock. The run is a pure function of its
:class:`DemoSettings`: the cohort comes from ``random.Random(seed)``, ids
from :class:`SequentialIds`, time from a :class:`FrozenClock`, so the same
seed gives the same database and the same figures.

The stories every run contains (the cohort is bent to guarantee them):

- one student's card is declined four times (the first charge and the
  three retries, 1, 3 and 7 days apart, under the default retry policy):
  the installment defaults and the enrollment is suspended; the school
  then records the student's bank transfer with ``record_manual_payment``
  and access comes back;
- one student cancels after the cooling-off window and gets a refund
  prorated by the time used, minus an administration fee;
- other cards decline once or twice and recover on a retry; in a large
  enough cohort one card is reported lost and replaced, and one student
  stops paying altogether (defaulted, suspended, overdue in the aging).

Webhooks are delivered every simulated day, each event twice, and on some
days newest first, so exactly-once and out-of-order handling are exercised.
This module knows nothing about click or rich: the ``demo`` command renders
what :func:`run_demo` returns.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

import attrs
from dateutil.relativedelta import relativedelta

from enrollpay.cli.catalogue import ADMIN, CATALOG, INSTALLMENT_PRODUCTS, register_catalogue
from enrollpay.domain.lifecycle import EnrollmentStatus, ItemStatus
from enrollpay.domain.money import Money
from enrollpay.gateways.fake import FakeGateway
from enrollpay.ports import Store
from enrollpay.service.system import PaymentSystem
from enrollpay.testing.clock import FrozenClock
from enrollpay.testing.ids import SequentialIds

__all__ = [
    "CATALOG",
    "START",
    "DemoResult",
    "DemoSettings",
    "StoryLine",
    "run_demo",
]

#: The first simulated morning (a Monday). Fixed, so runs do not depend on today.
START = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)

Story = Literal["good", "flaky", "very_flaky", "lost_card", "suspended", "stops_paying", "cancels"]


@attrs.frozen
class DemoSettings:
    """What ``enrollpay demo`` simulates."""

    seed: int = 1
    students: int = 24
    months: int = 6


@attrs.frozen
class Student:
    """One member of the cohort and what will happen to their card."""

    user_id: str
    product: str
    enroll_day: int
    card: str
    story: Story


@attrs.frozen
class StoryLine:
    """A notable event; ``text`` has ``{name}`` fields filled from ``amounts``."""

    on: date
    student: str
    text: str
    amounts: Mapping[str, Money] = attrs.field(factory=dict, hash=False)


@attrs.frozen
class DemoResult:
    """What a run did; the system is left open on the simulated last day."""

    system: PaymentSystem
    start: date
    end: date
    students: int
    story: tuple[StoryLine, ...]
    collection: Mapping[str, int] = attrs.field(hash=False)
    webhooks: Mapping[str, int] = attrs.field(hash=False)
    reversed_days: int


def _cohort(rng: random.Random, count: int) -> list[Student]:
    weights = [p.weight for p in CATALOG]
    students = []
    for number in range(1, count + 1):
        product = rng.choices(CATALOG, weights)[0].key
        story: Story = rng.choices(("good", "flaky", "very_flaky"), (65, 25, 10))[0]
        students.append(
            Student(
                user_id=f"student-{number:03d}",
                product=product,
                enroll_day=rng.randrange(0, 21),
                card=f"pm_card_student_{number:03d}",
                story=story,
            )
        )
    # Bend the cohort so the stories the demo tells always happen, early
    # enough to play out within two simulated months.
    suspended = next((s for s in students if s.product in INSTALLMENT_PRODUCTS), students[0])
    students[students.index(suspended)] = attrs.evolve(
        suspended,
        product=suspended.product
        if suspended.product in INSTALLMENT_PRODUCTS
        else "data-science-bootcamp",
        enroll_day=min(suspended.enroll_day, 7),
        story="suspended",
    )
    others = [s for s in students if s.story != "suspended"]
    cancels = next((s for s in others if s.product == "python-foundations"), others[0])
    students[students.index(cancels)] = attrs.evolve(
        cancels,
        product="python-foundations",
        enroll_day=min(cancels.enroll_day, 10),
        story="cancels",
    )
    for story, minimum in (("lost_card", 8), ("stops_paying", 6)):
        pool = [s for s in students if s.story == "good" and s.product in INSTALLMENT_PRODUCTS]
        if count >= minimum and pool:
            chosen = pool[rng.randrange(len(pool))]
            students[students.index(chosen)] = attrs.evolve(chosen, story=story)
    return students


def _script_card(gateway: FakeGateway, student: Student, tries: int) -> None:
    """Give the student's card its story; ``tries`` declines exhaust the retries."""
    decline = FakeGateway.decline
    if student.story == "flaky":
        gateway.script_method(student.card, decline("insufficient_funds"))
    elif student.story == "very_flaky":
        gateway.script_method(student.card, decline("insufficient_funds"), decline("do_not_honor"))
    elif student.story == "lost_card":
        gateway.script_method(student.card, decline("lost_card"))
    elif student.story == "suspended":
        gateway.script_method(student.card, *[decline("insufficient_funds")] * tries)
    elif student.story == "stops_paying":
        gateway.script_method(student.card, *[decline("insufficient_funds")] * tries * 5)


@attrs.define
class _Run:
    """The mutable state of one simulation."""

    system: PaymentSystem
    gateway: FakeGateway
    clock: FrozenClock
    rng: random.Random
    products: dict[str, str]
    enrollment_of: dict[str, str] = attrs.Factory(dict)
    student_of_item: dict[str, Student] = attrs.Factory(dict)
    story: list[StoryLine] = attrs.Factory(list)
    collection: Counter[str] = attrs.Factory(Counter)
    webhooks: Counter[str] = attrs.Factory(Counter)
    reversed_days: int = 0
    defaulted: set[str] = attrs.Factory(set)
    # day -> actions planned for it
    transfers: dict[date, list[Student]] = attrs.Factory(dict)
    card_updates: dict[date, list[Student]] = attrs.Factory(dict)

    @property
    def today(self) -> date:
        """The simulated day."""
        return self.clock.now().date()

    @property
    def tries(self) -> int:
        """Charges an item gets before it defaults: the first one and every retry."""
        return len(self.system.config.retry_policy.delays) + 1

    def enroll(self, student: Student) -> None:
        result = self.system.enroll(
            user_id=student.user_id, product_id=self.products[student.product]
        )
        self.enrollment_of[student.user_id] = result.enrollment_id
        for item in result.schedule:
            self.student_of_item[item.id] = student
        if result.client_secret is not None:
            # The student pays the first amount on the checkout page; the
            # gateway saves the card for the later, off-session charges.
            self.gateway.complete_payment(result.client_secret, payment_method=student.card)
        elif result.setup_client_secret is not None:
            # A trial: nothing to pay yet. The student saves the card in the
            # setup flow enroll opened; its webhook (delivered at the end of
            # the day) starts the trial, and its end charges the card.
            self.gateway.complete_setup(result.setup_client_secret, payment_method=student.card)
        _script_card(self.gateway, student, self.tries)

    def collect(self) -> None:
        report = self.system.collect_due()
        for outcome in report.outcomes:
            self.collection[outcome.result] += 1
            # Periods a subscription adds later are not in the map; the
            # stories told here happen to installment students only.
            student = self.student_of_item.get(outcome.item_id)
            if student is None:
                continue
            first_default = student.user_id not in self.defaulted
            if outcome.result == "defaulted" and first_default:
                self.defaulted.add(student.user_id)
                self.story.append(
                    StoryLine(
                        self.today,
                        student.user_id,
                        f"card declined {self.tries} times: installment defaulted, "
                        "enrollment suspended",
                    )
                )
                if student.story == "suspended":
                    self.transfers.setdefault(self.today + timedelta(days=2), []).append(student)
            elif outcome.result == "requires_payment_method" and student.story == "lost_card":
                self.story.append(
                    StoryLine(
                        self.today, student.user_id, "card reported lost: waiting for a new one"
                    )
                )
                self.card_updates.setdefault(self.today + timedelta(days=3), []).append(student)

    def bank_transfers(self) -> None:
        for student in self.transfers.pop(self.today, []):
            enrollment_id = self.enrollment_of[student.user_id]
            for item in self.system.list_schedule_items(
                enrollment_id=enrollment_id, status=ItemStatus.DEFAULTED
            ):
                reference = f"TXN-{self.rng.randrange(10_000, 100_000)}"
                payment = self.system.record_manual_payment(
                    item.id,
                    method="bank_transfer",
                    reference=reference,
                    notes="paid by bank transfer after four card declines",
                    actor=ADMIN,
                )
                status = self.system.get_enrollment(enrollment_id).status
                self.story.append(
                    StoryLine(
                        self.today,
                        student.user_id,
                        f"paid {{amount}} by bank transfer ({reference}), recorded by hand: "
                        f"enrollment {status}",
                        {"amount": payment.amount},
                    )
                )

    def new_cards(self) -> None:
        for student in self.card_updates.pop(self.today, []):
            secret = self.system.start_payment_method_update(student.user_id)
            new_card = f"{student.card}_new"
            self.gateway.complete_setup(secret, payment_method=new_card)
            # The card form's return page tells the system at once, which
            # retries the waiting installment; the gateway's webhook for the
            # same card arrives later and finds nothing left to do.
            outcomes = self.system.update_payment_method(
                student.user_id, new_card, actor=student.user_id
            )
            results = ", ".join(outcome.result for outcome in outcomes) or "nothing to retry"
            self.story.append(
                StoryLine(
                    self.today,
                    student.user_id,
                    f"saved a new card; the waiting installment was retried: {results}",
                )
            )

    def cancel(self, student: Student) -> None:
        enrollment_id = self.enrollment_of[student.user_id]
        result = self.system.cancel_enrollment(enrollment_id, reason="moving abroad", actor=ADMIN)
        quote = result.quote
        assert quote is not None  # noqa: S101 - no explicit amount: the policy quotes
        amounts = {"refund": result.refund_total, "paid": quote.paid}
        fee = next((line.amount for line in quote.lines if line.code == "admin_fee"), None)
        text = (
            f"cancelled after {quote.used_days} of {quote.total_days} days: "
            "paid {paid}, refunded {refund} (prorated"
        )
        if fee is not None:
            amounts["fee"] = fee
            text += ", less a {fee} admin fee"
        self.story.append(StoryLine(self.today, student.user_id, text + ")", amounts))

    def deliver_webhooks(self) -> None:
        newest_first = self.rng.random() < 0.35
        self.reversed_days += newest_first
        for outcome in self.gateway.deliver(self.system, reverse=newest_first, times=2):
            self.webhooks[outcome.result] += 1


def run_demo(
    settings: DemoSettings,
    *,
    store: Store,
    on_day: Callable[[int, int, date], None] | None = None,
) -> DemoResult:
    """Simulate ``settings.months`` months on ``store``, one ``collect_due`` per day.

    ``on_day(done, total, today)`` is called after each day (for a progress
    bar). The store must be empty: ids start again at 1.
    """
    rng = random.Random(settings.seed)  # noqa: S311 - a reproducible story, not a secret
    clock = FrozenClock(START)
    gateway = FakeGateway(clock=clock)
    system = PaymentSystem(store=store, gateway=gateway, clock=clock, ids=SequentialIds())
    run = _Run(system, gateway, clock, rng, register_catalogue(system))
    students = _cohort(rng, settings.students)
    end = (START + relativedelta(months=settings.months)).date()
    total = (end - START.date()).days
    for index in range(total):
        today = START.date() + timedelta(days=index)
        clock.set(datetime.combine(today, time(9, 0), tzinfo=UTC))
        for student in students:
            if student.enroll_day == index:
                run.enroll(student)
            if student.story == "cancels" and index == student.enroll_day + 40:
                run.cancel(student)
        run.bank_transfers()
        run.new_cards()
        run.collect()
        run.deliver_webhooks()
        if on_day is not None:
            on_day(index + 1, total, today)
    clock.set(datetime.combine(end, time(9, 0), tzinfo=UTC))
    suspended = [s for s in students if s.story == "suspended"]
    for student in suspended:
        status = system.get_enrollment(run.enrollment_of[student.user_id]).status
        if status == EnrollmentStatus.SUSPENDED:  # pragma: no cover - months too short
            run.story.append(StoryLine(end, student.user_id, "still suspended"))
    return DemoResult(
        system=system,
        start=START.date(),
        end=end,
        students=len(students),
        story=tuple(sorted(run.story, key=lambda line: line.on)),
        collection=dict(run.collection),
        webhooks=dict(run.webhooks),
        reversed_days=run.reversed_days,
    )
