"""Drift: every branch of comparing a gateway object with what the store holds, and properties."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollpay.domain.drift import (
    APPLICABLE,
    Drift,
    DriftKind,
    StoredPayment,
    StoredRefund,
    compare_payment,
    compare_refund,
)
from enrollpay.domain.money import Money
from enrollpay.domain.records import Payment
from enrollpay.domain.statuses import AttemptStatus, RefundStatus
from enrollpay.ports import LedgerPayment, LedgerRefund

from .transition_records import AT, a_refund, an_attempt, usd

K = DriftKind
OURS = {"attempt_id": "att_1", "item_id": "itm_1", "enrollment_id": "enr_1"}


def listed(status: str = "succeeded", minor: int = 10000, **changes: Any) -> LedgerPayment:
    """Gateway payment pi_1 of ``minor`` cents by customer cus_1, with our metadata."""
    payment = LedgerPayment(
        gateway_payment_id="pi_1",
        status=status,  # type: ignore[arg-type]
        amount=usd(minor),
        created=AT,
        customer_id="cus_1",
        metadata=OURS,
    )
    return attrs.evolve(payment, **changes)


def a_payment(minor: int = 10000, **changes: Any) -> Payment:
    """Payment pay_1 recorded for pi_1."""
    payment = Payment(
        id="pay_1",
        enrollment_id="enr_1",
        item_id="itm_1",
        amount=usd(minor),
        method="gateway",
        received_at=AT,
        gateway_payment_id="pi_1",
        attempt_id="att_1",
    )
    return attrs.evolve(payment, **changes)


def a_listed_refund(status: str = "succeeded", minor: int = 2500, **changes: Any) -> LedgerRefund:
    """Gateway refund re_1 of ``minor`` cents of pi_1."""
    refund = LedgerRefund(
        gateway_refund_id="re_1",
        gateway_payment_id="pi_1",
        amount=usd(minor),
        status=status,  # type: ignore[arg-type]
        created=AT,
    )
    return attrs.evolve(refund, **changes)


def kind(drift: Drift | None) -> DriftKind | None:
    """The drift's kind (None: in sync)."""
    return None if drift is None else drift.kind


# -- payments ------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["failed", "processing", "requires_action", "canceled"])
def test_a_payment_the_gateway_did_not_take_is_in_sync_while_the_store_has_none(
    status: str,
) -> None:
    """Not taken, not recorded: nothing to do (in-flight attempts are looked up by id)."""
    attempt = an_attempt(AttemptStatus.UNKNOWN, gateway_payment_id="pi_1")
    assert compare_payment(listed(status), StoredPayment(attempt=attempt)) is None


def test_a_recorded_payment_the_gateway_did_not_take_is_a_conflict() -> None:
    """The store holds money the gateway shows as failed: a person looks."""
    drift = compare_payment(listed("failed"), StoredPayment(payment=a_payment()))
    assert drift == Drift(
        K.STATUS_CONFLICT,
        "the store holds payment pay_1 of 100.00 USD for pi_1, which the gateway shows as failed",
        "pay_1",
    )
    assert not drift.applicable


def test_a_recorded_payment_with_the_same_amount_is_in_sync() -> None:
    """Taken and recorded alike."""
    known = StoredPayment(attempt=an_attempt(AttemptStatus.SUCCEEDED), payment=a_payment())
    assert compare_payment(listed(), known) is None


def test_a_recorded_payment_of_another_amount_is_a_mismatch() -> None:
    """The gateway took 100.00, the store recorded 90.00."""
    drift = compare_payment(listed(), StoredPayment(payment=a_payment(9000)))
    assert drift == Drift(
        K.AMOUNT_MISMATCH,
        "pi_1 took 100.00 USD; the store recorded 90.00 USD (payment pay_1)",
        "pay_1",
    )


def test_a_payment_of_someone_else_is_left_alone() -> None:
    """No attempt, no payment, none of our metadata: not the library's."""
    assert compare_payment(listed(metadata={"order": "shop-7"}), StoredPayment()) is None


@pytest.mark.parametrize(
    ("metadata", "named"),
    [(OURS, "att_1"), ({"enrollment_id": "enr_9"}, "no attempt")],
)
def test_a_payment_with_our_metadata_that_matches_nothing_is_unknown(
    metadata: dict[str, str], named: str
) -> None:
    """Reported, never guessed at."""
    drift = compare_payment(listed(metadata=metadata), StoredPayment())
    assert drift == Drift(
        K.UNKNOWN_OBJECT,
        f"pi_1 took 100.00 USD with our metadata ({named}), but matches no attempt in the store",
    )
    assert not drift.applicable


