"""The admin's screen of one enrollment: schedule, money, audit trail, links to its actions.

Two sections appear only where they apply: **Payers**, when the
enrollment's schedule is split between payers (each payer's share, what
they owe in all and still owe, and their items), and **Seat**, when the
product has a seat limit (the seat the enrollment holds or reserves, else
the student's place on the waitlist or the offer waiting for them).

The actions themselves are in :mod:`.admin_enrollment_actions` (pause,
resume, cancel), :mod:`.admin_plan_change_pages` (change plan) and
:mod:`.admin_item_pages` (one item's actions).
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from enrollpay import Money, PaymentSystem
from enrollpay.domain.lifecycle import ItemStatus
from enrollpay.domain.payers import Payer
from enrollpay.domain.plan_change import NOT_CHANGEABLE
from enrollpay.domain.plans import describe_plan
from enrollpay.domain.records import AuditEntry, Enrollment, ScheduleItem
from enrollpay.domain.seats import Seat, WaitlistEntry, WaitlistStatus

from .admin_forms import Admin, System
from .web import page

__all__ = ["OPEN", "PayerPart", "SeatPlace", "payer_parts", "router", "seat_place"]

OPEN = {
    ItemStatus.SCHEDULED,
    ItemStatus.FAILED,
    ItemStatus.REQUIRES_ACTION,
    ItemStatus.REQUIRES_PAYMENT_METHOD,
    ItemStatus.DEFAULTED,
    ItemStatus.PAUSED,
    ItemStatus.PROCESSING,
}

router = APIRouter(prefix="/admin")


@attrs.frozen
class PayerPart:
    """One payer of a split enrollment: their share, their items and what those owe."""

    payer: Payer
    #: The share in basis points as audited at enrollment (``enrollment.split``); None if absent.
    share_bp: int | None
    items: tuple[ScheduleItem, ...]
    total: Money
    outstanding: Money

    @property
    def share(self) -> str:
        """The share as a percentage: ``"70%"``, ``"33.33%"``."""
        if self.share_bp is None:
            return "?"
        whole, cents = divmod(self.share_bp, 100)
        return f"{whole}%" if cents == 0 else f"{whole}.{cents:02d}%"


@attrs.frozen
class SeatPlace:
    """Where the enrollment's student stands for a product with a seat limit."""

    limit: int
    #: The live seat the enrollment holds or reserves, if any.
    seat: Seat | None
    #: Otherwise the student's open waitlist entry (waiting or offered), if any.
    entry: WaitlistEntry | None
    #: The entry's place among those waiting (1: next in line); None unless waiting.
    position: int | None


def payer_parts(
    system: PaymentSystem, items: Sequence[ScheduleItem], audit: Sequence[AuditEntry]
) -> list[PayerPart]:
    """Each payer of the items, in the order they first owe one (empty: the student pays)."""
    shares: dict[str, int] = {}
    for entry in audit:
        if entry.action == "enrollment.split":
            shares = dict(entry.data.get("shares", {}))
    order = list(dict.fromkeys(i.payer_id for i in items if i.payer_id is not None))
    parts = []
    for payer_id in order:
        mine = tuple(i for i in items if i.payer_id == payer_id)
        zero = Money.zero(mine[0].amount.currency)
        counted = [i for i in mine if i.status != ItemStatus.SUPERSEDED]
        parts.append(
            PayerPart(
                payer=system.get_payer(payer_id),
                share_bp=shares.get(payer_id),
                items=mine,
                total=sum((i.amount for i in counted), zero),
                outstanding=sum((i.outstanding for i in counted), zero),
            )
        )
    return parts


def seat_place(
    system: PaymentSystem, enrollment: Enrollment, limit: int | None
) -> SeatPlace | None:
    """The enrollment's seat or its student's place in line; None without a seat limit."""
    if limit is None:
        return None
    view = system.seats(enrollment.product_id)
    seat = next((s for s in view.seats if s.enrollment_id == enrollment.id and s.live), None)
    if seat is not None:
        return SeatPlace(limit=limit, seat=seat, entry=None, position=None)
    entry = next((e for e in view.waitlist if e.user_id == enrollment.user_id), None)
    waiting = [e.id for e in view.waiting]
    position = None
    if entry is not None and entry.status is WaitlistStatus.WAITING:
        position = waiting.index(entry.id) + 1
    return SeatPlace(limit=limit, seat=None, entry=entry, position=position)


@router.get("/enrollments/{enrollment_id}", response_class=HTMLResponse)
def enrollment_page(
    request: Request, system: System, _admin: Admin, enrollment_id: str
) -> Response:
    """The enrollment with its schedule, money, audit trail and the actions on it."""
    details = system.payment_details(enrollment_id)
    audit = system.audit_log(entity_type="enrollment", entity_id=enrollment_id)
    for item in details.items:
        audit += system.audit_log(entity_type="schedule_item", entity_id=item.id)
    audit.sort(key=lambda entry: entry.seq)
    enrollment = details.enrollment
    return page(
        request,
        "enrollment.html",
        {
            "d": details,
            "plan": describe_plan(enrollment.plan),
            "audit": audit,
            "open": {i.id for i in details.items if i.status in OPEN},
            "changeable": enrollment.status not in NOT_CHANGEABLE,
            "payers": payer_parts(system, details.items, audit),
            "seat": seat_place(system, enrollment, details.product.seat_limit),
        },
    )
