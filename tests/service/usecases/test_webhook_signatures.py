"""Webhook signatures: ``handle_webhook`` refuses every forged or altered delivery.

Moved from ``tests/adversarial/test_webhook_attacks.py``: these checks run
before any store access, so they are use-case tests on the in-memory store.
A refusal writes nothing at all (the in-memory store's tables included);
the other webhook attacks stay in the adversarial suite, on every store.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from enrollpay import PaymentSystem
from enrollpay.domain.records import Product
from enrollpay.gateways import signing
from enrollpay.gateways.signing import MAX_BODY_BYTES
from enrollpay.ports import Store
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds, SignedWebhook
from tests.adversarial.support import (
    ATTACKER_SECRET,
    HEADER,
    World,
    event,
    genuine_webhook,
    hmac_hex,
    refuse,
    sign,
    stamp_of,
    v1_of,
)


@pytest.fixture
def fake(clock: FrozenClock) -> FakeGateway:
    """The fake, stamping signatures with the frozen clock: the attacks are timed to the second."""
    return FakeGateway(clock=clock, wall_clock=clock)


@pytest.fixture
def system(store: Store, fake: FakeGateway, clock: FrozenClock) -> Iterator[PaymentSystem]:
    """A system that checks signatures against the same frozen clock as its wall clock."""
    payment_system = PaymentSystem(
        store=store, gateway=fake, clock=clock, wall_clock=clock, ids=SequentialIds()
    )
    yield payment_system
    assert payment_system.verify_audit_chain().ok


@pytest.fixture
def world(clock: FrozenClock, fake: FakeGateway, store: Store, system: PaymentSystem) -> World:
    """The use-case fixtures as the adversarial helpers take them."""
    return World(clock, fake, store, system)


@pytest.fixture
def course(three: Product) -> Product:
    """A 300.00 USD course on three monthly installments (a first payment of 100.00)."""
    return three


@pytest.fixture
def genuine(world: World, course: Product) -> SignedWebhook:
    """The real payment_intent.succeeded of a victim's first payment, not delivered yet."""
    return genuine_webhook(world, course)


