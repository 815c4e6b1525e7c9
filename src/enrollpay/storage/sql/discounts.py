"""Coupons, redemptions and scholarships in a SQL transaction (tables: :mod:`.discount_tables`).

Redeeming is one conditional statement on the coupon's row::

    UPDATE enrollpay_coupons SET redeemed = redeemed + 1
     WHERE code = :code AND active AND (max_redemptions IS NULL OR redeemed < max_redemptions)
    RETURNING once_per_student

On PostgreSQL the row lock it takes is held until the enrollment's
transaction ends, so a concurrent redeemer waits, then sees the new count
(READ COMMITTED re-checks the WHERE on the row it waited for) and never
goes past the cap; the once-per-student check that follows runs under that
lock and sees every committed redemption. SQLite has one writer at a time.
A scholarship is claimed by ``UPDATE ... WHERE enrollment_id IS NULL``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from enrollpay.domain.discounts import Coupon, Scholarship
from enrollpay.domain.money import Money
from enrollpay.errors import DuplicateError
from enrollpay.ports.discounts import Redemption
from enrollpay.storage.sql.discount_tables import coupon_redemptions, coupons, scholarships
from enrollpay.storage.sql.mapping.values import Row
from enrollpay.storage.sql.unit import SqlUnit

__all__ = ["DiscountRepository"]

_C = coupons.c
_R = coupon_redemptions.c
_S = scholarships.c


def _coupon_row(c: Coupon) -> dict[str, Any]:
    return {
        "code": c.code,
        "percent_off": c.percent_off,
        "amounts_off": [{"minor": a.minor, "currency": a.currency} for a in c.amounts_off],
        "expires_at": c.expires_at,
        "max_redemptions": c.max_redemptions,
        "once_per_student": c.once_per_student,
        "product_ids": None if c.product_ids is None else sorted(c.product_ids),
        "plan_kinds": None if c.plan_kinds is None else sorted(c.plan_kinds),
        "active": c.active,
        "redeemed": c.redeemed,
        "created_at": c.created_at,
    }


def _coupon(r: Row) -> Coupon:
    return Coupon(
        code=r["code"],
        percent_off=r["percent_off"],
        amounts_off=[Money(int(a["minor"]), str(a["currency"])) for a in r["amounts_off"]],
        expires_at=r["expires_at"],
        max_redemptions=r["max_redemptions"],
        once_per_student=bool(r["once_per_student"]),
        product_ids=r["product_ids"],
        plan_kinds=r["plan_kinds"],
        active=bool(r["active"]),
        redeemed=r["redeemed"],
        created_at=r["created_at"],
    )


def _scholarship_row(s: Scholarship) -> dict[str, Any]:
    return {
        "id": s.id,
        "user_id": s.user_id,
        "product_id": s.product_id,
        "percent_off": s.percent_off,
        "amount_minor": None if s.amount_off is None else s.amount_off.minor,
        "currency": None if s.amount_off is None else s.amount_off.currency,
        "reason": s.reason,
        "granted_by": s.granted_by,
        "granted_at": s.granted_at,
        "enrollment_id": s.enrollment_id,
    }


def _scholarship(r: Row) -> Scholarship:
    amount = r["amount_minor"]
    return Scholarship(
        id=r["id"],
        user_id=r["user_id"],
        reason=r["reason"],
        granted_by=r["granted_by"],
        granted_at=r["granted_at"],
        percent_off=r["percent_off"],
        amount_off=None if amount is None else Money(amount, r["currency"]),
        product_id=r["product_id"],
        enrollment_id=r["enrollment_id"],
    )


class DiscountRepository(SqlUnit):
    """The coupon and scholarship methods of one SQL transaction."""

    def _insert_new(self, table: sa.Table, row: dict[str, Any]) -> bool:
        insert = (postgresql.insert if self._pg else sqlite.insert)(table)
        stmt: sa.Executable = (
            insert.values(**row).on_conflict_do_nothing().returning(sa.literal_column("1"))
        )
        return self._d.run(stmt).first() is not None

    def add_coupon(self, coupon: Coupon) -> None:
        """Insert a coupon."""
        if not self._insert_new(coupons, _coupon_row(coupon)):
            raise DuplicateError("coupon code", coupon.code)

    def get_coupon(self, code: str) -> Coupon | None:
        """The coupon with this code."""
        row = self._d.run(sa.select(coupons).where(_C.code == code)).first()
        return None if row is None else _coupon(row)

    def list_coupons(self, *, active: bool | None = None) -> list[Coupon]:
        """Coupons by code."""
        stmt = sa.select(coupons).order_by(self._text(_C.code))
        if active is not None:
            stmt = stmt.where(_C.active.is_(active))
        return [_coupon(r) for r in self._d.run(stmt).all()]

    def set_coupon_active(self, code: str, active: bool) -> Coupon | None:
        """Switch a coupon on or off."""
        stmt = sa.update(coupons).where(_C.code == code).values(active=active).returning(coupons)
        row = self._d.run(stmt).first()
        return None if row is None else _coupon(row)

    def redeem_coupon(
        self, code: str, *, user_id: str, enrollment_id: str, at: datetime
    ) -> Redemption:
        """Take one redemption if the coupon is active, below its cap, and new to the user."""
        taken = self._d.run(
            sa.update(coupons)
            .where(
                _C.code == code,
                _C.active.is_(True),
                sa.or_(_C.max_redemptions.is_(None), _C.redeemed < _C.max_redemptions),
            )
            .values(redeemed=_C.redeemed + 1)
            .returning(_C.once_per_student)
        ).first()
        if taken is None:
            found = self._d.run(sa.select(_C.active).where(_C.code == code)).first()
            if found is None:
                return "missing"
            return "exhausted" if found["active"] else "inactive"
        if taken["once_per_student"] and self._g.exists(
            coupon_redemptions, _R.coupon_code == code, _R.user_id == user_id
        ):
            # Give the count back: this unit of work may go on without the coupon.
            self._d.run(sa.update(coupons).where(_C.code == code).values(redeemed=_C.redeemed - 1))
            return "already_redeemed"
        row = {
            "coupon_code": code,
            "enrollment_id": enrollment_id,
            "user_id": user_id,
            "redeemed_at": at,
        }
        if not self._insert_new(coupon_redemptions, row):
            raise DuplicateError("coupon redemption", (code, enrollment_id))
        return "redeemed"

    def coupon_redemptions(self, code: str) -> list[tuple[str, str]]:
        """``(user_id, enrollment_id)`` of each redemption, oldest first."""
        stmt = (
            sa.select(_R.user_id, _R.enrollment_id)
            .where(_R.coupon_code == code)
            .order_by(_R.redeemed_at, self._text(_R.enrollment_id))
        )
        return [(r["user_id"], r["enrollment_id"]) for r in self._d.run(stmt).all()]

    def add_scholarship(self, scholarship: Scholarship) -> None:
        """Insert a scholarship."""
        if not self._insert_new(scholarships, _scholarship_row(scholarship)):
            raise DuplicateError("scholarship", scholarship.id)

    def get_scholarship(self, scholarship_id: str) -> Scholarship | None:
        """The scholarship with this id."""
        row = self._d.run(sa.select(scholarships).where(_S.id == scholarship_id)).first()
        return None if row is None else _scholarship(row)

    def list_scholarships(self, *, user_id: str | None = None) -> list[Scholarship]:
        """Scholarships, oldest grant first."""
        stmt = sa.select(scholarships).order_by(_S.granted_at, self._text(_S.id))
        if user_id is not None:
            stmt = stmt.where(_S.user_id == user_id)
        return [_scholarship(r) for r in self._d.run(stmt).all()]

    def claim_scholarship(self, scholarship_id: str, *, enrollment_id: str) -> bool:
        """Mark an unused scholarship used."""
        stmt = (
            sa.update(scholarships)
            .where(_S.id == scholarship_id, _S.enrollment_id.is_(None))
            .values(enrollment_id=enrollment_id)
        )
        return bool(self._d.run(stmt).rowcount)
