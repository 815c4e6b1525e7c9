"""Mid-stream plan change: the pure decision and the transitions that apply it.

The property that matters: a plan change never changes the total owed. The
documented exception (a coupon restricted to plan kinds that exclude the new
plan) does not lose the discount: the change is refused, so the property
holds without exception whenever a change is made.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollpay.domain import transitions as t
from enrollpay.domain.calendar import Interval
from enrollpay.domain.money import Money
from enrollpay.domain.plan_change import DiffLine, PlanChange, plan_change
from enrollpay.domain.plans import Deposit, FullPayment, Installments, PaymentPlan, Subscription
from enrollpay.domain.records import ScheduleItem
from enrollpay.domain.schedule import build_schedule
from enrollpay.domain.statuses import EnrollmentStatus, ItemStatus
from enrollpay.domain.taxes import TaxLine
from enrollpay.errors import IllegalTransitionError, InvalidInputError, PlanError, PlanNotOffered
from enrollpay.errors_plan_change import PlanChangeBlocked, PlanChangeRefused

from .transition_records import AT, TODAY, an_enrollment, usd

START = date(2027, 1, 15)
TWELVE = Installments(12)
SIX = Installments(6)
WITH_DEPOSIT = Installments(4, deposit=Deposit.percent(25))
OFFERED: tuple[PaymentPlan, ...] = (TWELVE, SIX, WITH_DEPOSIT, FullPayment())


def schedule(
    plan: PaymentPlan, price: int, *, paid: int = 0, waived: int = 0, part: int = 0
) -> list[ScheduleItem]:
    """``plan``'s items for ``price`` cents: the first ``paid`` paid, then ``waived`` waived.

    ``part`` cents are paid on the next item (partly paid, still scheduled).
    """
    lines = build_schedule(plan, usd(price), START)
    items = []
    for index, line in enumerate(lines):
        status, amount_paid = ItemStatus.SCHEDULED, usd(0)
        if index < paid:
            status, amount_paid = ItemStatus.PAID, line.amount
        elif index < paid + waived:
            status = ItemStatus.WAIVED
        elif index == paid + waived:
            amount_paid = usd(part)
        items.append(
            ScheduleItem(
                id=f"itm_{line.seq}",
                enrollment_id="enr_1",
                seq=line.seq,
                kind=line.kind,
                due=line.due,
                amount=line.amount,
                status=status,
                amount_paid=amount_paid,
            )
        )
    return items


def change(
    items: list[ScheduleItem], plan: PaymentPlan, *, current: PaymentPlan = TWELVE, **kw: object
) -> PlanChange:
    """``plan_change`` of an active 1,200.00 enrollment on ``current`` with ``items``."""
    options: dict[str, object] = {"offered": OFFERED, "anchor": TODAY, **kw}
    return plan_change(
        an_enrollment(plan=current, price=usd(120000)),
        items,
        plan,
        **options,  # type: ignore[arg-type]
    )


def total(amounts: object) -> int:
    """The sum of the amounts' minor units."""
    return sum(a.minor for a in amounts)  # type: ignore[attr-defined]


# -- examples -------------------------------------------------------------------------


def test_twelve_monthly_to_six_monthly_after_three_paid() -> None:
    """Nine open items of 100.00 become six of 150.00 from the change date, version 2."""
    items = schedule(TWELVE, 120000, paid=3)

    result = change(items, SIX)

    assert [i.seq for i in result.removed] == list(range(4, 13))
    assert [(line.seq, line.due, line.amount) for line in result.added] == [
        (12 + n, date(2027, 2 + n, 15), usd(15000)) for n in range(1, 7)
    ]
    assert result.owed_before == result.owed_after == usd(90000)
    assert (result.old_version, result.new_version) == (1, 2)
    assert result.plan_before == TWELVE
    assert result.plan_after == SIX
    assert result.anchor == TODAY
    assert not result.deposit_dropped
    assert result.was_due[0] == DiffLine(4, date(2027, 4, 15), usd(10000))
    assert result.due_now[0] == DiffLine(13, TODAY, usd(15000))


