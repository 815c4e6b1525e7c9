"""The dispute machine, the dispute hold on enrollments, the policy and the money rules."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import attrs
import pytest

from enrollpay.domain import transitions as t
from enrollpay.domain.disputes import (
    CHARGEBACK_STATUSES,
    SUSPEND_ON,
    DisputePolicy,
    refundable,
    withheld,
)
from enrollpay.domain.events import EventDraft
from enrollpay.domain.plans import FullPayment
from enrollpay.domain.records import Dispute
from enrollpay.domain.statuses import (
    DisputeStatus,
    EnrollmentStatus,
    ItemState,
    ItemStatus,
    derive_enrollment_status,
)
from enrollpay.errors import InvalidInputError

from .transition_records import (
    AT,
    ENROLLMENT_ID,
    LATER,
    TODAY,
    a_dispute,
    an_enrollment,
    an_item,
    usd,
)

DSP, ENR, ITM = DisputeStatus, EnrollmentStatus, ItemStatus
DUE = AT + timedelta(days=7)
EARLIER = AT - timedelta(hours=1)


def seen(events: tuple[EventDraft, ...]) -> list[tuple[str, str | None, datetime, dict[str, Any]]]:
    """Each event as (kind, enrollment id, at, data)."""
    return [(e.kind, e.enrollment_id, e.at, dict(e.data)) for e in events]


def facts(dispute: Dispute, status: DisputeStatus, **extra: Any) -> dict[str, Any]:
    """The data of a ``dispute.*`` event about ``dispute`` now in ``status``."""
    return {
        "dispute_id": dispute.id,
        "payment_id": "pay_1",
        "amount": {"minor": 10000, "currency": "USD"},
        "status": str(status),
        "gateway_status": dispute.gateway_status,
        **extra,
    }


# -- opening ------------------------------------------------------------------------------


def open_in(status: DisputeStatus, **overrides: Any) -> t.Change[Dispute]:
    """open_dispute of pay_1 in ``status``, reported an hour before ``LATER``."""
    arguments: dict[str, Any] = {
        "dispute_id": "dsp_1",
        "payment_id": "pay_1",
        "enrollment_id": ENROLLMENT_ID,
        "gateway_dispute_id": "du_1",
        "amount": usd(10000),
        "status": status,
        "gateway_status": "needs_response",
        "reported_at": AT,
        "at": LATER,
        "reason": "fraudulent",
        "evidence_due_by": DUE,
        **overrides,
    }
    return t.open_dispute(**arguments)


def test_a_chargeback_first_reported_with_its_funds_withdrawn() -> None:
    """payment.disputed with the due date, then dispute.funds_withdrawn; not closed."""
    change = open_in(DSP.FUNDS_WITHDRAWN)
    record = change.record
    assert record == Dispute(
        id="dsp_1",
        payment_id="pay_1",
        enrollment_id=ENROLLMENT_ID,
        gateway_dispute_id="du_1",
        amount=usd(10000),
        status=DSP.FUNDS_WITHDRAWN,
        gateway_status="needs_response",
        opened_at=LATER,
        updated_at=LATER,
        reported_at=AT,
        reason="fraudulent",
        evidence_due_by=DUE,
    )
    disputed = facts(record, DSP.FUNDS_WITHDRAWN, reason="fraudulent",
                     evidence_due_by=DUE.isoformat())  # fmt: skip
    assert seen(change.events) == [
        ("payment.disputed", ENROLLMENT_ID, LATER, disputed),
        ("dispute.funds_withdrawn", ENROLLMENT_ID, LATER, facts(record, DSP.FUNDS_WITHDRAWN)),
    ]


@pytest.mark.parametrize(("status", "announced"), [(DSP.INQUIRY, []), (DSP.OPEN, [])])
def test_an_inquiry_or_an_open_chargeback_is_announced_once(
    status: DisputeStatus, announced: list[str]
) -> None:
    """Only payment.disputed; no due date is None in the data."""
    change = open_in(status, evidence_due_by=None, reason=None)
    assert [e.kind for e in change.events] == ["payment.disputed", *announced]
    assert change.events[0].data["evidence_due_by"] is None
    assert change.events[0].data["reason"] is None
    assert change.record.closed_at is None


@pytest.mark.parametrize(
    ("status", "kind"),
    [(DSP.WON, "dispute.won"), (DSP.LOST, "dispute.lost"), (DSP.INQUIRY_CLOSED, "dispute.closed")],
)
def test_a_dispute_first_reported_closed_is_disputed_and_decided_at_once(
    status: DisputeStatus, kind: str
) -> None:
    """A "closed" webhook before the "created" one: made closed, both events."""
    change = open_in(status)
    assert [e.kind for e in change.events] == ["payment.disputed", kind]
    assert change.record.closed_at == LATER


# -- later reports ------------------------------------------------------------------------


def report(dispute: Dispute, status: DisputeStatus, **overrides: Any) -> t.Change[Dispute]:
    """report_dispute of ``dispute`` now in ``status``, reported at LATER."""
    arguments: dict[str, Any] = {
        "status": status,
        "gateway_status": "under_review",
        "reported_at": LATER,
        "at": LATER,
        **overrides,
    }
    return t.report_dispute(dispute, **arguments)


@pytest.mark.parametrize(
    ("before", "after", "kind"),
    [
        (DSP.INQUIRY, DSP.OPEN, None),
        (DSP.INQUIRY, DSP.FUNDS_WITHDRAWN, "dispute.funds_withdrawn"),
        (DSP.OPEN, DSP.FUNDS_WITHDRAWN, "dispute.funds_withdrawn"),
        (DSP.FUNDS_WITHDRAWN, DSP.WON, "dispute.won"),
        (DSP.OPEN, DSP.WON, "dispute.won"),
        (DSP.INQUIRY, DSP.WON, "dispute.won"),
        (DSP.FUNDS_WITHDRAWN, DSP.LOST, "dispute.lost"),
        (DSP.OPEN, DSP.LOST, "dispute.lost"),
        (DSP.INQUIRY, DSP.LOST, "dispute.lost"),
        (DSP.INQUIRY, DSP.INQUIRY_CLOSED, "dispute.closed"),
    ],
)
def test_a_later_stage_moves_the_dispute_and_is_announced(
    before: DisputeStatus, after: DisputeStatus, kind: str | None
) -> None:
    """Each forward move, its event (with where it came from), the report's facts."""
    dispute = a_dispute(before)
    change = report(dispute, after, evidence_due_by=DUE + timedelta(days=1))
    record = change.record
    closed = after in (DSP.WON, DSP.LOST, DSP.INQUIRY_CLOSED)
    assert record == attrs.evolve(
        dispute,
        status=after,
        gateway_status="under_review",
        updated_at=LATER,
        reported_at=LATER,
        evidence_due_by=DUE + timedelta(days=1),
        closed_at=LATER if closed else None,
    )
    expected = [] if kind is None else [
        (kind, ENROLLMENT_ID, LATER, facts(record, after, **{"from": str(before)}))
    ]  # fmt: skip
    assert seen(change.events) == expected