def test_metadata_naming_an_attempt_of_another_payment_is_unknown() -> None:
    """The named attempt carries another gateway payment id."""
    named = an_attempt(AttemptStatus.SUCCEEDED, gateway_payment_id="pi_0")
    drift = compare_payment(listed(), StoredPayment(named=named, named_customer="cus_1"))
    assert drift == Drift(
        K.UNKNOWN_OBJECT,
        "pi_1 names attempt att_1, which belongs to gateway payment pi_0",
        "att_1",
    )


def test_metadata_naming_another_students_attempt_is_unknown() -> None:
    """The payment's customer is not the named attempt's student's."""
    named = an_attempt(AttemptStatus.UNKNOWN)
    drift = compare_payment(listed(), StoredPayment(named=named, named_customer="cus_2"))
    assert drift == Drift(
        K.UNKNOWN_OBJECT,
        "pi_1 names attempt att_1, but its customer cus_1 is not that student's",
        "att_1",
    )


def test_an_attempt_named_by_metadata_whose_answer_was_lost_is_a_missing_payment() -> None:
    """Same customer, no gateway id kept yet: applied to the named attempt."""
    named = an_attempt(AttemptStatus.UNKNOWN)
    drift = compare_payment(listed(), StoredPayment(named=named, named_customer="cus_1"))
    assert drift == Drift(
        K.PAYMENT_MISSING, "pi_1 took 100.00 USD; the store has attempt att_1 unknown", "att_1"
    )
    assert drift.applicable


def test_an_attempt_for_another_amount_is_a_mismatch() -> None:
    """The gateway took 120.00 for an attempt of 100.00."""
    attempt = an_attempt(AttemptStatus.FAILED, gateway_payment_id="pi_1")
    drift = compare_payment(listed(minor=12000), StoredPayment(attempt=attempt))
    assert drift == Drift(
        K.AMOUNT_MISMATCH, "pi_1 took 120.00 USD; attempt att_1 was for 100.00 USD", "att_1"
    )


def test_a_succeeded_attempt_without_its_payment_is_a_conflict() -> None:
    """The store's own records disagree: never papered over."""
    attempt = an_attempt(AttemptStatus.SUCCEEDED, gateway_payment_id="pi_1")
    assert kind(compare_payment(listed(), StoredPayment(attempt=attempt))) == K.STATUS_CONFLICT


@pytest.mark.parametrize(
    "status",
    [
        AttemptStatus.PENDING,
        AttemptStatus.UNKNOWN,
        AttemptStatus.FAILED,
        AttemptStatus.REQUIRES_ACTION,
        AttemptStatus.CANCELED,
    ],
)
def test_a_payment_taken_for_an_unsettled_attempt_is_missing(status: AttemptStatus) -> None:
    """The lost ``payment_intent.succeeded``: applied to the attempt with that gateway id."""
    attempt = an_attempt(status, gateway_payment_id="pi_1")
    drift = compare_payment(listed(), StoredPayment(attempt=attempt))
    assert drift == Drift(
        K.PAYMENT_MISSING, f"pi_1 took 100.00 USD; the store has attempt att_1 {status}", "att_1"
    )


# -- refunds ---------------------------------------------------------------------------


def test_a_reference_naming_a_refund_of_another_payment_is_unknown() -> None:
    """Our refund id on a refund of a payment it does not refund; or of no payment of ours."""
    named = a_refund(RefundStatus.SUCCEEDED, payment_id="pay_0")
    other = StoredRefund(named=named, payment=a_payment())
    orphan = StoredRefund(named=named)
    expected = Drift(
        K.UNKNOWN_OBJECT, "re_1 names refund ref_1, which refunds another payment", "ref_1"
    )
    assert compare_refund(a_listed_refund(reference="ref_1"), other) == expected
    assert compare_refund(a_listed_refund(reference="ref_1"), orphan) == expected


def test_our_pending_refund_named_by_reference_takes_the_gateways_outcome() -> None:
    """The send timed out before the gateway's id was kept; the gateway made it."""
    mine = a_refund(RefundStatus.PENDING)
    known = StoredRefund(named=mine, payment=a_payment(), payment_refunds=(mine,))
    drift = compare_refund(a_listed_refund(reference="ref_1"), known)
    assert drift == Drift(
        K.REFUND_SETTLED,
        "refund ref_1 succeeded at the gateway; the store has it pending",
        "ref_1",
    )
    assert drift.applicable