def test_pay_the_rest_in_full_is_one_item_due_on_the_change_date() -> None:
    """FullPayment: the remaining balance, one ``full`` item due on the anchor."""
    items = schedule(TWELVE, 120000, paid=5)

    result = change(items, FullPayment())

    assert [(line.seq, line.kind, line.due, line.amount) for line in result.added] == [
        (13, "full", TODAY, usd(70000))
    ]


def test_a_partly_paid_item_moves_only_what_it_still_owes() -> None:
    """The 40.00 already received on item 3 stays there; 60.00 of it moves."""
    items = schedule(TWELVE, 120000, paid=2, part=4000)

    result = change(items, FullPayment())

    assert result.removed[0].seq == 3
    assert result.was_due[0].amount == usd(6000)
    assert result.owed_after == usd(120000 - 20000 - 4000)


def test_waived_items_are_not_owed_again() -> None:
    """Two waived items stay waived and out of the remaining balance."""
    items = schedule(TWELVE, 120000, paid=1, waived=2)

    result = change(items, SIX)

    assert result.owed_after == usd(90000)
    assert {i.seq for i in result.removed} == set(range(4, 13))


def test_a_deposit_is_dropped_once_anything_was_paid() -> None:
    """After a payment, the new plan's deposit is not charged: its installments take it all."""
    items = schedule(TWELVE, 120000, paid=1)

    result = change(items, WITH_DEPOSIT)

    assert result.deposit_dropped
    assert [line.kind for line in result.added] == ["installment"] * 4
    assert total(line.amount for line in result.added) == 110000


def test_with_nothing_paid_the_deposit_is_taken_from_the_remaining_balance() -> None:
    """Nothing paid yet: the new plan as written, its 25% deposit on what is owed."""
    items = schedule(TWELVE, 120000)

    result = change(items, WITH_DEPOSIT)

    assert not result.deposit_dropped
    assert result.added[0].kind == "deposit"
    assert result.added[0].amount == usd(30000)
    assert total(line.amount for line in result.added) == 120000


def test_the_summary_is_the_diff_as_json_ready_data() -> None:
    """What ``schedule.changed`` and the API carry."""
    items = schedule(TWELVE, 120000, paid=10)

    summary = change(items, FullPayment()).summary()

    assert summary == {
        "from_plan": {
            "kind": "installments",
            "count": 12,
            "interval": ["month", 1],
            "deposit": None,
        },
        "to_plan": {"kind": "full"},
        "anchor": "2027-03-15",
        "old_version": 1,
        "new_version": 2,
        "owed": {"minor": 20000, "currency": "USD"},
        "deposit_dropped": False,
        "was_due": [
            {"seq": 11, "due": "2027-11-15", "amount": {"minor": 10000, "currency": "USD"}},
            {"seq": 12, "due": "2027-12-15", "amount": {"minor": 10000, "currency": "USD"}},
        ],
        "due_now": [
            {"seq": 13, "due": "2027-03-15", "amount": {"minor": 20000, "currency": "USD"}}
        ],
    }


def test_a_second_change_makes_version_three_and_ignores_superseded_items() -> None:
    """Superseded items stay with their version; the next change starts from the newest."""
    items = schedule(TWELVE, 120000, paid=6)
    first = change(items, SIX)
    superseded = [t.supersede_item(i, at=AT).record for i in first.removed]
    added = [
        t.new_item(item_id=f"new_{line.seq}", enrollment_id="enr_1", line=line, at=AT, version=2)
        for line in first.added
    ]
    kept = [i for i in items if i.status == ItemStatus.PAID]

    second = change([*kept, *superseded, *added], FullPayment(), current=SIX)

    assert (second.old_version, second.new_version) == (2, 3)
    assert [i.id for i in second.removed] == [i.id for i in added]
    assert second.added[0].seq == 19
    assert second.owed_after == usd(60000)