@pytest.mark.parametrize(
    ("before", "reported"),
    [
        (DSP.FUNDS_WITHDRAWN, DSP.OPEN),  # the "created" webhook, after funds_withdrawn
        (DSP.FUNDS_WITHDRAWN, DSP.INQUIRY),
        (DSP.OPEN, DSP.INQUIRY),
        (DSP.WON, DSP.FUNDS_WITHDRAWN),  # funds_withdrawn after closed
        (DSP.LOST, DSP.OPEN),
        (DSP.WON, DSP.LOST),  # a decided dispute stays decided
        (DSP.INQUIRY_CLOSED, DSP.OPEN),
        (DSP.FUNDS_WITHDRAWN, DSP.INQUIRY_CLOSED),  # contradicts what happened
    ],
)
def test_an_earlier_or_impossible_stage_is_no_news(
    before: DisputeStatus, reported: DisputeStatus
) -> None:
    """The very same dispute comes back, no event."""
    dispute = a_dispute(before)
    change = report(dispute, reported)
    assert change.record is dispute
    assert change.events == ()


def test_the_same_stage_reported_later_takes_the_new_facts_without_an_event() -> None:
    """A new gateway status and due date: ``update``; the reason is kept when not reported."""
    dispute = a_dispute(DSP.FUNDS_WITHDRAWN)
    change = report(dispute, DSP.FUNDS_WITHDRAWN, evidence_due_by=DUE + timedelta(days=2))
    assert change.record == attrs.evolve(
        dispute,
        gateway_status="under_review",
        evidence_due_by=DUE + timedelta(days=2),
        reported_at=LATER,
        updated_at=LATER,
    )
    assert change.events == ()