@pytest.fixture
def hmac_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every HMAC the signature check computes."""
    calls: list[str] = []
    real = signing._hmac

    def spy(secret: str, timestamp: str, payload: bytes) -> str:
        calls.append(timestamp)
        return real(secret, timestamp, payload)

    monkeypatch.setattr(signing, "_hmac", spy)
    return calls


MALFORMED: list[tuple[str, Callable[[str], dict[str, str]]]] = [
    ("missing header", lambda h: {}),
    ("empty header", lambda h: {HEADER: ""}),
    ("other header name", lambda h: {"X-Signature": h}),
    ("no timestamp", lambda h: {HEADER: f"v1={v1_of(h)}"}),
    ("no v1", lambda h: {HEADER: f"t={stamp_of(h)}"}),
    ("only a v0 scheme", lambda h: {HEADER: f"t={stamp_of(h)},v0={v1_of(h)}"}),
    ("duplicate timestamp", lambda h: {HEADER: f"t={stamp_of(h)},t={stamp_of(h)},v1={v1_of(h)}"}),
    ("conflicting timestamps", lambda h: {HEADER: f"t=1,t={stamp_of(h)},v1={v1_of(h)}"}),
    ("non-numeric timestamp", lambda h: {HEADER: f"t=now,v1={v1_of(h)}"}),
    ("negative timestamp", lambda h: {HEADER: f"t=-{stamp_of(h)},v1={v1_of(h)}"}),
    ("fractional timestamp", lambda h: {HEADER: f"t={stamp_of(h)}.0,v1={v1_of(h)}"}),
    ("huge timestamp", lambda h: {HEADER: f"t={'9' * 40},v1={v1_of(h)}"}),
    ("part without equals", lambda h: {HEADER: f"t{stamp_of(h)},v1={v1_of(h)}"}),
    ("truncated signature", lambda h: {HEADER: f"t={stamp_of(h)},v1={v1_of(h)[:-1]}"}),
    ("upper-case signature", lambda h: {HEADER: f"t={stamp_of(h)},v1={v1_of(h).upper()}"}),
    ("empty signature", lambda h: {HEADER: f"t={stamp_of(h)},v1="}),
    (
        "signature for another timestamp",
        lambda h: {HEADER: f"t={int(stamp_of(h)) + 1},v1={v1_of(h)}"},
    ),
]


BODIES: list[tuple[str, Callable[[bytes], bytes]]] = [
    ("pretty-printed", lambda b: json.dumps(json.loads(b), indent=2).encode()),
    ("keys reordered", lambda b: json.dumps(json.loads(b), sort_keys=True).encode()),
    ("spaces after separators", lambda b: json.dumps(json.loads(b)).encode()),
    ("trailing newline", lambda b: b + b"\n"),
    ("leading space", lambda b: b" " + b),
    ("unicode escapes", lambda b: b.replace(b'"object"', b'"\\u006fbject"', 1)),
    ("amount changed", lambda b: b.replace(b'"amount":10000', b'"amount":1', 1)),
]


class TestSignatures:
    """Checks made before any store access: one store kind (memory) suffices for them."""

    @pytest.mark.parametrize(
        "tamper", [c for _, c in MALFORMED], ids=[name for name, _ in MALFORMED]
    )
    def test_malformed_or_missing_signatures_are_refused(
        self, world: World, genuine: SignedWebhook, tamper: Callable[[str], dict[str, str]]
    ) -> None:
        """Every malformed, missing or mismatched signature header is refused, writing nothing."""
        refuse(world, genuine.payload, tamper(genuine.headers[HEADER]))

    def test_a_signature_made_with_another_secret_is_refused(
        self, world: World, genuine: SignedWebhook
    ) -> None:
        """A correctly formed header signed with the attacker's secret is refused."""
        message = refuse(
            world, genuine.payload, sign(world, genuine.payload, secret=ATTACKER_SECRET)
        )
        assert "no signature matches" in message
        assert ATTACKER_SECRET not in message

    def test_several_v1_signatures_of_which_none_matches_are_refused(
        self, world: World, genuine: SignedWebhook
    ) -> None:
        """An attacker's v1 next to a garbage v1 is refused: some v1 must match our secret."""
        stamp = stamp_of(genuine.headers[HEADER])
        forged = hmac_hex(ATTACKER_SECRET, stamp, genuine.payload)
        header = {HEADER: f"t={stamp},v1={forged},v1={'0' * 64}"}
        refuse(world, genuine.payload, header)

    def test_one_matching_v1_among_several_is_accepted(
        self, world: World, genuine: SignedWebhook
    ) -> None:
        """Rotation: a v1 from another secret beside ours is accepted (one match suffices)."""
        stamp = stamp_of(genuine.headers[HEADER])
        other = hmac_hex(ATTACKER_SECRET, stamp, genuine.payload)
        header = {HEADER: f"t={stamp},v1={other},v1={v1_of(genuine.headers[HEADER])}"}

        outcome = world.system.handle_webhook(genuine.payload, header)

        assert outcome.result == "processed"

    def test_the_header_name_is_case_insensitive(
        self, world: World, genuine: SignedWebhook
    ) -> None:
        """HTTP header names are case-insensitive: a lower-case header name is accepted."""
        outcome = world.system.handle_webhook(
            genuine.payload, {HEADER.lower(): genuine.headers[HEADER]}
        )
        assert outcome.result == "processed"

    @pytest.mark.parametrize(("shift", "reason"), [(-301, "too old"), (301, "in the future")])
    def test_stale_and_future_timestamps_are_refused(
        self, world: World, genuine: SignedWebhook, shift: int, reason: str
    ) -> None:
        """A timestamp 301 s in the past or the future is refused, even correctly signed."""
        message = refuse(world, genuine.payload, sign(world, genuine.payload, shift=shift))
        assert reason in message

    @pytest.mark.parametrize("shift", [-300, 300])
    def test_timestamps_at_the_tolerance_are_accepted(
        self, world: World, genuine: SignedWebhook, shift: int
    ) -> None:
        """Exactly 300 s off either way is still inside the tolerance."""
        outcome = world.system.handle_webhook(
            genuine.payload, sign(world, genuine.payload, shift=shift)
        )
        assert outcome.result == "processed"

    def test_a_delivery_signed_long_ago_is_refused_when_it_arrives_late(
        self, world: World, genuine: SignedWebhook
    ) -> None:
        """A captured delivery replayed six minutes later is refused: its timestamp is too old."""
        world.clock.advance(minutes=6)
        refuse(world, genuine.payload, genuine.headers)

    # -- bodies ------------------------------------------------------------------------

    @pytest.mark.parametrize("change", [c for _, c in BODIES], ids=[name for name, _ in BODIES])
    def test_a_re_serialised_or_altered_body_is_refused(
        self, world: World, genuine: SignedWebhook, change: Callable[[bytes], bytes]
    ) -> None:
        """The signature covers the exact bytes: the same JSON written differently is refused."""
        changed = change(genuine.payload)
        assert changed != genuine.payload
        refuse(world, changed, genuine.headers)

    def test_a_body_over_one_mebibyte_is_refused_before_any_hmac(
        self, world: World, genuine: SignedWebhook, hmac_calls: list[str]
    ) -> None:
        """An oversized body is refused on its length alone, without computing an HMAC."""
        payload = genuine.payload + b" " * (MAX_BODY_BYTES + 1 - len(genuine.payload))
        headers = sign(world, payload)
        hmac_calls.clear()

        message = refuse(world, payload, headers)

        assert "larger than" in message
        assert hmac_calls == []

    def test_a_body_of_exactly_one_mebibyte_is_accepted(
        self, world: World, genuine: SignedWebhook
    ) -> None:
        """The size limit is inclusive: 1 MiB of valid, signed JSON is processed."""
        payload = genuine.payload + b" " * (MAX_BODY_BYTES - len(genuine.payload))
        outcome = world.system.handle_webhook(payload, sign(world, payload))
        assert outcome.result == "processed"

    @pytest.mark.parametrize(
        "body", ["{}", memoryview(b"{}"), None], ids=["str", "memoryview", "None"]
    )
    def test_a_body_that_is_not_raw_bytes_is_refused(self, world: World, body: Any) -> None:
        """The raw request bytes are required: a decoded str (or anything else) is refused."""
        refuse(world, body, sign(world, b"{}"))

    def test_a_livemode_event_is_refused_by_a_test_mode_gateway(
        self, world: World, course: Product
    ) -> None:
        """A correctly signed live-mode event sent to a test-mode system is refused."""
        payload = event(
            world, "customer.created", {"id": "cus_x", "object": "customer"}, livemode=True
        )
        message = refuse(world, payload, sign(world, payload))
        assert "livemode" in message