# -- refusals -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status",
    [
        EnrollmentStatus.PAUSED,
        EnrollmentStatus.CANCELLED,
        EnrollmentStatus.COMPLETED,
        EnrollmentStatus.DEFAULTED,
    ],
)
def test_paused_cancelled_completed_or_defaulted_enrollments_cannot_change(
    status: EnrollmentStatus,
) -> None:
    """The enrollment's status refuses the change (reason ``status``)."""
    with pytest.raises(PlanChangeRefused) as caught:
        plan_change(
            an_enrollment(status, plan=TWELVE),
            schedule(TWELVE, 120000),
            SIX,
            offered=OFFERED,
            anchor=TODAY,
        )
    assert caught.value.reason == "status"
    assert caught.value.enrollment_id == "enr_1"


MONTHLY = Subscription(Interval.months(1), amount=usd(5000))


@pytest.mark.parametrize(("current", "new"), [(MONTHLY, SIX), (TWELVE, MONTHLY)])
def test_to_or_from_a_subscription_is_refused(current: PaymentPlan, new: PaymentPlan) -> None:
    """Subscriptions are billed per period: no remaining balance to re-plan."""
    with pytest.raises(PlanChangeRefused, match="subscription") as caught:
        change(schedule(TWELVE, 120000), new, current=current, offered=(*OFFERED, MONTHLY))
    assert caught.value.reason == "subscription"


def test_the_plan_it_is_on_is_refused() -> None:
    """Changing to the current plan would only reshuffle dates: refused."""
    with pytest.raises(PlanChangeRefused) as caught:
        change(schedule(TWELVE, 120000), TWELVE)
    assert caught.value.reason == "same_plan"


def test_a_plan_the_product_does_not_offer_is_refused() -> None:
    """Only the product's eligible plans are accepted."""
    with pytest.raises(PlanNotOffered, match="not offered"):
        change(schedule(TWELVE, 120000), Installments(3))


def test_a_coupon_restricted_to_other_plan_kinds_refuses_the_change() -> None:
    """The discount is never lost silently: the change is refused (reason ``coupon``)."""
    with pytest.raises(PlanChangeRefused, match="coupon") as caught:
        change(
            schedule(TWELVE, 120000), FullPayment(), coupon_plan_kinds=frozenset({"installments"})
        )
    assert caught.value.reason == "coupon"


def test_a_coupon_that_allows_the_new_kind_lets_it_through() -> None:
    """The same restriction allows a change between installment plans."""
    result = change(schedule(TWELVE, 120000), SIX, coupon_plan_kinds=frozenset({"installments"}))
    assert result.owed_after == usd(120000)


def test_nothing_left_to_re_plan_is_refused() -> None:
    """Every item paid or waived (and the status not yet completed): nothing owed."""
    with pytest.raises(PlanChangeRefused) as caught:
        change(schedule(TWELVE, 120000, paid=10, waived=2), SIX)
    assert caught.value.reason == "nothing_owed"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"payer_id": "acme"}, "payers"),
        ({"tax": TaxLine(usd(9000), usd(1000), 111_111, "DE", "exclusive")}, "taxed"),
    ],
)
def test_a_split_or_taxed_schedule_is_not_re_planned_yet(
    changes: dict[str, object], reason: str
) -> None:
    """Payers' shares and tax lines would have to be laid out again: refused for now."""
    items = schedule(TWELVE, 120000, paid=3)
    items[5] = attrs.evolve(items[5], **changes)  # type: ignore[arg-type]
    with pytest.raises(PlanChangeRefused) as caught:
        change(items, SIX)
    assert caught.value.reason == reason


def test_an_item_being_charged_blocks_the_change() -> None:
    """A charge under way decides what is left: retry after it settles."""
    items = schedule(TWELVE, 120000, paid=2)
    items[2] = attrs.evolve(items[2], status=ItemStatus.PROCESSING)

    with pytest.raises(PlanChangeBlocked, match="retry after it settles") as caught:
        change(items, SIX)
    assert (caught.value.item_id, caught.value.attempt_id) == ("itm_3", None)


