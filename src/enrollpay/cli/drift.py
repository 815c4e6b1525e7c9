"""How ``enrollpay reconcile`` shows a run: summary lines, the drift table, JSON, exit status.

Exit status of ``reconcile`` (:func:`exit_status`):

- ``0`` in sync: nothing differs, nothing is left unknown;
- ``1`` not yet in sync, and nothing needs a person: drift was fixed, an
  outcome is still unknown, or the gateway cut a listing short (the next
  run picks it up);
- ``2`` something needs a person: a difference that was not applied
  (an amount that differs, an object that matches nothing, a conflict, a
  bank debit still processing past its settlement window) or a refund the
  gateway refused.

A bank debit processing within its window is no failure: it counts as
``settling`` and leaves the status at 0.

(Usage errors exit 2 as well, as everywhere in the CLI; they print
``Error: ...`` on standard error and nothing on standard output.)
"""

from __future__ import annotations

import json
from typing import Any, Final

from enrollpay.cli.tables import Column, Table
from enrollpay.service.drift_report import DriftEntry
from enrollpay.service.results import ReconcileReport

__all__ = ["FIXED", "IN_SYNC", "NEEDS_PERSON", "drift_table", "exit_status", "report_json"]

IN_SYNC: Final = 0
#: Not in sync yet, but nothing a person must do (drift fixed, outcomes pending).
FIXED: Final = 1
#: Drift that was not applied, or a refund the gateway refused.
NEEDS_PERSON: Final = 2


def exit_status(report: ReconcileReport) -> int:
    """0 in sync, 1 fixed (or still settling), 2 needs a person."""
    if report.needs_person:
        return NEEDS_PERSON
    return IN_SYNC if report.in_sync else FIXED


_COLUMNS = (
    Column("object", "Object"),
    Column("gateway_id", "Gateway id"),
    Column("kind", "Difference"),
    Column("amount", "Amount", "money"),
    Column("applied", "Applied"),
    Column("change", "What changed / why not"),
    Column("enrollment_id", "Enrollment"),
)


def _row(entry: DriftEntry) -> tuple[Any, ...]:
    outcome = entry.change if entry.applied else f"needs a person: {entry.detail}"
    return (
        entry.object_kind,
        entry.gateway_id,
        str(entry.kind),
        entry.amount,
        "yes" if entry.applied else "no",
        outcome,
        entry.enrollment_id or "",
    )


def drift_table(report: ReconcileReport) -> Table:
    """The differences found, one row each (applied or left for a person)."""
    return Table(
        "drift",
        "Drift between the gateway and the store",
        _COLUMNS,
        tuple(_row(entry) for entry in report.drift.entries),
    )


def _money(entry: DriftEntry) -> dict[str, Any]:
    amount = entry.amount
    return {"minor": amount.minor, "currency": amount.currency, "amount": str(amount.amount)}


def report_json(report: ReconcileReport) -> str:
    """The whole run as indented JSON (amounts exact, times in ISO 8601)."""
    drift = report.drift
    document = {
        "exit_status": exit_status(report),
        "in_sync": report.in_sync,
        "needs_person": report.needs_person,
        "attempts": {
            "checked": report.checked,
            "resolved": report.resolved,
            "resent": report.resent,
            "still_unknown": report.still_unknown,
            "settling": report.settling,
        },
        "refunds": {"completed": report.refunds_completed, "failed": report.refunds_failed},
        "drift": {
            "listed": drift.listed,
            "scanned": dict(drift.scanned),
            "fixed": drift.fixed,
            "open": drift.open,
            "incomplete": list(drift.incomplete),
            "cursors": {
                kind: None if at is None else at.isoformat() for kind, at in drift.cursors.items()
            },
            "entries": [
                {
                    "object": e.object_kind,
                    "gateway_id": e.gateway_id,
                    "kind": str(e.kind),
                    "amount": _money(e),
                    "applied": e.applied,
                    "change": e.change,
                    "detail": e.detail,
                    "enrollment_id": e.enrollment_id,
                }
                for e in drift.entries
            ],
        },
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
