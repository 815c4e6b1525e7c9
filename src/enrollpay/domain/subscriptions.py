"""What the gateway says about the subscription that bills an enrollment.

A gateway that bills a subscription itself (Stripe Billing) reports its
state in ``customer.subscription.*`` events: a status, the current period,
whether it ends at the period's end, when a trial ends. Webhooks arrive in
any order and more than once, so every report is a whole
:class:`SubscriptionState` with an order of its own (:meth:`SubscriptionState.supersedes`):
an older report never overwrites a newer one, and the same report twice
changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import attrs

__all__ = ["ENDED_STATUSES", "SubscriptionState"]

#: Gateway statuses after which the subscription bills nothing more (Stripe's names).
ENDED_STATUSES: Final = frozenset({"canceled", "incomplete_expired"})

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@attrs.frozen
class SubscriptionState:
    """One report of a gateway subscription, as of ``as_of`` (the event's creation time).

    ``status`` is the gateway's own word (``trialing``, ``active``,
    ``past_due``, ``unpaid``, ``canceled``, ...), kept as it is: a status
    the library does not know is recorded, never guessed at.
    """

    status: str
    as_of: datetime
    current_period_start: datetime | None = None
    current_period_end: datetime | None = None
    cancel_at_period_end: bool = False
    trial_end: datetime | None = None

    @property
    def ended(self) -> bool:
        """The subscription bills nothing more (cancelled, or never completed)."""
        return self.status in ENDED_STATUSES

    def _order(self) -> tuple[bool, datetime, datetime, bool, str, datetime]:
        # An end is final; then the later period; then the later report; two
        # reports of the same second are ordered by what they say, so the
        # winner never depends on which came first.
        return (
            self.ended,
            self.current_period_start or _EPOCH,
            self.as_of,
            self.cancel_at_period_end,
            self.status,
            self.current_period_end or _EPOCH,
        )

    def supersedes(self, other: SubscriptionState | None) -> bool:
        """Whether this report is newer than ``other`` (None: nothing known yet).

        Reports are ordered by, in turn: an ended subscription over a live
        one (nothing revives a cancelled subscription), the later current
        period, the later report time (then a fixed order of the fields,
        for two reports of the same second). A report equal to ``other`` (the
        same event again) does not supersede it, so applying it is a no-op.
        """
        if other is None:
            return True
        if self == other:
            return False
        return self._order() > other._order()