def test_a_blocking_attempt_is_named() -> None:
    """The error names the attempt when one is known."""
    error = PlanChangeBlocked("enr_1", "itm_3", "att_9")
    assert "attempt 'att_9'" in str(error)
    assert error.attempt_id == "att_9"


def test_a_balance_the_new_plan_cannot_lay_out_raises_plan_error() -> None:
    """Below the gateway's minimum charge per payment: the schedule's own error."""
    with pytest.raises(PlanError, match="minimum"):
        change(schedule(TWELVE, 120000, paid=11), SIX, minimum=usd(5000))


# -- the transitions ------------------------------------------------------------------


def test_apply_supersedes_the_removed_items_and_adds_the_new_version() -> None:
    """Items superseded, new ones scheduled in version 2, ``schedule.changed`` on the plan."""
    items = schedule(TWELVE, 120000, paid=3)
    decided = change(items, SIX)
    enrollment = an_enrollment(plan=TWELVE, price=usd(120000))
    ids = (f"new_{n}" for n in itertools.count(1))

    moved, superseded, added = t.apply_plan_change(
        enrollment, decided, new_id=lambda: next(ids), at=AT
    )

    assert moved.record.plan == SIX
    assert moved.record.status == EnrollmentStatus.ACTIVE
    assert [(e.kind, e.enrollment_id, e.data) for e in moved.events] == [
        ("schedule.changed", "enr_1", decided.summary())
    ]
    assert {i.status for i in superseded} == {ItemStatus.SUPERSEDED}
    assert [i.id for i in superseded] == [f"itm_{n}" for n in range(4, 13)]
    assert [(i.id, i.seq, i.schedule_version, i.status) for i in added] == [
        (f"new_{n}", 12 + n, 2, ItemStatus.SCHEDULED) for n in range(1, 7)
    ]


def test_apply_refuses_a_change_decided_for_another_enrollment() -> None:
    """A change is applied to the enrollment it was decided for."""
    decided = change(schedule(TWELVE, 120000), SIX)
    other = an_enrollment(plan=TWELVE, id="enr_2")
    with pytest.raises(InvalidInputError, match="enr_1"):
        t.apply_plan_change(other, decided, new_id=lambda: "x", at=AT)


def test_supersede_clears_the_planned_retry() -> None:
    """A failed item waiting for its retry is superseded and its retry time cleared."""
    item = attrs.evolve(schedule(TWELVE, 120000)[0], status=ItemStatus.FAILED, next_attempt_at=AT)
    record = t.supersede_item(item, at=AT).record
    assert (record.status, record.next_attempt_at, record.updated_at) == (
        ItemStatus.SUPERSEDED,
        None,
        AT,
    )


@pytest.mark.parametrize(
    "status",
    [ItemStatus.PAID, ItemStatus.WAIVED, ItemStatus.CANCELLED, ItemStatus.PROCESSING,
     ItemStatus.PAUSED, ItemStatus.SUPERSEDED],
)  # fmt: skip
def test_only_an_unsettled_item_not_being_charged_can_be_superseded(status: ItemStatus) -> None:
    """Settled, processing, paused and superseded items refuse ``supersede``."""
    item = attrs.evolve(schedule(TWELVE, 120000)[0], status=status)
    with pytest.raises(IllegalTransitionError, match="supersede"):
        t.supersede_item(item, at=AT)


def test_a_paused_enrollment_refuses_change_plan() -> None:
    """The enrollment machine's ``change_plan`` starts only from a live status."""
    decided = change(schedule(TWELVE, 120000), SIX)
    paused = an_enrollment(EnrollmentStatus.PAUSED, plan=TWELVE)
    with pytest.raises(IllegalTransitionError, match="change_plan"):
        t.apply_plan_change(paused, decided, new_id=lambda: "x", at=AT)


# -- properties -----------------------------------------------------------------------

NEW_PLANS = st.one_of(
    st.just(FullPayment()),
    st.builds(Installments, st.integers(min_value=1, max_value=12)),
    st.builds(
        lambda count, percent: Installments(count, deposit=Deposit.percent(percent)),
        st.integers(min_value=1, max_value=12),
        st.integers(min_value=1, max_value=99),
    ),
)


