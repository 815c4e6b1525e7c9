"""Coupons, redemptions and scholarships, in every store (memory, SQLite, PostgreSQL).

What the enrollment use case relies on: a coupon comes back equal to what
was stored; a redemption is taken only while the coupon is active and below
its cap, once per student when it says so, and a refused redemption leaves
the count as it was; a scholarship is claimed by one enrollment; everything
rolls back with its transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from enrollpay.domain.discounts import Coupon, Scholarship
from enrollpay.domain.money import Money
from enrollpay.errors import DuplicateError
from enrollpay.ports import Store

from .test_store_contract import T0, a_product, an_enrollment, look, read, write_then_fail

TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def store(store_factory: Callable[[], Store]) -> Store:
    """A fresh, empty store of the kind under test."""
    return store_factory()


def a_coupon(code: str = "SPRING", **changes: object) -> Coupon:
    """A 25% coupon capped at two redemptions unless told otherwise."""
    fields: dict[str, object] = {"percent_off": 2500, "max_redemptions": 2, "created_at": T0}
    fields.update(changes)
    return Coupon(code, **fields)  # type: ignore[arg-type]


def a_scholarship(sid: str = "sch_1", **changes: object) -> Scholarship:
    """A fixed 50.00 USD scholarship for u1, restricted to prod_1, unless told otherwise."""
    fields: dict[str, object] = {
        "id": sid,
        "user_id": "u1",
        "reason": "need-based aid",
        "granted_by": "admin:ana",
        "granted_at": T0,
        "amount_off": Money(50_00, "USD"),
        "product_id": "prod_1",
    }
    fields.update(changes)
    return Scholarship(**fields)  # type: ignore[arg-type]


def test_a_coupon_comes_back_as_stored(store: Store) -> None:
    """Every field round-trips, expiry as an aware instant; codes are unique; listing by code."""
    full = a_coupon(
        "FULL",
        percent_off=None,
        amounts_off=[Money(10_00, "USD"), Money(1000, "JPY")],
        expires_at=T0.astimezone(TOKYO) + timedelta(days=30),
        max_redemptions=None,
        once_per_student=False,
        product_ids={"prod_1", "course-1"},
        plan_kinds={"installments"},
        active=False,
        redeemed=3,
    )
    with store.transaction() as tx:
        tx.add_coupon(full)
        tx.add_coupon(a_coupon())
    found = read(store, lambda tx: tx.get_coupon("FULL"))
    assert found == full
    assert found.expires_at.utcoffset() is not None
    assert read(store, lambda tx: tx.get_coupon("NONE")) is None
    assert [c.code for c in read(store, lambda tx: tx.list_coupons())] == ["FULL", "SPRING"]
    assert [c.code for c in read(store, lambda tx: tx.list_coupons(active=True))] == ["SPRING"]
    assert [c.code for c in read(store, lambda tx: tx.list_coupons(active=False))] == ["FULL"]
    with pytest.raises(DuplicateError), store.transaction() as tx:
        tx.add_coupon(a_coupon())


def test_switching_a_coupon_off_and_on(store: Store) -> None:
    """set_coupon_active returns the coupon as it is now; an unknown code gives None."""
    with store.transaction() as tx:
        tx.add_coupon(a_coupon())
    with store.transaction() as tx:
        off = tx.set_coupon_active("SPRING", False)
        assert off is not None
        assert not off.active
        assert tx.set_coupon_active("NONE", False) is None
    assert (
        read(store, lambda tx: tx.redeem_coupon("SPRING", user_id="u1", enrollment_id="e1", at=T0))
        == "inactive"
    )
    with store.transaction() as tx:
        on = tx.set_coupon_active("SPRING", True)
        assert on is not None
        assert on.active
    assert read(store, lambda tx: tx.get_coupon("SPRING")).redeemed == 0


def test_redemptions_stop_at_the_cap(store: Store) -> None:
    """Two redemptions under a cap of two; the third is exhausted and counts nothing."""
    with store.transaction() as tx:
        tx.add_coupon(a_coupon())
    for user, enrollment in (("u1", "e1"), ("u2", "e2")):
        with store.transaction() as tx:
            assert (
                tx.redeem_coupon("SPRING", user_id=user, enrollment_id=enrollment, at=T0)
                == "redeemed"
            )
    with store.transaction() as tx:
        assert tx.redeem_coupon("SPRING", user_id="u3", enrollment_id="e3", at=T0) == "exhausted"
    assert read(store, lambda tx: tx.get_coupon("SPRING")).redeemed == 2
    assert read(store, lambda tx: tx.coupon_redemptions("SPRING")) == [("u1", "e1"), ("u2", "e2")]
    assert (
        read(store, lambda tx: tx.redeem_coupon("NONE", user_id="u", enrollment_id="e", at=T0))
        == "missing"
    )


def test_once_per_student_counts_committed_and_own_redemptions(store: Store) -> None:
    """A second redemption by the same user is refused and gives its count back; others pass."""
    with store.transaction() as tx:
        tx.add_coupon(a_coupon(max_redemptions=None))
        tx.add_coupon(a_coupon("MANY", max_redemptions=None, once_per_student=False))
    with store.transaction() as tx:
        assert tx.redeem_coupon("SPRING", user_id="u1", enrollment_id="e1", at=T0) == "redeemed"
        # this transaction's own redemption counts too
        assert (
            tx.redeem_coupon("SPRING", user_id="u1", enrollment_id="e2", at=T0)
            == "already_redeemed"
        )
        assert tx.get_coupon("SPRING").redeemed == 1  # type: ignore[union-attr]
    with store.transaction() as tx:
        assert (
            tx.redeem_coupon("SPRING", user_id="u1", enrollment_id="e3", at=T0)
            == "already_redeemed"
        )
        assert tx.redeem_coupon("MANY", user_id="u1", enrollment_id="e3", at=T0) == "redeemed"
        assert tx.redeem_coupon("MANY", user_id="u1", enrollment_id="e4", at=T0) == "redeemed"
    assert read(store, lambda tx: tx.get_coupon("SPRING")).redeemed == 1
    assert read(store, lambda tx: tx.get_coupon("MANY")).redeemed == 2


def test_one_enrollment_redeems_a_coupon_once(store: Store) -> None:
    """The same (code, enrollment) twice is a DuplicateError."""
    with store.transaction() as tx:
        tx.add_coupon(a_coupon(once_per_student=False))
        tx.redeem_coupon("SPRING", user_id="u1", enrollment_id="e1", at=T0)
    with pytest.raises(DuplicateError), store.transaction() as tx:
        tx.redeem_coupon("SPRING", user_id="u1", enrollment_id="e1", at=T0)
    assert read(store, lambda tx: tx.get_coupon("SPRING")).redeemed == 1


def test_redemptions_roll_back_with_their_transaction(store: Store) -> None:
    """A failed unit of work leaves neither the count nor the redemption."""
    with store.transaction() as tx:
        tx.add_coupon(a_coupon())
    with pytest.raises(RuntimeError):
        write_then_fail(
            store, lambda tx: tx.redeem_coupon("SPRING", user_id="u1", enrollment_id="e1", at=T0)
        )
    assert read(store, lambda tx: tx.get_coupon("SPRING")).redeemed == 0
    assert read(store, lambda tx: tx.coupon_redemptions("SPRING")) == []


def test_a_scholarship_comes_back_and_is_claimed_once(store: Store) -> None:
    """Round trip (fixed and percent), listing by grant time and user, one claim only."""
    later = a_scholarship(
        "sch_2",
        user_id="u2",
        amount_off=None,
        percent_off=5000,
        product_id=None,
        granted_at=T0 + timedelta(hours=1),
    )
    with store.transaction() as tx:
        tx.add_scholarship(later)
        tx.add_scholarship(a_scholarship())
    assert read(store, lambda tx: tx.get_scholarship("sch_1")) == a_scholarship()
    assert read(store, lambda tx: tx.get_scholarship("sch_2")) == later
    assert read(store, lambda tx: tx.get_scholarship("sch_3")) is None
    assert [s.id for s in read(store, lambda tx: tx.list_scholarships())] == ["sch_1", "sch_2"]
    assert [s.id for s in read(store, lambda tx: tx.list_scholarships(user_id="u2"))] == ["sch_2"]
    with store.transaction() as tx:
        assert tx.claim_scholarship("sch_1", enrollment_id="e1")
        assert not tx.claim_scholarship("sch_1", enrollment_id="e2")
        assert not tx.claim_scholarship("sch_3", enrollment_id="e3")
    assert read(store, lambda tx: tx.get_scholarship("sch_1")).enrollment_id == "e1"
    with pytest.raises(DuplicateError), store.transaction() as tx:
        tx.add_scholarship(a_scholarship())
    with pytest.raises(RuntimeError):
        write_then_fail(store, lambda tx: tx.claim_scholarship("sch_2", enrollment_id="e9"))
    assert read(store, lambda tx: tx.get_scholarship("sch_2")).enrollment_id is None


def test_an_enrollment_keeps_its_discount(store: Store) -> None:
    """List price, coupon code and scholarship id round-trip; without them they stay empty."""
    discounted = an_enrollment(
        "enr_d",
        price=Money(150_00, "USD"),
        list_price=Money(300_00, "USD"),
        coupon_code="SPRING",
        scholarship_id="sch_1",
    )
    with store.transaction() as tx:
        tx.put_product(a_product())
        tx.add_enrollment(discounted)
        tx.add_enrollment(an_enrollment("enr_p", user="u-2"))
    found = read(store, lambda tx: tx.get_enrollment("enr_d"))
    assert found == discounted
    assert found.discount == Money(150_00, "USD")
    plain = read(store, lambda tx: tx.get_enrollment("enr_p"))
    assert (plain.list_price, plain.coupon_code, plain.scholarship_id) == (None, None, None)
    assert look(store, lambda view: view.get_enrollment("enr_d")) == discounted
