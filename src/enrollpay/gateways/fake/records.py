"""What the fake recorded: every call it received and the money it moved."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import attrs

from enrollpay.domain.money import Money

__all__ = ["FakeCall", "FakeCharge", "FakeIds"]


@attrs.frozen
class FakeCall:
    """One call the fake received."""

    verb: str
    params: Mapping[str, Any] = attrs.field(hash=False)


@attrs.frozen
class FakeCharge:
    """Money the fake actually moved (a succeeded payment intent)."""

    gateway_payment_id: str
    amount: Money
    customer_id: str
    idempotency_key: str | None


class FakeIds:
    """The fake's ids: ``{prefix}_{namespace}_{count:06d}``, one counter for all kinds.

    An object gets its id when it is made, so the time each id was made
    (``made_at``, by ``now``, the fake's clock) is the object's creation
    time: what the fake's listings filter and order by, as Stripe's
    ``created``.
    """

    def __init__(self, namespace: str, now: Callable[[], datetime] | None = None) -> None:
        self.namespace = namespace
        #: How many ids were made so far (the number in the latest one).
        self.count = 0
        self._now = now
        #: When each id was made (empty without ``now``).
        self.made_at: dict[str, datetime] = {}

    def new(self, prefix: str) -> str:
        """The next id, e.g. ``pi_fake_000001``."""
        self.count += 1
        made = f"{prefix}_{self.namespace}_{self.count:06d}"
        if self._now is not None:
            self.made_at[made] = self._now()
        return made
