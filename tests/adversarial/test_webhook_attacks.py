"""Forged, malformed, replayed and misdirected webhooks are refused or ignored, writing nothing.

Refused (``WebhookSignatureError`` or ``WebhookPayloadError``) means the
store is exactly as it was, webhook receipts included. Ignored and duplicate
events are acknowledged: an ignored event writes only its receipt (so that
a redelivery is a duplicate), a duplicate writes nothing at all.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import attrs
import pytest

from enrollpay import ItemStatus, PaymentSystem
from enrollpay.domain.records import Product
from enrollpay.errors import (
    EnrollpayError,
    InvalidInputError,
    WebhookPayloadError,
    WebhookSignatureError,
)
from enrollpay.gateways import signing
from enrollpay.gateways.signing import MAX_BODY_BYTES
from enrollpay.ports import GatewayRefund
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway, FrozenClock, SignedWebhook
from tests.adversarial.support import START, World, full_state, make_world, public_state, usd

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


@pytest.fixture
def genuine(world: World, course: Product) -> SignedWebhook:
    """The real payment_intent.succeeded of a victim's first payment, not delivered yet."""
    result = world.system.enroll(user_id="victim", product_id=course.id)
    assert result.client_secret is not None
    world.fake.complete_payment(result.client_secret)
    (hook,) = world.fake.take_events()
    assert hook.event_type == "payment_intent.succeeded"
    return hook


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


def only_receipt_written(world: World, before: dict[str, Any], event_id: str) -> None:
    """Nothing changed but the receipt of ``event_id`` (which makes redelivery a duplicate)."""
    after = full_state(world)
    assert public_state(world.system) == {k: before[k] for k in public_state(world.system)}
    if "tables" in before:
        old, new = dict(before["tables"]), dict(after["tables"])
        old_receipts, new_receipts = old.pop("receipts"), new.pop("receipts")
        assert new == old
        assert set(new_receipts) - set(old_receipts) == {event_id}
        assert new_receipts[event_id].outcome == "ignored"


# -- signatures --------------------------------------------------------------------


def _t(header: str) -> str:
    return header.split(",", maxsplit=1)[0].removeprefix("t=")


def _v1(header: str) -> str:
    return header.split(",")[1].removeprefix("v1=")


