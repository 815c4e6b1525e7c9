"""Shared helpers of the adversarial suite: a wired system, state snapshots, normalisation."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

import attrs
import pytest

from enrollpay import Money, PaymentSystem, SystemConfig
from enrollpay.domain.records import Product
from enrollpay.errors import EnrollpayError, InvalidInputError, WebhookSignatureError
from enrollpay.ports import Store
from enrollpay.service.base import FaultHook
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds, SignedWebhook

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


# -- forged and genuine webhooks (shared with tests/service/usecases/test_webhook_signatures.py)

SECRET = "whsec_fake_secret"
ATTACKER_SECRET = "whsec_attacker"
HEADER = "Stripe-Signature"


def hmac_hex(secret: str, timestamp: int | str, payload: bytes) -> str:
    """Stripe's v1 signature, computed independently of the library."""
    message = f"{timestamp}.".encode() + payload
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(world: World, payload: bytes, *, shift: int = 0, secret: str = SECRET) -> dict[str, str]:
    """A header for ``payload`` signed ``shift`` seconds from the clock's now."""
    stamp = int(world.clock.now().timestamp()) + shift
    return {HEADER: f"t={stamp},v1={hmac_hex(secret, stamp, payload)}"}


def event(world: World, event_type: str, obj: dict[str, Any], **extra: Any) -> bytes:
    """A Stripe-shaped event body."""
    body = {
        "id": extra.pop("event_id", "evt_attack_1"),
        "object": "event",
        "type": event_type,
        "created": int(world.clock.now().timestamp()),
        "livemode": False,
        "data": {"object": obj},
        **extra,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def genuine_webhook(world: World, product: Product) -> SignedWebhook:
    """The real payment_intent.succeeded of a victim's first payment, not delivered yet."""
    result = world.system.enroll(user_id="victim", product_id=product.id)
    assert result.client_secret is not None
    world.fake.complete_payment(result.client_secret)
    (hook,) = world.fake.take_events()
    assert hook.event_type == "payment_intent.succeeded"
    return hook


def refuse(
    world: World, payload: Any, headers: Any, error: type[EnrollpayError] = WebhookSignatureError
) -> str:
    """The webhook is refused with ``error``; nothing at all is written. Returns the message."""
    before = full_state(world)
    with pytest.raises(error) as info:
        world.system.handle_webhook(payload, headers)
    assert full_state(world) == before
    assert isinstance(info.value, InvalidInputError)
    assert SECRET not in str(info.value)
    return str(info.value)


def stamp_of(header: str) -> str:
    """The ``t=`` part of a signature header."""
    return header.split(",", maxsplit=1)[0].removeprefix("t=")


def v1_of(header: str) -> str:
    """The first ``v1=`` part of a signature header."""
    return header.split(",")[1].removeprefix("v1=")
