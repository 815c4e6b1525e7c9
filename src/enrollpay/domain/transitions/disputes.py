"""Transitions of a dispute (:data:`~enrollpay.domain.transitions.table.DISPUTE`).

A dispute is made when the gateway first reports it, in whatever stage it
is then (a ``closed`` webhook may come before the ``created`` one), with
``payment.disputed``. Later reports move it forward only, each stage
announced once: ``dispute.funds_withdrawn``, ``dispute.won``,
``dispute.lost``, ``dispute.closed`` (an inquiry that ended). A report of
an earlier stage, or an older report of the same stage, changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from enrollpay.domain.events import EventDraft
from enrollpay.domain.machine import Change
from enrollpay.domain.money import Money
from enrollpay.domain.records import Dispute
from enrollpay.domain.statuses import DisputeStatus
from enrollpay.domain.transitions.items import money_data
from enrollpay.domain.transitions.table import DISPUTE

__all__ = ["moves_on", "open_dispute", "report_dispute"]

_D = DisputeStatus

#: The transition that leads to each stage a report can name.
_MOVE_TO: Mapping[DisputeStatus, str] = {
    _D.OPEN: "escalate",
    _D.FUNDS_WITHDRAWN: "withdraw_funds",
    _D.WON: "win",
    _D.LOST: "lose",
    _D.INQUIRY_CLOSED: "close_inquiry",
}
#: The event each stage is announced with (an inquiry and an open chargeback: none).
_ANNOUNCED: Mapping[DisputeStatus, str] = {
    _D.FUNDS_WITHDRAWN: "dispute.funds_withdrawn",
    _D.WON: "dispute.won",
    _D.LOST: "dispute.lost",
    _D.INQUIRY_CLOSED: "dispute.closed",
}
_CLOSED = frozenset({_D.WON, _D.LOST, _D.INQUIRY_CLOSED})


def moves_on(current: DisputeStatus, reported: DisputeStatus) -> bool:
    """Whether a report of stage ``reported`` moves a dispute that is ``current`` forward."""
    name = _MOVE_TO.get(reported)
    return name is not None and DISPUTE.allows(name, current)


def _data(dispute: Dispute) -> dict[str, Any]:
    return {
        "dispute_id": dispute.id,
        "payment_id": dispute.payment_id,
        "amount": money_data(dispute.amount),
        "status": str(dispute.status),
        "gateway_status": dispute.gateway_status,
    }


def _announce(dispute: Dispute, at: datetime, **extra: Any) -> tuple[EventDraft, ...]:
    kind = _ANNOUNCED.get(dispute.status)
    if kind is None:
        return ()
    return (EventDraft(kind, dispute.enrollment_id, at, {**_data(dispute), **extra}),)


def open_dispute(
    *,
    dispute_id: str,
    payment_id: str,
    enrollment_id: str,
    gateway_dispute_id: str,
    amount: Money,
    status: DisputeStatus,
    gateway_status: str,
    reported_at: datetime,
    at: datetime,
    reason: str | None = None,
    evidence_due_by: datetime | None = None,
) -> Change[Dispute]:
    """A dispute first reported, in its stage then (``payment.disputed``, and the stage's event).

    ``reported_at`` is when the gateway dated the report; ``at`` is now.
    """
    record = Dispute(
        id=dispute_id,
        payment_id=payment_id,
        enrollment_id=enrollment_id,
        gateway_dispute_id=gateway_dispute_id,
        amount=amount,
        status=status,
        gateway_status=gateway_status,
        opened_at=at,
        updated_at=at,
        reported_at=reported_at,
        reason=reason,
        evidence_due_by=evidence_due_by,
        closed_at=at if status in _CLOSED else None,
    )
    due = None if evidence_due_by is None else evidence_due_by.isoformat()
    disputed = EventDraft(
        "payment.disputed",
        enrollment_id,
        at,
        {**_data(record), "reason": reason, "evidence_due_by": due},
    )
    return Change(record, (disputed, *_announce(record, at)))


def report_dispute(
    dispute: Dispute,
    *,
    status: DisputeStatus,
    gateway_status: str,
    reported_at: datetime,
    at: datetime,
    reason: str | None = None,
    evidence_due_by: datetime | None = None,
) -> Change[Dispute]:
    """What the gateway now reports of a known dispute.

    A later stage moves the dispute by its named transition and announces
    the stage (``from`` in the event's data). The same stage, reported no
    earlier than the last report, takes the report's gateway status,
    reason and evidence due date (``update``: no event). Anything else is
    no news and returns the dispute unchanged: an earlier stage, a report
    older than the last one, the same facts again, a decided dispute, or a
    stage it cannot reach from where it is (an inquiry closing after its
    funds were withdrawn). A report without a reason or a due date keeps
    the known ones. The report's facts never replace those of a newer
    report, even when it moves the stage on.
    """
    newer = reported_at >= dispute.reported_at
    facts: dict[str, Any] = {}
    if newer:
        facts = {
            "gateway_status": gateway_status,
            "reason": dispute.reason if reason is None else reason,
            "evidence_due_by": dispute.evidence_due_by
            if evidence_due_by is None
            else evidence_due_by,
            "reported_at": reported_at,
        }
    if status == dispute.status:
        updated = attrs.evolve(dispute, **facts)
        same = attrs.evolve(updated, reported_at=dispute.reported_at) == dispute
        if same or not DISPUTE.allows("update", dispute.status):  # a decided dispute stays
            return Change(dispute)
        return Change(attrs.evolve(updated, updated_at=at))
    if not moves_on(dispute.status, status):
        return Change(dispute)
    target = DISPUTE.target_for(dispute.id, _MOVE_TO[status], dispute.status)
    record = attrs.evolve(
        dispute,
        status=target,
        updated_at=at,
        closed_at=at if target in _CLOSED else None,
        **facts,
    )
    return Change(record, _announce(record, at, **{"from": str(dispute.status)}))
