"""Payers and their shares, and how a schedule is split between payers (examples, properties)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollpay.domain import transitions
from enrollpay.domain.dunning import charged_automatically
from enrollpay.domain.lifecycle import EnrollmentStatus, ItemStatus
from enrollpay.domain.money import Money
from enrollpay.domain.payers import (
    WHOLE,
    Payer,
    PayerShare,
    check_shares,
    payer_parts,
    split_schedule,
)
from enrollpay.domain.plans import Deposit, Installments
from enrollpay.domain.records import ScheduleItem
from enrollpay.domain.schedule import ScheduleLine, build_schedule
from enrollpay.errors import NaiveDatetimeError
from enrollpay.errors_payers import PayerError, PayerShareError, PayerSplitError
from enrollpay.testing.strategies import ScheduleCase, schedule_cases

START = date(2027, 1, 1)
FINITE = ("full", "installments")


def usd(amount: str) -> Money:
    """Shorthand for US dollars."""
    return Money.of(amount, "USD")


def amounts(lines: tuple[ScheduleLine, ...], payer_id: str) -> list[Money]:
    """The amounts one payer owes, in order."""
    return [line.amount for line in lines if line.payer_id == payer_id]


# --- records --------------------------------------------------------------------------------


def test_a_payer_keeps_what_it_is_given() -> None:
    """A valid payer, with and without gateway ids."""
    at = datetime(2027, 1, 1, tzinfo=UTC)
    payer = Payer("pay_1", "employer", "Acme", "ap@acme.test", "cus_1", "pm_1", at)
    assert (payer.kind, payer.gateway_customer_id, payer.payment_method_id) == (
        "employer",
        "cus_1",
        "pm_1",
    )
    assert Payer("pay_2", "self", "Ann", "ann@x.test").gateway_customer_id is None


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "uncle"},
        {"name": "  "},
        {"name": 3},
        {"id": "x" * 201},
        {"email": "not-an-address"},
        {"email": 7},
        {"gateway_customer_id": ""},
        {"payment_method_id": " "},
    ],
)
def test_a_malformed_payer_is_refused(fields: dict[str, object]) -> None:
    """Each malformed field raises PayerError."""
    base: dict[str, object] = {"id": "p", "kind": "parent", "name": "N", "email": "n@x.test"}
    with pytest.raises(PayerError):
        Payer(**{**base, **fields})  # type: ignore[arg-type]


def test_a_naive_creation_time_is_refused() -> None:
    """created_at must be aware."""
    with pytest.raises(NaiveDatetimeError):
        Payer("p", "parent", "N", "n@x.test", created_at=datetime(2027, 1, 1))  # noqa: DTZ001


@pytest.mark.parametrize("bp", [0, -1, WHOLE + 1, True, 1.5, "70"])
def test_a_share_outside_one_to_whole_is_refused(bp: object) -> None:
    """Shares are ints of basis points in 1..10000."""
    with pytest.raises(PayerShareError):
        PayerShare("p", bp)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "shares",
    [
        [],
        [PayerShare("a", 7000)],
        [PayerShare("a", 7000), PayerShare("b", 3001)],
        [PayerShare("a", 5000), PayerShare("a", 5000)],
        ["a"],
    ],
)
def test_shares_must_name_each_payer_once_and_sum_to_whole(shares: list[PayerShare]) -> None:
    """Empty, short, over, duplicated or not shares at all: PayerShareError."""
    with pytest.raises(PayerShareError):
        check_shares(shares)


# --- examples -------------------------------------------------------------------------------


def test_seventy_thirty_over_a_deposit_and_three_installments() -> None:
    """Employer 70%, student 30% of 1000.00 (20% deposit + 3): each line split 70/30."""
    plan = Installments(3, deposit=Deposit.percent(20))
    lines = build_schedule(plan, usd("1000"), START)
    shares = [PayerShare("employer", 7000), PayerShare("student", 3000)]
    split = split_schedule(lines, shares)
    assert amounts(split, "employer") == [usd("140"), usd("186.67"), usd("186.67"), usd("186.66")]
    assert amounts(split, "student") == [usd("60"), usd("80"), usd("80"), usd("80")]
    assert [line.seq for line in split] == list(range(1, 9))
    assert [line.kind for line in split][:2] == ["deposit", "deposit"]
    assert [line.due for line in split][2:4] == [lines[1].due, lines[1].due]


def test_the_leftover_of_the_parts_goes_to_the_largest_share() -> None:
    """0.10 over 3333/3334/3333: the middle, largest share takes the extra cent."""
    parts = payer_parts(
        usd("0.10"), [PayerShare("a", 3333), PayerShare("b", 3334), PayerShare("c", 3333)]
    )
    assert parts == [usd("0.03"), usd("0.04"), usd("0.03")]


def test_ties_give_the_leftover_to_the_first_given() -> None:
    """0.01 over 50/50: the first payer pays it."""
    parts = payer_parts(usd("0.01"), [PayerShare("a", 5000), PayerShare("b", 5000)])
    assert parts == [usd("0.01"), usd("0")]


def test_a_part_below_the_minimum_is_carried_to_the_payers_next_line() -> None:
    """A 5% sponsor of 4 x 10.00 owes 0.50 a line, below a 0.60 minimum: charged with the next."""
    lines = build_schedule(Installments(4), usd("40"), START)
    shares = [PayerShare("student", 9500), PayerShare("sponsor", 500)]
    split = split_schedule(lines, shares, minimum=usd("0.60"))
    assert amounts(split, "sponsor") == [usd("1.00"), usd("1.00")]
    sponsor_dues = [line.due for line in split if line.payer_id == "sponsor"]
    assert sponsor_dues == [lines[1].due, lines[3].due]
    assert amounts(split, "student") == [usd("9.50")] * 4


def test_a_part_left_below_the_minimum_after_the_last_line_joins_the_previous_one() -> None:
    """10.00 then 0.20, halved, minimum 0.50: each payer's 0.10 joins their 5.00."""
    lines = (
        ScheduleLine(1, "deposit", START, usd("10")),
        ScheduleLine(2, "installment", date(2027, 2, 1), usd("0.20")),
    )
    split = split_schedule(
        lines, [PayerShare("a", 5000), PayerShare("b", 5000)], minimum=usd("0.5")
    )
    assert [(line.payer_id, line.amount, line.due) for line in split] == [
        ("a", usd("5.10"), START),
        ("b", usd("5.10"), START),
    ]


