"""A payer's statement: every enrollment the payer pays for, and what is paid, due and overdue.

Read from one snapshot (the read port). Amounts are per currency (a payer
may pay for enrollments priced in different currencies); ``currency``
keeps one. For each enrollment and in total:

- ``paid``: money received on the payer's items (refunds not taken off;
  ``refunded`` says how much of it was given back);
- ``due``: what the payer still owes on open items (not paid, waived or
  cancelled), whenever they fall due;
- ``overdue``: the part of ``due`` on items whose due date has passed.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import attrs

from enrollpay.domain.lifecycle import ItemStatus
from enrollpay.domain.money import Money
from enrollpay.domain.payers import Payer
from enrollpay.domain.records import ScheduleItem
from enrollpay.errors_payers import PayerNotFoundError
from enrollpay.service.base import check_text
from enrollpay.service.context import Context

__all__ = ["PayerEnrollment", "PayerStatement", "PayerTotals", "payer_statement"]

#: Items in these statuses are owed no more.
_CLOSED = frozenset({ItemStatus.PAID, ItemStatus.WAIVED, ItemStatus.CANCELLED})


@attrs.frozen
class PayerTotals:
    """What a payer paid, had refunded, owes and owes late, in one currency."""

    currency: str
    paid: Money
    refunded: Money
    due: Money
    overdue: Money


@attrs.frozen
class PayerEnrollment:
    """One enrollment a payer pays for, with the payer's items of it and their totals."""

    enrollment_id: str
    user_id: str
    product_id: str
    status: str
    items: tuple[ScheduleItem, ...]
    totals: PayerTotals


@attrs.frozen
class PayerStatement:
    """A payer, the enrollments they pay for (oldest first) and the totals per currency."""

    payer: Payer
    as_of: date
    enrollments: tuple[PayerEnrollment, ...]
    totals: tuple[PayerTotals, ...]


def _totals(currency: str, items: list[ScheduleItem], refunded: int, today: date) -> PayerTotals:
    owed = [i for i in items if i.status not in _CLOSED]
    return PayerTotals(
        currency=currency,
        paid=Money(sum(i.amount_paid.minor for i in items), currency),
        refunded=Money(refunded, currency),
        due=Money(sum(i.outstanding.minor for i in owed), currency),
        overdue=Money(sum(i.outstanding.minor for i in owed if i.due < today), currency),
    )


def payer_statement(ctx: Context, payer_id: str, *, currency: str | None = None) -> PayerStatement:
    """The statement of ``payer_id`` (``PayerNotFoundError``), in ``currency`` only if given."""
    check_text(payer_id, "payer_id")
    wanted = None if currency is None else Money.zero(currency).currency
    today = ctx.today(ctx.now())
    with ctx.store.reader() as view:
        payer = view.get_payer(payer_id)
        if payer is None:
            raise PayerNotFoundError(payer_id)
        by_enrollment: dict[str, list[ScheduleItem]] = defaultdict(list)
        for item in view.items_of_payer(payer_id):
            if wanted is None or item.amount.currency == wanted:
                by_enrollment[item.enrollment_id].append(item)
        rows = []
        for enrollment_id, items in by_enrollment.items():
            enrollment = view.get_enrollment(enrollment_id)
            assert enrollment is not None  # noqa: S101 - items belong to enrollments
            mine = {i.id for i in items}
            paid_ids = {p.id for p in view.payments_of(enrollment_id) if p.item_id in mine}
            refunded = sum(
                r.amount.minor
                for r in view.refunds_of(enrollment_id)
                if r.payment_id in paid_ids and r.status != "failed"
            )
            rows.append(
                PayerEnrollment(
                    enrollment_id=enrollment.id,
                    user_id=enrollment.user_id,
                    product_id=enrollment.product_id,
                    status=str(enrollment.status),
                    items=tuple(items),
                    totals=_totals(items[0].amount.currency, items, refunded, today),
                )
            )
    rows.sort(key=lambda row: (row.items[0].due, row.enrollment_id))
    return PayerStatement(payer, today, tuple(rows), _sum(rows))


def _sum(rows: list[PayerEnrollment]) -> tuple[PayerTotals, ...]:
    out: dict[str, PayerTotals] = {}
    for row in rows:
        t = row.totals
        was = out.get(t.currency)
        out[t.currency] = (
            t
            if was is None
            else PayerTotals(
                t.currency,
                was.paid + t.paid,
                was.refunded + t.refunded,
                was.due + t.due,
                was.overdue + t.overdue,
            )
        )
    return tuple(out[c] for c in sorted(out))