def test_a_known_refund_of_another_payment_is_a_conflict() -> None:
    """Found by its gateway id, but the gateway says it refunds something else."""
    mine = a_refund(RefundStatus.SUCCEEDED, gateway_refund_id="re_1")
    other = StoredRefund(refund=mine, payment=a_payment(id="pay_2"))
    nothing = StoredRefund(refund=mine)
    for known in (other, nothing):
        assert kind(compare_refund(a_listed_refund(), known)) == K.STATUS_CONFLICT


def test_a_known_refund_of_another_amount_is_a_mismatch() -> None:
    """25.00 in the store, 30.00 at the gateway."""
    mine = a_refund(RefundStatus.SUCCEEDED, gateway_refund_id="re_1")
    drift = compare_refund(
        a_listed_refund(minor=3000), StoredRefund(refund=mine, payment=a_payment())
    )
    assert drift == Drift(
        K.AMOUNT_MISMATCH,
        "re_1 refunds 30.00 USD; the store has refund ref_1 of 25.00 USD",
        "ref_1",
    )


@pytest.mark.parametrize(
    ("stored", "seen"),
    [
        (RefundStatus.SUCCEEDED, "succeeded"),
        (RefundStatus.FAILED, "failed"),
        (RefundStatus.PENDING, "pending"),
        (RefundStatus.SUCCEEDED, "pending"),
    ],
)
def test_a_known_refund_with_the_same_outcome_or_a_pending_one_is_in_sync(
    stored: RefundStatus, seen: str
) -> None:
    """Pending is no news; the same outcome is none either."""
    mine = a_refund(stored, gateway_refund_id="re_1")
    assert (
        compare_refund(a_listed_refund(seen), StoredRefund(refund=mine, payment=a_payment()))
        is None
    )


def test_our_pending_refund_that_failed_at_the_gateway_settles_as_failed() -> None:
    """The money did not go back: applied (``refund.failed``)."""
    mine = a_refund(RefundStatus.PENDING, gateway_refund_id="re_1")
    drift = compare_refund(
        a_listed_refund("failed"), StoredRefund(refund=mine, payment=a_payment())
    )
    assert drift == Drift(
        K.REFUND_SETTLED, "refund ref_1 failed at the gateway; the store has it pending", "ref_1"
    )


def test_a_refund_given_up_before_the_gateway_answered_takes_its_success_if_it_fits() -> None:
    """Failed without a gateway id, then the gateway shows it made: settled if there is room."""
    mine = a_refund(RefundStatus.FAILED, amount=usd(2500))
    fits = StoredRefund(named=mine, payment=a_payment(), payment_refunds=(mine,))
    assert kind(compare_refund(a_listed_refund(reference="ref_1"), fits)) == K.REFUND_SETTLED
    other = a_refund(RefundStatus.SUCCEEDED, id="ref_2", amount=usd(8000))
    full = StoredRefund(named=mine, payment=a_payment(), payment_refunds=(mine, other))
    drift = compare_refund(a_listed_refund(reference="ref_1"), full)
    assert drift == Drift(
        K.AMOUNT_MISMATCH,
        "re_1 succeeded, but refund ref_1 would take back more than is left of payment pay_1",
        "ref_1",
    )


@pytest.mark.parametrize(
    ("stored", "seen"), [(RefundStatus.SUCCEEDED, "failed"), (RefundStatus.FAILED, "succeeded")]
)
def test_a_settled_refund_the_gateway_shows_otherwise_is_a_conflict(
    stored: RefundStatus, seen: str
) -> None:
    """Settled with the gateway's id: it never moves on its own."""
    mine = a_refund(stored, gateway_refund_id="re_1")
    drift = compare_refund(a_listed_refund(seen), StoredRefund(refund=mine, payment=a_payment()))
    assert drift == Drift(
        K.STATUS_CONFLICT,
        f"refund ref_1 is {stored} in the store but {seen} at the gateway",
        "ref_1",
    )


def test_a_reference_to_a_refund_the_store_does_not_hold_is_unknown() -> None:
    """Our refund id, but no such refund."""
    drift = compare_refund(a_listed_refund(reference="ref_9"), StoredRefund(payment=a_payment()))
    assert drift == Drift(
        K.UNKNOWN_OBJECT, "re_1 names refund ref_9, which the store does not hold"
    )


def test_a_refund_of_a_payment_that_is_not_ours_is_left_alone() -> None:
    """No payment, no attempt, no reference."""
    assert compare_refund(a_listed_refund(), StoredRefund()) is None


def test_a_refund_of_our_attempt_whose_payment_was_never_recorded_is_unknown() -> None:
    """It cannot be recorded against a payment the store does not have."""
    drift = compare_refund(a_listed_refund(), StoredRefund(attempt_known=True))
    assert drift == Drift(
        K.UNKNOWN_OBJECT, "re_1 refunds 25.00 USD of a payment of ours the store has not recorded"
    )


