"""The dispute figures of the SQL product report (see :mod:`enrollpay.reports`).

Per product and currency of its enrollments: the payments made through the
gateway, the chargebacks of its payments and what they disputed, and what
chargebacks withheld, capped per payment as
:func:`enrollpay.domain.disputes.withheld` caps it. Three small ``GROUP BY``
queries; the product report puts their numbers in its rows.
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
    """One product's dispute numbers in one currency (amounts in minor units)."""

    card_payments: int = 0
    disputes: int = 0
    disputed: int = 0
    withheld: int = 0


class DisputeReports(ReportBase):
    """The dispute half of the product report."""

    def _dispute_figures(self) -> dict[tuple[str, str], DisputeFigures]:
        """Dispute numbers per (product id, currency) (products without payments are missing)."""
        figures: dict[tuple[str, str], DisputeFigures] = defaultdict(DisputeFigures)
        e, p, d = enrollments.c, payments.c, disputes.c
        by_card = (
            sa.select(e.product_id, e.currency, sa.func.count().label("n"))
            .select_from(payments.join(enrollments, e.id == p.enrollment_id))
            .where(p.method == "gateway")
            .group_by(e.product_id, e.currency)
        )
        for row in self._all(by_card):
            figures[(row["product_id"], row["currency"])].card_payments = as_int(row["n"])
        chargebacks = (
            sa.select(
                e.product_id,
                e.currency,
                sa.func.count().label("n"),
                total(d.amount_minor).label("sum"),
            )
            .select_from(disputes.join(enrollments, e.id == d.enrollment_id))
            .where(d.status.in_(_CHARGEBACKS))
            .group_by(e.product_id, e.currency)
        )
        for row in self._all(chargebacks):
            key = (row["product_id"], row["currency"])
            figures[key].disputes = as_int(row["n"])
            figures[key].disputed = as_int(row["sum"])
        for key, held in self._withheld().items():
            figures[key].withheld = held
        return figures

    def _withheld(self) -> dict[tuple[str, str], int]:
        """Per product and currency: min(funds out, payment - refunds) over disputed payments."""
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
                enrollments.c.currency,
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
        pp = per_payment.c
        stmt = sa.select(pp.product_id, pp.currency, total(capped).label("withheld")).group_by(
            pp.product_id, pp.currency
        )
        return {
            (row["product_id"], row["currency"]): as_int(row["withheld"]) for row in self._all(stmt)
        }
