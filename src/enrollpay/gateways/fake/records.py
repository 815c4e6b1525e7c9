"""What the fake recorded: every call it received and the money it moved."""

from __future__ import annotations

from collections.abc import Mapping
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
    """The fake's ids: ``{prefix}_{namespace}_{count:06d}``, one counter for all kinds."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        #: How many ids were made so far (the number in the latest one).
        self.count = 0

    def new(self, prefix: str) -> str:
        """The next id, e.g. ``pi_fake_000001``."""
        self.count += 1
        return f"{prefix}_{self.namespace}_{self.count:06d}"