def test_a_part_carried_over_lines_is_charged_when_it_reaches_the_minimum() -> None:
    """3 x 1.00 at 20%: 0.20 a line, minimum 0.50: kept back twice, 0.60 on the last line."""
    lines = build_schedule(Installments(3), usd("3"), START)
    split = split_schedule(
        lines, [PayerShare("a", 8000), PayerShare("b", 2000)], minimum=usd("0.50")
    )
    assert amounts(split, "b") == [usd("0.60")]
    assert [line.due for line in split if line.payer_id == "b"] == [lines[2].due]


def test_a_payer_whose_whole_part_is_below_the_minimum_is_refused() -> None:
    """1% of 10.00 is 0.10, below a 0.50 minimum: PayerSplitError names the payer."""
    lines = build_schedule(Installments(2), usd("10"), START)
    with pytest.raises(PayerSplitError, match="'tiny'"):
        split_schedule(
            lines, [PayerShare("big", 9900), PayerShare("tiny", 100)], minimum=usd("0.5")
        )


def test_splitting_nothing_is_refused() -> None:
    """No lines: PayerShareError."""
    with pytest.raises(PayerShareError):
        split_schedule((), [PayerShare("a", WHOLE)])


# --- properties -----------------------------------------------------------------------------


@st.composite
def split_cases(draw: st.DrawFn) -> tuple[ScheduleCase, list[PayerShare], Money]:
    """A finite schedule, 1-5 payers with shares adding up to 100%, and a gateway minimum."""
    case = draw(schedule_cases(kinds=FINITE, max_count=24, max_price_units=10**7))
    count = draw(st.integers(1, 5))
    cuts = sorted(draw(st.sets(st.integers(1, WHOLE - 1), min_size=count - 1, max_size=count - 1)))
    bounds = [0, *cuts, WHOLE]
    shares = [PayerShare(f"p{i}", bounds[i + 1] - bounds[i]) for i in range(count)]
    minimum = Money(draw(st.integers(1, 50)) * case.granularity, case.price.currency)
    return case, shares, minimum


