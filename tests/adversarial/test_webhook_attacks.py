"""Forged, malformed, replayed and misdirected webhooks are refused or ignored, writing nothing.

Refused (``WebhookSignatureError`` or ``WebhookPayloadError``) means the
store is exactly as it was, webhook receipts included. Ignored and duplicate
events are acknowledged: an ignored event writes only its receipt (so that
a redelivery is a duplicate), a duplicate writes nothing at all.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from enrollpay import ItemStatus
from enrollpay.domain.records import Product
from enrollpay.errors import (
    EnrollpayError,
    InvalidInputError,
    WebhookPayloadError,
    WebhookSignatureError,
)
from enrollpay.gateways import signing
from enrollpay.testing import FakeGateway, FrozenClock, SignedWebhook
from tests.adversarial.support import (
    ATTACKER_SECRET,
    HEADER,
    SECRET,
    START,
    World,
    event,
    full_state,
    genuine_webhook,
    public_state,
    refuse,
    sign,
    stamp_of,
)


@pytest.fixture
def genuine(world: World, course: Product) -> SignedWebhook:
    """The real payment_intent.succeeded of a victim's first payment, not delivered yet."""
    return genuine_webhook(world, course)


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
    assert stamp == int(stamp_of(genuine.headers[HEADER]))
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