def test_a_failed_refund_made_elsewhere_is_nothing() -> None:
    """It gave nothing back."""
    assert compare_refund(a_listed_refund("failed"), StoredRefund(payment=a_payment())) is None


def test_a_refund_made_elsewhere_is_missing_when_it_fits() -> None:
    """The dashboard refund: applied to the payment it refunds."""
    earlier = a_refund(RefundStatus.SUCCEEDED, id="ref_0", amount=usd(7500))
    gave_up = a_refund(RefundStatus.FAILED, id="ref_x", amount=usd(5000))
    known = StoredRefund(payment=a_payment(), payment_refunds=(earlier, gave_up))
    for status in ("succeeded", "pending"):
        drift = compare_refund(a_listed_refund(status), known)
        assert drift == Drift(
            K.REFUND_MISSING,
            "re_1 refunded 25.00 USD of payment pay_1 outside the library",
            "pay_1",
        )


def test_a_refund_made_elsewhere_that_does_not_fit_is_a_mismatch() -> None:
    """More than is left of the payment, or in another currency."""
    earlier = a_refund(RefundStatus.SUCCEEDED, id="ref_0", amount=usd(8000))
    known = StoredRefund(payment=a_payment(), payment_refunds=(earlier,))
    drift = compare_refund(a_listed_refund(), known)
    assert drift == Drift(
        K.AMOUNT_MISMATCH,
        "re_1 refunds 25.00 USD of payment pay_1, which has 20.00 USD left to refund",
        "pay_1",
    )
    euros = compare_refund(
        a_listed_refund(amount=Money(100, "EUR")), StoredRefund(payment=a_payment())
    )
    assert kind(euros) == K.AMOUNT_MISMATCH


# -- properties ----------------------------------------------------------------------------

minors = st.integers(min_value=1, max_value=10**7)


@given(taken=minors, recorded=minors, status=st.sampled_from(list(AttemptStatus)))
def test_a_recorded_payment_is_drift_exactly_when_the_amounts_differ(
    taken: int, recorded: int, status: AttemptStatus
) -> None:
    """Whatever the attempt says, a payment the store recorded decides alone."""
    known = StoredPayment(attempt=an_attempt(status), payment=a_payment(recorded))
    drift = compare_payment(listed(minor=taken), known)
    assert kind(drift) == (None if taken == recorded else K.AMOUNT_MISMATCH)


@given(
    taken=minors,
    attempt=minors,
    status=st.sampled_from(list(AttemptStatus)),
    gateway_status=st.sampled_from(["succeeded", "failed", "processing", "canceled"]),
)
def test_a_payment_is_applied_only_when_taken_for_exactly_the_attempts_amount(
    taken: int, attempt: int, status: AttemptStatus, gateway_status: str
) -> None:
    """``payment_missing`` needs a success, the attempt's amount and an unsettled attempt."""
    known = StoredPayment(
        attempt=an_attempt(status, amount=usd(attempt), gateway_payment_id="pi_1")
    )
    drift = compare_payment(listed(gateway_status, minor=taken), known)
    applied = drift is not None and drift.applicable
    assert applied == (
        gateway_status == "succeeded" and taken == attempt and status != AttemptStatus.SUCCEEDED
    )


@given(
    paid=minors,
    earlier=st.lists(st.tuples(minors, st.sampled_from(list(RefundStatus))), max_size=4),
    refunded=minors,
)
def test_a_refund_made_elsewhere_is_applied_only_when_it_fits_in_what_is_left(
    paid: int, earlier: list[tuple[int, RefundStatus]], refunded: int
) -> None:
    """``refund_missing`` iff the amount fits; else a mismatch; failed refunds take no room."""
    refunds = tuple(
        a_refund(status, id=f"ref_{n}", amount=usd(minor))
        for n, (minor, status) in enumerate(earlier)
    )
    left = paid - sum(minor for minor, status in earlier if status != RefundStatus.FAILED)
    known = StoredRefund(payment=a_payment(paid), payment_refunds=refunds)
    drift = compare_refund(a_listed_refund(minor=refunded), known)
    assert kind(drift) == (K.REFUND_MISSING if refunded <= left else K.AMOUNT_MISMATCH)


def test_the_applicable_kinds_are_the_five_the_webhooks_would_have_applied() -> None:
    """Everything else is reported for a person."""
    assert {
        DriftKind.PAYMENT_MISSING,
        DriftKind.REFUND_MISSING,
        DriftKind.REFUND_SETTLED,
        DriftKind.DISPUTE_MISSING,
        DriftKind.DISPUTE_MOVED,
    } == APPLICABLE