def test_a_report_without_a_due_date_keeps_the_known_one() -> None:
    """No due date in the report: the known one stays (the reason is replaced)."""
    dispute = a_dispute(DSP.OPEN)
    change = report(dispute, DSP.OPEN, reason="duplicate", evidence_due_by=None)
    assert change.record.evidence_due_by == DUE
    assert change.record.reason == "duplicate"


@pytest.mark.parametrize("status", [DSP.FUNDS_WITHDRAWN, DSP.WON])
def test_the_same_facts_again_or_an_older_report_are_no_news(status: DisputeStatus) -> None:
    """Repeated facts (even reported later), or an older report with new ones: unchanged."""
    dispute = a_dispute(status, gateway_status="under_review")
    same = report(dispute, status, reason="fraudulent", evidence_due_by=DUE)
    older = report(dispute, status, gateway_status="needs_response", reported_at=EARLIER)
    assert same.record is dispute
    assert older.record is dispute


def test_a_decided_dispute_keeps_its_facts() -> None:
    """A won dispute reported won again with other facts: no update (decided)."""
    dispute = a_dispute(DSP.WON, gateway_status="won")
    change = report(dispute, DSP.WON, gateway_status="won", evidence_due_by=DUE + timedelta(1))
    assert change.record is dispute


def test_an_older_report_moves_the_stage_but_keeps_the_newer_facts() -> None:
    """funds_withdrawn dated before the update we applied: the stage moves, the facts stay."""
    dispute = a_dispute(DSP.OPEN, gateway_status="under_review", reported_at=LATER)
    change = report(dispute, DSP.FUNDS_WITHDRAWN, gateway_status="needs_response",
                    reported_at=AT, evidence_due_by=DUE + timedelta(days=3))  # fmt: skip
    assert change.record == attrs.evolve(
        dispute, status=DSP.FUNDS_WITHDRAWN, updated_at=LATER, closed_at=None
    )
    assert [e.kind for e in change.events] == ["dispute.funds_withdrawn"]


# -- the hold on the enrollment ------------------------------------------------------------


def hold(enrollment: Any, items: list[Any], held: bool) -> t.Change[Any]:
    """hold_for_dispute on ``TODAY`` at ``LATER``."""
    return t.hold_for_dispute(enrollment, items, held=held, today=TODAY, at=LATER)


def test_a_hold_suspends_a_completed_enrollment() -> None:
    """Completed -> suspended: enrollment.suspended (dispute_hold) and access.suspended."""
    enrollment = an_enrollment(ENR.COMPLETED, plan=FullPayment())
    items = [an_item(ITM.PAID)]
    change = hold(enrollment, items, True)
    assert change.record == attrs.evolve(
        enrollment, status=ENR.SUSPENDED, dispute_hold=True, updated_at=LATER
    )
    assert seen(change.events) == [
        ("enrollment.suspended", ENROLLMENT_ID, LATER,
         {"from": "completed", "to": "suspended", "dispute_hold": True}),
        ("access.suspended", ENROLLMENT_ID, LATER, {"status": "suspended"}),
    ]  # fmt: skip


