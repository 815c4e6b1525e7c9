"""Shared helpers of the adversarial suite: a wired system, state snapshots, normalisation."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

import attrs

from enrollpay import Money, PaymentSystem, SystemConfig
from enrollpay.ports import Store
from enrollpay.service.base import FaultHook
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds

START = datetime(2027, 3, 15, 9, 0, tzinfo=UTC)


@attrs.define
class World:
    """A payment system with its fake gateway, frozen clock and store."""

    clock: FrozenClock
    fake: FakeGateway
    store: Store
    system: PaymentSystem


def make_world(
    store: Store, *, faults: FaultHook | None = None, config: SystemConfig | None = None
) -> World:
    """A system over ``store``, a fresh fake gateway and a clock at :data:`START`.

    The clock is the wall clock too, of the gateway that signs and the system
    that checks signatures: the attacks are timed to the second against it.
    """
    clock = FrozenClock(START)
    fake = FakeGateway(clock=clock, wall_clock=clock)
    system = PaymentSystem(
        store=store,
        gateway=fake,
        clock=clock,
        wall_clock=clock,
        ids=SequentialIds(),
        faults=faults,
        config=config,
    )
    return World(clock, fake, store, system)


def usd(amount: str) -> Money:
    """Dollars."""
    return Money.of(amount, "USD")


def public_state(system: PaymentSystem) -> dict[str, Any]:
    """Everything observable through the public API."""
    enrollments = system.list_enrollments()
    details = [system.payment_details(e.id) for e in enrollments]
    return {
        "products": system.list_products(),
        "rules": system.list_plan_rules(),
        "enrollments": enrollments,
        "items": system.list_schedule_items(),
        "attempts": [d.attempts for d in details],
        "payments": [d.payments for d in details],
        "refunds": [d.refunds for d in details],
        "audit": system.audit_log(),
    }


def full_state(world: World) -> dict[str, Any]:
    """The public state plus, for stores that offer one, a snapshot of every table.

    ``InMemoryStore.snapshot()`` also shows what the public API does not:
    customers and webhook receipts. Other stores fall back to the public view.
    """
    state = public_state(world.system)
    snapshot = getattr(world.store, "snapshot", None)
    if callable(snapshot):
        state["tables"] = snapshot()
    return state


_ID = re.compile(r"\b(?:[a-z]+_fake_\d{6}(?:_secret(?:_\d+)?)?|[a-z]+_\d{6})\b")


@attrs.define
class Normaliser:
    """Replace ids by their order of first appearance and drop instants.

    Two runs of the same scenario produce the same normal form even if one
    of them used up more ids on the way (a crash and a rerun).
    """

    names: dict[str, str] = attrs.Factory(dict)

    def _rename(self, match: re.Match[str]) -> str:
        found = match.group(0)
        if found not in self.names:
            self.names[found] = f"<id{len(self.names)}>"
        return self.names[found]

    def __call__(self, value: Any) -> Any:
        """The normal form of ``value`` (records become dicts, datetimes disappear)."""
        if isinstance(value, datetime):
            return "<instant>"
        if isinstance(value, (date, Money, bool, int)) or value is None:
            return value
        if isinstance(value, Enum):
            return value.value
        if isinstance(value, str):
            return _ID.sub(self._rename, value)
        if attrs.has(type(value)):
            return {f.name: self(getattr(value, f.name)) for f in attrs.fields(type(value))}
        if isinstance(value, Mapping):
            return {self(k): self(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self(v) for v in value]
        return value


def normal_details(system: PaymentSystem) -> list[Any]:
    """Every enrollment's payment details, normalised for comparison between runs."""
    normalise = Normaliser()
    return [normalise(system.payment_details(e.id)) for e in system.list_enrollments()]
