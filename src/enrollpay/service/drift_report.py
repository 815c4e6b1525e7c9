"""What drift re-sync found and did: one entry per difference, and the walk's counts.

``reconcile`` returns these inside its :class:`~enrollpay.service.results.ReconcileReport`
(``report.drift``); ``enrollpay reconcile`` prints them as a table or JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import attrs

from enrollpay.domain.drift import DriftKind
from enrollpay.domain.money import Money

__all__ = ["DriftEntry", "DriftReport"]


@attrs.frozen
class DriftEntry:
    """One object whose gateway record differed from the store's.

    ``object_kind`` is ``payment`` or ``refund``; ``applied`` says whether
    the difference was applied (``change`` then says what it changed),
    else it waits for a person (``change`` is empty).
    """

    object_kind: str
    gateway_id: str
    kind: DriftKind
    amount: Money
    detail: str
    applied: bool
    change: str = ""
    enrollment_id: str | None = None


@attrs.frozen
class DriftReport:
    """The walk of the gateway's record: what it read, what differed, where it stopped.

    ``listed`` is False when the gateway cannot list its record (no
    :class:`~enrollpay.ports.LedgerGateway`): nothing was compared.
    ``scanned`` counts the objects read per kind; ``cursors`` is where each
    kind's cursor stands after the run (None: never moved); ``incomplete``
    names the kinds whose walk the gateway cut short (their cursor did not
    move, so the next run reads them again).
    """

    listed: bool = False
    scanned: Mapping[str, int] = attrs.field(factory=dict, hash=False)
    entries: tuple[DriftEntry, ...] = ()
    cursors: Mapping[str, datetime | None] = attrs.field(factory=dict, hash=False)
    incomplete: tuple[str, ...] = ()

    @property
    def fixed(self) -> int:
        """Differences applied."""
        return sum(1 for e in self.entries if e.applied)

    @property
    def open(self) -> int:
        """Differences that need a person."""
        return sum(1 for e in self.entries if not e.applied)

    def summary(self) -> str:
        """One line for logs and cron mail."""
        scanned = " ".join(f"{kind}={count}" for kind, count in self.scanned.items())
        cut = f" incomplete={','.join(self.incomplete)}" if self.incomplete else ""
        return f"drift: scanned {scanned or 'nothing'} fixed={self.fixed} open={self.open}{cut}"