def test_releasing_the_hold_completes_it_again_and_restores_access() -> None:
    """Suspended (held) -> completed: enrollment.completed and access.restored."""
    enrollment = an_enrollment(ENR.SUSPENDED, plan=FullPayment(), dispute_hold=True)
    change = hold(enrollment, [an_item(ITM.PAID)], False)
    assert (change.record.status, change.record.dispute_hold) == (ENR.COMPLETED, False)
    assert seen(change.events) == [
        ("enrollment.completed", ENROLLMENT_ID, LATER,
         {"from": "suspended", "to": "completed", "dispute_hold": False}),
        ("access.restored", ENROLLMENT_ID, LATER, {"status": "completed"}),
    ]  # fmt: skip


def test_an_active_installment_plan_is_suspended_then_restored() -> None:
    """Active -> suspended -> active (``restore``), the later items still scheduled."""
    items = [an_item(ITM.PAID), an_item(item_id="itm_2", seq=2, due=TODAY + timedelta(30))]
    held = hold(an_enrollment(ENR.ACTIVE), items, True).record
    assert held.status == ENR.SUSPENDED
    released = hold(held, items, False)
    assert released.record.status == ENR.ACTIVE
    assert [e.kind for e in released.events] == ["enrollment.activated", "access.restored"]


def test_a_hold_on_an_enrollment_suspended_already_only_sets_the_flag() -> None:
    """Defaulted and disputed: still suspended, no event; lifting it keeps it suspended."""
    items = [an_item(ITM.PAID), an_item(ITM.DEFAULTED, item_id="itm_2", seq=2)]
    enrollment = an_enrollment(ENR.SUSPENDED)
    held = hold(enrollment, items, True)
    assert held.record == attrs.evolve(enrollment, dispute_hold=True, updated_at=LATER)
    assert held.events == ()
    assert hold(held.record, items, False).record.status == ENR.SUSPENDED


@pytest.mark.parametrize("status", [ENR.PAUSED, ENR.CANCELLED])
def test_a_paused_or_cancelled_enrollment_keeps_the_flag_and_its_status(
    status: EnrollmentStatus,
) -> None:
    """Explicit states are not overridden; the flag is kept for a resume."""
    enrollment = an_enrollment(status)
    change = hold(enrollment, [an_item(ITM.PAID)], True)
    assert change.record == attrs.evolve(enrollment, dispute_hold=True, updated_at=LATER)
    assert change.events == ()


def test_the_flag_as_it_is_changes_nothing() -> None:
    """held=False on an enrollment without a hold: the same record."""
    enrollment = an_enrollment(ENR.ACTIVE)
    assert hold(enrollment, [an_item(ITM.PAID)], False).record is enrollment


def test_a_held_enrollment_resumes_suspended_and_sync_keeps_it_there() -> None:
    """The flag counts wherever the status is derived: resume and sync."""
    items = [an_item(ITM.PAID)]
    paused = an_enrollment(ENR.PAUSED, plan=FullPayment(), dispute_hold=True, paused_on=TODAY)
    resumed = t.resume_enrollment(paused, items, today=TODAY, at=LATER)
    assert resumed.record.status == ENR.SUSPENDED
    suspended = an_enrollment(ENR.SUSPENDED, plan=FullPayment(), dispute_hold=True)
    assert t.sync_enrollment(suspended, items, today=TODAY, at=LATER).record is suspended


def test_derive_puts_a_hold_after_pending_payment() -> None:
    """held: suspended over completed and past_due; nothing paid yet: still pending_payment."""
    paid = [ItemState(ITM.PAID, TODAY)]
    failed = [ItemState(ITM.PAID, TODAY), ItemState(ITM.FAILED, TODAY)]
    unpaid = [ItemState(ITM.SCHEDULED, TODAY)]
    assert derive_enrollment_status(paid, today=TODAY, held=True) == ENR.SUSPENDED
    assert derive_enrollment_status(failed, today=TODAY, held=True) == ENR.SUSPENDED
    assert derive_enrollment_status(unpaid, today=TODAY, held=True) == ENR.PENDING_PAYMENT
    assert derive_enrollment_status(paid, today=TODAY) == ENR.COMPLETED