@given(split_cases())
def test_split_payers_schedules_sum_to_the_price(
    drawn: tuple[ScheduleCase, list[PayerShare], Money],
) -> None:
    """Every payer's lines sum to their part; all parts to the price; each line is chargeable.

    Each part is within one step per payer of the exact share; every split
    line is a multiple of the granularity and at least the minimum; the
    split keeps the original due dates and kinds, numbered 1..n.
    """
    case, shares, minimum = drawn
    g = case.granularity
    parts = payer_parts(case.price, shares, granularity=g)
    assert sum(p.minor for p in parts) == case.price.minor
    for share, part in zip(shares, parts, strict=True):
        assert part.minor % g == 0
        assert abs(part.minor * WHOLE - case.price.minor * share.share_bp) < len(shares) * g * WHOLE
    try:
        split = split_schedule(case.lines, shares, granularity=g, minimum=minimum)
    except PayerSplitError:
        assert any(part < minimum for part in parts)
        return
    assert sum(line.amount.minor for line in split) == case.price.minor
    for share, part in zip(shares, parts, strict=True):
        assert sum(a.minor for a in amounts(split, share.payer_id)) == part.minor
    assert all(line.amount.minor % g == 0 and line.amount >= minimum for line in split)
    assert [line.seq for line in split] == list(range(1, len(split) + 1))
    known = {(line.due, line.kind) for line in case.lines}
    assert {(line.due, line.kind) for line in split} <= known
    assert all(line.payer_id in {s.payer_id for s in shares} for line in split)


@given(split_cases())
def test_without_a_minimum_each_line_is_split_pro_rata_and_adds_up(
    drawn: tuple[ScheduleCase, list[PayerShare], Money],
) -> None:
    """With no minimum, the parts of each original line add up to that line exactly."""
    case, shares, _ = drawn
    split = split_schedule(case.lines, shares, granularity=case.granularity)
    for line in case.lines:
        same = [s.amount.minor for s in split if (s.due, s.kind) == (line.due, line.kind)]
        assert sum(same) == sum(
            x.amount.minor for x in case.lines if (x.due, x.kind) == (line.due, line.kind)
        )


# --- the payer in other rules ---------------------------------------------------------------


def _item(seq: int, payer_id: str | None, status: str = "scheduled") -> ScheduleItem:
    return ScheduleItem(
        id=f"i{seq}",
        enrollment_id="e",
        seq=seq,
        kind="installment",
        due=START,
        amount=usd("10"),
        status=ItemStatus(status),
        amount_paid=usd("0"),
        payer_id=payer_id,
    )


def test_dunning_holds_back_only_the_same_payers_later_items() -> None:
    """A's failed item holds A's later item, not B's; the student's (None) are one payer too."""
    failed_a = _item(1, "a", "failed")
    items = [failed_a, _item(2, "b"), _item(3, "a"), _item(4, None)]
    active = EnrollmentStatus.PAST_DUE
    assert charged_automatically(active, items[1], items)
    assert not charged_automatically(active, items[2], items)
    assert charged_automatically(active, items[3], items)
    assert not charged_automatically(active, _item(5, None), [*items, _item(0, None, "failed")])


def test_an_items_events_name_its_payer() -> None:
    """installment.paid of a payer's item carries payer_id; of the student's item, none."""
    at = datetime(2027, 1, 1, tzinfo=UTC)
    mine = transitions.mark_item_paid(_item(1, "a"), amount_paid=usd("10"), at=at)
    theirs = transitions.mark_item_paid(_item(2, None), amount_paid=usd("10"), at=at)
    assert mine.events[0].data["payer_id"] == "a"
    assert "payer_id" not in theirs.events[0].data