MALFORMED: list[tuple[str, Callable[[str], dict[str, str]]]] = [
    ("missing header", lambda h: {}),
    ("empty header", lambda h: {HEADER: ""}),
    ("other header name", lambda h: {"X-Signature": h}),
    ("no timestamp", lambda h: {HEADER: f"v1={_v1(h)}"}),
    ("no v1", lambda h: {HEADER: f"t={_t(h)}"}),
    ("only a v0 scheme", lambda h: {HEADER: f"t={_t(h)},v0={_v1(h)}"}),
    ("duplicate timestamp", lambda h: {HEADER: f"t={_t(h)},t={_t(h)},v1={_v1(h)}"}),
    ("conflicting timestamps", lambda h: {HEADER: f"t=1,t={_t(h)},v1={_v1(h)}"}),
    ("non-numeric timestamp", lambda h: {HEADER: f"t=now,v1={_v1(h)}"}),
    ("negative timestamp", lambda h: {HEADER: f"t=-{_t(h)},v1={_v1(h)}"}),
    ("fractional timestamp", lambda h: {HEADER: f"t={_t(h)}.0,v1={_v1(h)}"}),
    ("huge timestamp", lambda h: {HEADER: f"t={'9' * 40},v1={_v1(h)}"}),
    ("part without equals", lambda h: {HEADER: f"t{_t(h)},v1={_v1(h)}"}),
    ("truncated signature", lambda h: {HEADER: f"t={_t(h)},v1={_v1(h)[:-1]}"}),
    ("upper-case signature", lambda h: {HEADER: f"t={_t(h)},v1={_v1(h).upper()}"}),
    ("empty signature", lambda h: {HEADER: f"t={_t(h)},v1="}),
    ("signature for another timestamp", lambda h: {HEADER: f"t={int(_t(h)) + 1},v1={_v1(h)}"}),
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

    @pytest.fixture
    def world(self) -> Iterator[World]:
        """A system over an in-memory store."""
        made = make_world(InMemoryStore())
        yield made
        assert made.system.verify_audit_chain().ok

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
        stamp = _t(genuine.headers[HEADER])
        forged = hmac_hex(ATTACKER_SECRET, stamp, genuine.payload)
        header = {HEADER: f"t={stamp},v1={forged},v1={'0' * 64}"}
        refuse(world, genuine.payload, header)

    def test_one_matching_v1_among_several_is_accepted(
        self, world: World, genuine: SignedWebhook
    ) -> None:
        """Rotation: a v1 from another secret beside ours is accepted (one match suffices)."""
        stamp = _t(genuine.headers[HEADER])
        other = hmac_hex(ATTACKER_SECRET, stamp, genuine.payload)
        header = {HEADER: f"t={stamp},v1={other},v1={_v1(genuine.headers[HEADER])}"}

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


_PI = b'"type":"payment_intent.succeeded","created":1,"data":{"object":{"id":"pi_1",'
PAYLOADS: list[tuple[str, bytes, type[EnrollpayError]]] = [
    ("not JSON", b"<xml/>", WebhookPayloadError),
    ("not UTF-8", b"\xff\xfe{}", WebhookPayloadError),
    ("a JSON list", b"[1, 2]", WebhookPayloadError),
    ("not an event", b'{"object": "payment_intent", "id": "pi_1"}', WebhookPayloadError),
    (
        "no data",
        b'{"object": "event", "id": "evt_1", "type": "x", "created": 1}',
        WebhookPayloadError,
    ),
    (
        "amount not a number",
        b'{"object":"event","id":"evt_1",' + _PI + b'"amount":"lots","currency":"usd"}}}',
        WebhookPayloadError,
    ),
    (
        "metadata not an object",
        b'{"object":"event","id":"evt_1",' + _PI + b'"amount":1,"currency":"usd","metadata":[1]}}}',
        WebhookPayloadError,
    ),
    (
        "unknown currency",
        b'{"object":"event","id":"evt_1",' + _PI + b'"amount":100,"currency":"zzz"}}}',
        WebhookPayloadError,
    ),
]


@pytest.mark.parametrize(
    ("payload", "error"), [(p, e) for _, p, e in PAYLOADS], ids=[name for name, _, _ in PAYLOADS]
)
def test_signed_but_malformed_events_are_refused(
    world: World, payload: bytes, error: type[EnrollpayError]
) -> None:
    """A genuine signature over a body that is not a well-formed event: refused, nothing written."""
    refuse(world, payload, sign(world, payload), error)


# -- replays and misdirected events ------------------------------------------------


def test_a_replayed_event_is_a_duplicate_and_writes_nothing(
    world: World, genuine: SignedWebhook
) -> None:
    """Redelivering a processed event, freshly signed or not, writes nothing at all."""
    first = world.system.handle_webhook(genuine.payload, genuine.headers)
    before = full_state(world)

    again = world.system.handle_webhook(genuine.payload, genuine.headers)
    world.clock.advance(minutes=10)
    resigned = world.system.handle_webhook(genuine.payload, sign(world, genuine.payload))

    assert first.result == "processed"
    assert (again.result, resigned.result) == ("duplicate", "duplicate")
    assert full_state(world) == before


def test_a_known_event_id_with_other_content_is_a_duplicate(
    world: World, genuine: SignedWebhook
) -> None:
    """The event id decides: a second body under a processed id is not applied."""
    world.system.handle_webhook(genuine.payload, genuine.headers)
    body = json.loads(genuine.payload)
    body["type"] = "payment_intent.payment_failed"
    body["data"]["object"]["status"] = "requires_payment_method"
    payload = json.dumps(body).encode()
    before = full_state(world)

    outcome = world.system.handle_webhook(payload, sign(world, payload))

    assert outcome.result == "duplicate"
    assert full_state(world) == before


def _victim_off_session_attempt(world: World, course: Product) -> tuple[str, str]:
    """A victim whose second installment's charge timed out before reaching the gateway.

    Returns (enrollment id, attempt id); the attempt has no gateway payment id.
    """
    result = world.system.enroll(user_id="victim", product_id=course.id)
    assert result.client_secret is not None
    world.fake.complete_payment(result.client_secret)
    world.fake.deliver(world.system)
    world.clock.set(world.clock.now() + timedelta(days=31))
    world.fake.script("timeout_before")
    (outcome,) = world.system.collect_due().outcomes
    assert outcome.result == "unknown"
    assert outcome.attempt_id is not None
    return result.enrollment_id, outcome.attempt_id


@pytest.mark.parametrize("attempt_has_payment_id", [True, False])
def test_metadata_pointing_at_another_customers_enrollment_is_ignored(
    world: World, course: Product, attempt_has_payment_id: bool
) -> None:
    """An attacker's payment naming the victim's attempt in its metadata changes nothing."""
    if attempt_has_payment_id:
        result = world.system.enroll(user_id="victim", product_id=course.id)
        enrollment_id = result.enrollment_id
        attempt = world.system.payment_details(enrollment_id).attempts[0]
        assert attempt.gateway_payment_id is not None
    else:
        enrollment_id, attempt_id = _victim_off_session_attempt(world, course)
        attempt = next(
            a for a in world.system.payment_details(enrollment_id).attempts if a.id == attempt_id
        )
        assert attempt.gateway_payment_id is None
    attacker = world.fake.ensure_customer("attacker", idempotency_key="customer:attacker")
    payload = event(
        world,
        "payment_intent.succeeded",
        {
            "id": "pi_attacker",
            "object": "payment_intent",
            "amount": attempt.amount.minor,
            "currency": "usd",
            "customer": attacker,
            "status": "succeeded",
            "metadata": {
                "attempt_id": attempt.id,
                "item_id": attempt.item_id,
                "enrollment_id": enrollment_id,
            },
        },
    )
    before = full_state(world)

    outcome = world.system.handle_webhook(payload, sign(world, payload))

    assert outcome.result == "ignored"
    only_receipt_written(world, before, "evt_attack_1")
    item = next(
        i for i in world.system.payment_details(enrollment_id).items if i.id == attempt.item_id
    )
    assert item.status != ItemStatus.PAID


IGNORED: list[tuple[str, str, dict[str, Any]]] = [
    (
        "payment for an unknown payment",
        "payment_intent.succeeded",
        {"id": "pi_nobody", "object": "payment_intent", "amount": 100, "currency": "usd"},
    ),
    (
        "failure for an unknown payment",
        "payment_intent.payment_failed",
        {"id": "pi_nobody", "object": "payment_intent", "amount": 100, "currency": "usd"},
    ),
    (
        "metadata naming an unknown attempt",
        "payment_intent.succeeded",
        {
            "id": "pi_nobody",
            "object": "payment_intent",
            "amount": 100,
            "currency": "usd",
            "metadata": {"attempt_id": "att_999999"},
        },
    ),
    (
        "refund of an unknown payment",
        "charge.refunded",
        {"id": "ch_nobody", "object": "charge", "payment_intent": "pi_nobody", "refunds": {}},
    ),
    (
        "card saved for an unknown customer",
        "setup_intent.succeeded",
        {
            "id": "seti_1",
            "object": "setup_intent",
            "customer": "cus_nobody",
            "payment_method": "pm_x",
        },
    ),
    (
        "unknown subscription ended",
        "customer.subscription.deleted",
        {"id": "sub_nobody", "object": "subscription", "status": "canceled"},
    ),
    ("an event type we do not handle", "customer.created", {"id": "cus_1", "object": "customer"}),
]


@pytest.mark.parametrize(
    ("event_type", "obj"), [(t, o) for _, t, o in IGNORED], ids=[name for name, _, _ in IGNORED]
)
def test_events_about_unknown_things_are_ignored(
    world: World, genuine: SignedWebhook, event_type: str, obj: dict[str, Any]
) -> None:
    """Genuine events that concern nothing of ours are acknowledged, ignored, and change nothing."""
    payload = event(world, event_type, obj)
    before = full_state(world)

    outcome = world.system.handle_webhook(payload, sign(world, payload))
    again = world.system.handle_webhook(payload, sign(world, payload))

    assert (outcome.result, again.result) == ("ignored", "duplicate")
    only_receipt_written(world, before, "evt_attack_1")


def test_a_refused_webhook_leaves_the_real_one_working(
    world: World, genuine: SignedWebhook, course: Product
) -> None:
    """After a flood of forgeries the genuine delivery is still processed, once."""
    for shift in (-10_000, 10_000):
        refuse(world, genuine.payload, sign(world, genuine.payload, shift=shift))
    refuse(world, genuine.payload, sign(world, genuine.payload, secret=ATTACKER_SECRET))

    outcome = world.system.handle_webhook(genuine.payload, genuine.headers)

    assert outcome.result == "processed"
    (enrollment,) = world.system.list_enrollments()
    details = world.system.payment_details(enrollment.id)
    assert [p.amount.minor for p in details.payments] == [10000]


def test_a_gateway_with_a_rotated_secret_accepts_both(world: World, genuine: SignedWebhook) -> None:
    """The fake signs with one secret; the signature module accepts any configured one."""
    stamp = signing.verify_signature(
        genuine.payload,
        genuine.headers[HEADER],
        ["whsec_new", SECRET],
        now=world.clock.now(),
        tolerance=300,
    )
    assert stamp == int(_t(genuine.headers[HEADER]))
    with pytest.raises(WebhookSignatureError):
        signing.verify_signature(
            genuine.payload,
            genuine.headers[HEADER],
            ["whsec_new"],
            now=world.clock.now(),
            tolerance=300,
        )


@pytest.mark.parametrize("tolerance", [0, -1, 10**9, float("inf"), float("nan"), True, "300"])
def test_the_signature_tolerance_cannot_be_disabled(tolerance: Any) -> None:
    """The fake, like the Stripe adapter, refuses a tolerance of zero, below, or over a day."""
    with pytest.raises(InvalidInputError):
        FakeGateway(clock=FrozenClock(START), tolerance=tolerance)


class _WebhookFirstRefunds(FakeGateway):
    """A gateway whose webhook reports a refund succeeded before its answer says "pending"."""

    receiver: PaymentSystem | None = None

    def refund(self, **kwargs: Any) -> GatewayRefund:
        """Refund, deliver the charge.refunded webhook at once, then answer "pending"."""
        answer = super().refund(**kwargs)
        assert self.receiver is not None
        self.deliver(self.receiver)
        return attrs.evolve(answer, status="pending")


def test_a_refund_settled_by_its_webhook_is_not_reopened_by_a_late_answer() -> None:
    """Terminal refund states never regress: a "pending" answer after the webhook is ignored."""
    clock = FrozenClock(START)
    fake = _WebhookFirstRefunds(clock=clock)
    system = PaymentSystem(store=InMemoryStore(), gateway=fake, clock=clock)
    product = system.register_product(
        product_type="c", product_id="p", name="P", price=usd("50.00")
    )
    result = system.enroll(user_id="u", product_id=product.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret)
    fake.deliver(system)
    (payment,) = system.payment_details(result.enrollment_id).payments
    fake.receiver = system

    refund = system.refund_payment(payment.id, usd("20.00"), actor="admin")

    (stored,) = system.payment_details(result.enrollment_id).refunds
    assert (refund.status, stored.status) == ("succeeded", "succeeded")
    actions = [e.action for e in system.audit_log(entity_id=refund.id)]
    assert actions == ["refund.created", "refund.succeeded"]
    system.reconcile()
    assert system.payment_details(result.enrollment_id).refunds[0].status == "succeeded"
