"""Drift of disputes: every branch of comparing a listed dispute with what the store holds."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollpay.domain.drift import Drift, DriftKind
from enrollpay.domain.drift_disputes import StoredDispute, compare_dispute
from enrollpay.domain.money import Money
from enrollpay.domain.statuses import DisputeStatus
from enrollpay.domain.transitions.disputes import moves_on, report_dispute
from enrollpay.ports import GatewayDispute, LedgerDispute

from .test_drift import a_payment
from .transition_records import AT, a_dispute, usd

K = DriftKind
D = DisputeStatus


def seen(status: DisputeStatus | None = D.FUNDS_WITHDRAWN, **changes: Any) -> LedgerDispute:
    """Gateway dispute du_1 of all of pi_1's 100.00 USD, in ``status``."""
    listed = LedgerDispute(
        dispute_id="du_1",
        gateway_payment_id="pi_1",
        amount=usd(10000),
        status=status,
        gateway_status="needs_response",
        created=AT,
        reason="fraudulent",
    )
    return attrs.evolve(listed, **changes)


def test_a_dispute_of_a_payment_that_is_none_of_ours_is_left_alone() -> None:
    """No payment recorded, no attempt of ours: another product's dispute."""
    assert compare_dispute(seen(), StoredDispute()) is None


def test_a_dispute_of_an_attempt_of_ours_with_no_payment_recorded_is_unknown() -> None:
    """The library made the payment but never recorded it: a person looks."""
    drift = compare_dispute(seen(), StoredDispute(attempt_known=True))
    assert drift == Drift(
        K.UNKNOWN_OBJECT,
        "du_1 disputes 100.00 USD of a payment of ours the store has not recorded",
    )
    assert not drift.applicable


def test_a_dispute_recorded_for_another_payment_is_unknown() -> None:
    """The gateway's id is on a dispute of another payment in the store."""
    drift = compare_dispute(
        seen(), StoredDispute(payment=a_payment(), dispute=a_dispute(payment_id="pay_0"))
    )
    assert drift == Drift(
        K.UNKNOWN_OBJECT,
        "du_1 disputes payment pay_1; the store has dispute dsp_1 of payment pay_0",
        "dsp_1",
    )


@pytest.mark.parametrize("amount", [usd(10001), Money(10000, "EUR")])
def test_a_dispute_of_more_than_the_payment_or_in_another_currency_is_a_mismatch(
    amount: Money,
) -> None:
    """Never applied: the dispute cannot be of that payment as the store knows it."""
    drift = compare_dispute(seen(amount=amount), StoredDispute(payment=a_payment()))
    assert drift == Drift(
        K.AMOUNT_MISMATCH, f"du_1 disputes {amount} of payment pay_1 of 100.00 USD", "pay_1"
    )


@pytest.mark.parametrize("recorded", [None, a_dispute(D.OPEN)])
def test_a_status_the_library_does_not_know_is_for_a_person(recorded: Any) -> None:
    """The adapter could not place the gateway's status in a stage: reported, never guessed."""
    known = StoredDispute(payment=a_payment(), dispute=recorded)
    drift = compare_dispute(seen(None, gateway_status="prearbitration"), known)
    assert drift == Drift(
        K.STATUS_CONFLICT,
        "du_1 is 'prearbitration' at the gateway, a status the library does not know",
        None if recorded is None else "dsp_1",
    )


def test_a_dispute_the_store_has_not_recorded_is_missing_and_applied() -> None:
    """Its webhooks were lost: applied as they would have been."""
    drift = compare_dispute(seen(), StoredDispute(payment=a_payment()))
    assert drift == Drift(
        K.DISPUTE_MISSING,
        "du_1 disputes 100.00 USD of payment pay_1 (funds_withdrawn); "
        "the store has no record of it",
        "pay_1",
    )
    assert drift.applicable


def test_a_recorded_dispute_of_another_amount_is_a_mismatch() -> None:
    """The store recorded 40.00 of the payment disputed; the gateway says all of it."""
    known = StoredDispute(payment=a_payment(), dispute=a_dispute(amount=usd(4000)))
    drift = compare_dispute(seen(), known)
    assert drift == Drift(
        K.AMOUNT_MISMATCH,
        "du_1 disputes 100.00 USD; the store has dispute dsp_1 of 40.00 USD",
        "dsp_1",
    )


def test_the_same_stage_is_in_sync() -> None:
    """Nothing to do, whatever the gateway's own status word."""
    known = StoredDispute(payment=a_payment(), dispute=a_dispute(D.FUNDS_WITHDRAWN))
    assert compare_dispute(seen(gateway_status="under_review"), known) is None


@pytest.mark.parametrize(
    ("stored", "listed"),
    [
        (D.FUNDS_WITHDRAWN, D.WON),
        (D.FUNDS_WITHDRAWN, D.LOST),
        (D.OPEN, D.FUNDS_WITHDRAWN),
        (D.INQUIRY, D.OPEN),
        (D.INQUIRY, D.INQUIRY_CLOSED),
    ],
)
def test_a_later_stage_at_the_gateway_moves_the_dispute_on(
    stored: DisputeStatus, listed: DisputeStatus
) -> None:
    """Its closing (or withdrawal) webhook was lost: applied."""
    known = StoredDispute(payment=a_payment(), dispute=a_dispute(stored))
    drift = compare_dispute(seen(listed, gateway_status=str(listed)), known)
    assert drift == Drift(
        K.DISPUTE_MOVED,
        f"dispute dsp_1 is {listed} at the gateway; the store has it {stored}",
        "dsp_1",
    )
    assert drift.applicable


@pytest.mark.parametrize(
    ("stored", "listed"),
    [(D.WON, D.FUNDS_WITHDRAWN), (D.LOST, D.WON), (D.FUNDS_WITHDRAWN, D.INQUIRY_CLOSED)],
)
def test_a_stage_the_store_cannot_reach_from_its_own_is_a_conflict(
    stored: DisputeStatus, listed: DisputeStatus
) -> None:
    """The store is further on, or elsewhere: a person looks."""
    known = StoredDispute(payment=a_payment(), dispute=a_dispute(stored))
    drift = compare_dispute(seen(listed, gateway_status="x"), known)
    assert drift == Drift(
        K.STATUS_CONFLICT,
        f"dispute dsp_1 is {stored} in the store but {listed} (x) at the gateway",
        "dsp_1",
    )
    assert not drift.applicable


@given(stored=st.sampled_from(DisputeStatus), listed=st.sampled_from(DisputeStatus))
def test_moved_on_exactly_when_the_webhook_would_have_moved_it(
    stored: DisputeStatus, listed: DisputeStatus
) -> None:
    """The walk applies what a report of that stage applies: the same rule, not a copy of it."""
    known = StoredDispute(payment=a_payment(), dispute=a_dispute(stored))
    drift = compare_dispute(seen(listed), known)
    moved = report_dispute(
        a_dispute(stored), status=listed, gateway_status="x", reported_at=AT, at=AT
    ).record
    assert (drift is not None and drift.kind == K.DISPUTE_MOVED) == (moved.status != stored)
    assert moves_on(stored, listed) == (moved.status != stored)


def test_a_listed_dispute_reads_as_the_report_a_webhook_carries() -> None:
    """What settling applies is the webhook's report, field for field."""
    report = GatewayDispute(
        dispute_id="du_1",
        gateway_payment_id="pi_1",
        amount=usd(10000),
        status=D.WON,
        gateway_status="won",
        reason="fraudulent",
        evidence_due_by=AT,
    )
    assert LedgerDispute.of(report, created=AT).report == report
