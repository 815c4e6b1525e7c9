"""The dispute figures of the SQL product report (see :mod:`enrollpay.reports`).

Per product: the payments made through the gateway, the chargebacks of its
payments and what they disputed, and what chargebacks withheld, capped per
payment as :func:`enrollpay.domain.disputes.withheld` caps it. Three small
``GROUP BY`` queries; the product report puts their numbers in its rows.
"""

from __future__ import annotations

from collections import defaultdict

import attrs
import sqlalchemy as sa

from enrollpay.domain.disputes import CHARGEBACK_STATUSES, FUNDS_OUT_STATUSES
from enrollpay.storage.sql.reportbase import FAILED_REFUND, ReportBase, as_int, total, zero
from enrollpay.storage.sql.schema import disputes, enrollments, payments, refunds

__all__ = ["DisputeFigures", "DisputeReports"]

_CHARGEBACKS = sorted(s.value for s in CHARGEBACK_STATUSES)
_FUNDS_OUT = sorted(s.value for s in FUNDS_OUT_STATUSES)


@attrs.define
class DisputeFigures:
    """One product's dispute numbers (amounts in minor units)."""

    card_payments: int = 0
    disputes: int = 0
    disputed: int = 0
    withheld: int = 0


class DisputeReports(ReportBase):
    """The dispute half of the product report."""

    def _dispute_figures(self) -> dict[str, DisputeFigures]:
        """Dispute numbers per product id (products without payments are missing)."""
        figures: dict[str, DisputeFigures] = defaultdict(DisputeFigures)
        e, p, d = enrollments.c, payments.c, disputes.c
        by_card = (
            sa.select(e.product_id, sa.func.count().label("n"))
            .select_from(payments.join(enrollments, e.id == p.enrollment_id))
            .where(p.method == "gateway")
            .group_by(e.product_id)
        )
        for row in self._all(by_card):
            figures[row["product_id"]].card_payments = as_int(row["n"])
        chargebacks = (
            sa.select(e.product_id, sa.func.count().label("n"), total(d.amount_minor).label("sum"))
            .select_from(disputes.join(enrollments, e.id == d.enrollment_id))
            .where(d.status.in_(_CHARGEBACKS))
            .group_by(e.product_id)
        )
        for row in self._all(chargebacks):
            figures[row["product_id"]].disputes = as_int(row["n"])
            figures[row["product_id"]].disputed = as_int(row["sum"])
        for product_id, held in self._withheld().items():
            figures[product_id].withheld = held
        return figures

    def _withheld(self) -> dict[str, int]:
        """Per product: min(funds out, payment - refunds) summed over its disputed payments."""
        d, f, p = disputes.c, refunds.c, payments.c
        held = (
            sa.select(d.payment_id, total(d.amount_minor).label("held"))
            .where(d.status.in_(_FUNDS_OUT))
            .group_by(d.payment_id)
            .subquery("held")
        )
        back = (
            sa.select(f.payment_id, total(f.amount_minor).label("back"))
            .where(f.status != FAILED_REFUND)
            .group_by(f.payment_id)
            .subquery("back")
        )
        room = p.amount_minor - sa.func.coalesce(back.c.back, zero())
        per_payment = (
            sa.select(
                enrollments.c.product_id,
                held.c.held.label("held"),
                room.label("room"),
            )
            .select_from(
                payments.join(held, held.c.payment_id == p.id)
                .outerjoin(back, back.c.payment_id == p.id)
                .join(enrollments, enrollments.c.id == p.enrollment_id)
            )
            .subquery("per_payment")
        )
        capped = sa.case(
            (per_payment.c.room <= zero(), zero()),
            (per_payment.c.held < per_payment.c.room, per_payment.c.held),
            else_=per_payment.c.room,
        )
        stmt = sa.select(per_payment.c.product_id, total(capped).label("withheld")).group_by(
            per_payment.c.product_id
        )
        return {row["product_id"]: as_int(row["withheld"]) for row in self._all(stmt)}