@st.composite
def situations(draw: st.DrawFn) -> tuple[list[ScheduleItem], PaymentPlan, PaymentPlan, int]:
    """A schedule with some items paid, waived or partly paid, and a plan to move to."""
    count = draw(st.integers(min_value=1, max_value=12))
    current: PaymentPlan = Installments(count)
    price = draw(st.integers(min_value=count * 2000, max_value=500000))
    paid = draw(st.integers(min_value=0, max_value=count - 1))
    waived = draw(st.integers(min_value=0, max_value=count - 1 - paid))
    items = schedule(current, price, paid=paid, waived=waived)
    open_amount = items[paid + waived].amount.minor
    part = draw(st.integers(min_value=0, max_value=open_amount - 1))
    items = schedule(current, price, paid=paid, waived=waived, part=part)
    new = draw(NEW_PLANS.filter(lambda plan: plan != current))
    return items, current, new, price


@given(situations(), st.integers(min_value=0, max_value=400))
def test_a_plan_change_never_changes_the_total_owed(
    situation: tuple[list[ScheduleItem], PaymentPlan, PaymentPlan, int], days: int
) -> None:
    """Paid + waived + what the new items owe == the price, before and after; no exception.

    (The documented exception, a coupon that does not allow the new plan,
    refuses the change instead of losing the discount: see the refusal test.)
    """
    items, current, new, price = situation
    anchor = TODAY + timedelta(days=days)
    enrollment = an_enrollment(plan=current, price=usd(price))
    try:
        result = plan_change(enrollment, items, new, offered=(current, new), anchor=anchor)
    except PlanError:
        # A deposit of a percent of a small balance may round to the whole of it.
        return
    settled = sum(i.amount_paid.minor for i in items) + sum(
        i.amount.minor for i in items if i.status == ItemStatus.WAIVED
    )
    assert result.owed_before == result.owed_after
    assert settled + result.owed_after.minor == price
    assert total(line.amount for line in result.added) == result.owed_after.minor
    assert total(line.amount for line in result.due_now) == total(
        line.amount for line in result.was_due
    )
    assert {i.id for i in result.removed} == {
        i.id for i in items if i.status == ItemStatus.SCHEDULED
    }
    assert all(line.due >= anchor for line in result.added)
    assert all(line.amount.minor > 0 for line in result.added)
    assert min(line.seq for line in result.added) == max(i.seq for i in items) + 1
    assert result.new_version == result.old_version + 1 == 2
    something_paid = any(i.amount_paid.minor for i in items)
    has_deposit = isinstance(new, Installments) and new.deposit is not None
    assert result.deposit_dropped == (something_paid and has_deposit)
    assert ("deposit" in {line.kind for line in result.added}) == (
        has_deposit and not something_paid
    )


@given(situations(), st.sampled_from([5, 50, 100]))
def test_new_amounts_respect_the_gateway_granularity(
    situation: tuple[list[ScheduleItem], PaymentPlan, PaymentPlan, int], granularity: int
) -> None:
    """Each new amount is a multiple of the granularity, or the change is refused whole."""
    items, current, new, price = situation
    enrollment = an_enrollment(plan=current, price=usd(price))
    try:
        result = plan_change(
            enrollment, items, new, offered=(new,), anchor=TODAY, granularity=granularity
        )
    except PlanError:
        return
    assert all(line.amount.minor % granularity == 0 for line in result.added)
    assert result.owed_after == result.owed_before


def test_an_owed_balance_not_a_multiple_of_the_granularity_is_a_plan_error() -> None:
    """The remaining 1,199.99 cannot be charged in steps of 100 minor units."""
    items = schedule(TWELVE, 120000, part=1)
    with pytest.raises(PlanError, match="multiple"):
        change(items, SIX, granularity=100)


def test_money_currency_follows_the_enrollment() -> None:
    """The owed total is in the enrollment's currency."""
    assert change(schedule(TWELVE, 120000), SIX).owed_before == Money(120000, "USD")