# -- the policy and the money ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suspend_on", "holding"),
    [
        ("funds_withdrawn", {DSP.FUNDS_WITHDRAWN, DSP.LOST}),
        ("opened", {DSP.OPEN, DSP.FUNDS_WITHDRAWN, DSP.LOST}),
        ("lost", {DSP.LOST}),
        ("never", set()),
    ],
)
def test_the_policy_says_which_stages_withhold_access(
    suspend_on: Any, holding: set[DisputeStatus]
) -> None:
    """Inquiries and won disputes never hold; lost ones do unless never."""
    policy = DisputePolicy(suspend_on=suspend_on)
    assert {s for s in DisputeStatus if policy.holds(s)} == holding
    assert policy.holds_any([DSP.WON, *holding]) == bool(holding)
    assert not policy.holds_any([])


def test_the_default_policy_suspends_on_funds_withdrawn() -> None:
    """The default, and every setting listed."""
    assert DisputePolicy().suspend_on == "funds_withdrawn"
    assert SUSPEND_ON == ("opened", "funds_withdrawn", "lost", "never")


def test_an_unknown_policy_setting_is_refused() -> None:
    """suspend_on outside the four settings: InvalidInputError naming them."""
    with pytest.raises(InvalidInputError, match="suspend_on must be one of"):
        DisputePolicy(suspend_on="always")  # type: ignore[arg-type]


def test_chargebacks_are_every_stage_but_the_inquiries() -> None:
    """An inquiry, open or closed, is not a chargeback."""
    assert frozenset(DisputeStatus) - CHARGEBACK_STATUSES == {DSP.INQUIRY, DSP.INQUIRY_CLOSED}


@pytest.mark.parametrize(
    ("statuses", "refunded", "held"),
    [
        ([DSP.FUNDS_WITHDRAWN], 0, 10000),
        ([DSP.LOST], 0, 10000),
        ([DSP.OPEN], 0, 0),  # nothing withdrawn yet
        ([DSP.WON], 0, 0),  # given back
        ([DSP.INQUIRY], 0, 0),
        ([DSP.FUNDS_WITHDRAWN], 3000, 7000),  # refunded before: capped
        ([DSP.LOST, DSP.LOST], 0, 10000),  # two disputes never take more than the payment
        ([DSP.FUNDS_WITHDRAWN], 12000, 0),  # over-refunded data: never below zero
    ],
)
def test_withheld_is_what_chargebacks_took_capped_by_the_payment(
    statuses: list[DisputeStatus], refunded: int, held: int
) -> None:
    """min(funds out, amount - refunded), at least 0."""
    disputes = [a_dispute(s, id=f"dsp_{n}") for n, s in enumerate(statuses)]
    assert withheld(usd(10000), refunded=usd(refunded), disputes=disputes) == usd(held)


@pytest.mark.parametrize(
    ("statuses", "left"),
    [
        ([], 7000),
        ([DSP.INQUIRY], 7000),
        ([DSP.WON], 7000),
        ([DSP.INQUIRY_CLOSED], 7000),
        ([DSP.OPEN], 0),
        ([DSP.FUNDS_WITHDRAWN], 0),
        ([DSP.LOST], 0),
        ([DSP.WON, DSP.FUNDS_WITHDRAWN], 0),
    ],
)
def test_a_chargeback_not_won_leaves_nothing_to_refund(
    statuses: list[DisputeStatus], left: int
) -> None:
    """Refundable: amount - refunded (30.00 here), unless a chargeback stands."""
    disputes = [a_dispute(s, id=f"dsp_{n}") for n, s in enumerate(statuses)]
    assert refundable(usd(10000), refunded=usd(3000), disputes=disputes) == usd(left)


def test_refundable_is_never_negative() -> None:
    """Refunds over the amount (bad data) leave 0, not a negative amount."""
    assert refundable(usd(10000), refunded=usd(12000), disputes=[]) == usd(0)
