"""Outgoing webhooks against a real local HTTP receiver: signing, retries, resumption, verify.

The receiver (:mod:`tests.support.webhook_receiver`) is an ``http.server``
in a thread of the test; the sender talks to it over loopback TCP with the
standard library's client, as it would to a school's server. Waits between
attempts go through the sender's ``sleep`` hook, which records them (and,
in one test, brings the receiver up) instead of sleeping.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from enrollpay import PaymentSystem
from enrollpay.domain.events import DomainEvent
from enrollpay.errors_events import (
    SignatureHeaderError,
    SignatureMismatchError,
    SignatureTimestampError,
    WebhookDeliveryError,
    WebhookEndpointError,
    WebhookVerificationError,
)
from enrollpay.integrations.signing import (
    SIGNATURE_HEADER,
    compute_signature,
    parse_signature_header,
    signature_header,
    verify,
)
from enrollpay.integrations.webhooks import WebhookEndpoint, WebhookSender, event_body
from enrollpay.testing import FrozenClock
from tests.support.webhook_receiver import Receiver

from .conftest import Paid

SECRET = "whsec_school"


@pytest.fixture
def receiver(clock: FrozenClock) -> Iterator[Receiver]:
    """A receiver that verifies with SECRET against the test's clock, listening."""
    server = Receiver(secret=SECRET, now=lambda: clock.now().timestamp())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def events(paid: Paid) -> list[DomainEvent]:
    """The outbox after the paid webhook: enrollment created, installment paid, access granted."""
    paid.system.handle_webhook(paid.hook.payload, paid.hook.headers)
    pending = paid.system.list_events(delivered=False)
    assert "access.granted" in [e.kind for e in pending]
    return pending


class Waits:
    """The sender's sleep hook: records each wait, optionally acts on it."""

    def __init__(self, then: Any = None) -> None:
        self.delays: list[float] = []
        self.then = then

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        if self.then is not None:
            self.then(len(self.delays))


def sender(system: PaymentSystem, *endpoints: WebhookEndpoint, **options: Any) -> WebhookSender:
    """A sender with no real waiting unless told."""
    options.setdefault("sleep", Waits())
    options.setdefault("timeout", 5.0)
    return WebhookSender(endpoints, system=system, **options)


def test_each_event_is_posted_once_signed_in_order(
    paid: Paid, events: list[DomainEvent], receiver: Receiver, clock: FrozenClock
) -> None:
    """The receiver verifies every request; bodies are the events' JSON, oldest first, once."""
    post = sender(paid.system, WebhookEndpoint("school", receiver.url, secret=SECRET))

    assert paid.system.dispatch_events(post) == len(events)
    assert paid.system.dispatch_events(post) == 0

    assert [r.status for r in receiver.received] == [200] * len(events)
    assert [r.verified for r in receiver.received] == [e.to_json() for e in events]
    assert [r.body for r in receiver.received] == [event_body(e) for e in events]
    first = receiver.received[0]
    assert first.path == "/hooks"
    assert first.headers["content-type"] == "application/json"
    assert first.headers["enrollpay-event-id"] == events[0].id
    assert first.headers["enrollpay-event-kind"] == events[0].kind
    timestamp, signatures = parse_signature_header(first.headers["enrollpay-signature"])
    assert timestamp == int(clock.now().timestamp())
    assert signatures == [compute_signature(first.body, SECRET, timestamp=timestamp)]


def test_a_receiver_down_then_up_gets_the_event_after_backed_off_retries(
    paid: Paid, events: list[DomainEvent], clock: FrozenClock
) -> None:
    """Connection refused twice (waits 1 s, 2 s); the receiver comes up; attempt 3 lands."""
    down = Receiver(secret=SECRET, now=lambda: clock.now().timestamp())  # not listening yet
    waits = Waits(then=lambda n: down.start() if n == 2 else None)
    post = sender(paid.system, WebhookEndpoint("school", down.url, secret=SECRET), sleep=waits)
    try:
        assert paid.system.dispatch_events(post, limit=1) == 1
        assert waits.delays == [1.0, 2.0]
        assert [r.verified for r in down.accepted] == [events[0].to_json()]
        assert paid.system.dispatch_events(post) == len(events) - 1
        assert waits.delays == [1.0, 2.0]  # up: no more waiting
        assert [r.verified["id"] for r in down.accepted if r.verified] == [e.id for e in events]
    finally:
        down.stop()


def test_server_errors_are_retried_with_doubling_capped_waits(
    paid: Paid, events: list[DomainEvent], receiver: Receiver
) -> None:
    """500, 502, 503, 504 then 200: five attempts, waits 0.5, 1, 2, 2 (capped at 2)."""
    receiver.script = [500, 502, 503, 504]
    waits = Waits()
    endpoint = WebhookEndpoint("school", receiver.url, secret=SECRET)
    post = sender(paid.system, endpoint, sleep=waits, backoff=0.5, max_backoff=2.0)

    assert paid.system.dispatch_events(post, limit=1) == 1

    assert [r.status for r in receiver.received] == [500, 502, 503, 504, 200]
    assert waits.delays == [0.5, 1.0, 2.0, 2.0]
    assert receiver.accepted[0].verified == events[0].to_json()


def test_an_endpoint_that_never_accepts_stops_dispatch_and_the_next_run_resumes(
    paid: Paid, events: list[DomainEvent], receiver: Receiver, clock: FrozenClock
) -> None:
    """Attempts exhausted: a typed error, the event stays; a rerun skips the endpoint with it."""
    other = Receiver(secret="whsec_lms", now=lambda: clock.now().timestamp())
    other.start()
    try:
        other.script = [503] * 3
        post = sender(
            paid.system,
            WebhookEndpoint("school", receiver.url, secret=SECRET),
            WebhookEndpoint("lms", other.url, secret="whsec_lms"),
            attempts=3,
        )
        with pytest.raises(WebhookDeliveryError) as info:
            paid.system.dispatch_events(post)
        error = info.value
        assert (error.endpoint, error.event_id, error.attempts, error.status) == (
            "lms", events[0].id, 3, 503,
        )  # fmt: skip
        assert isinstance(error, ConnectionError)
        assert [e.id for e in paid.system.list_events(delivered=False)] == [e.id for e in events]
        assert len(receiver.accepted) == 1  # the school has the first event ...

        assert paid.system.dispatch_events(post) == len(events)  # ... lms is back up

        assert [r.verified["id"] for r in receiver.accepted if r.verified] == [
            e.id for e in events
        ]  # the school never got the first event twice
        assert [r.verified["id"] for r in other.accepted if r.verified] == [e.id for e in events]
    finally:
        other.stop()


def test_an_event_handed_out_again_is_not_posted_again(
    paid: Paid, events: list[DomainEvent], receiver: Receiver
) -> None:
    """A crash after the acceptance was recorded, before dispatch marked it: nothing is resent."""
    post = sender(paid.system, WebhookEndpoint("school", receiver.url, secret=SECRET))
    post(events[0])
    post(events[0])  # what the next dispatch run would do after the crash
    assert len(receiver.received) == 1


def test_a_refused_signature_and_a_redirect_are_not_acceptance(
    paid: Paid, events: list[DomainEvent], receiver: Receiver
) -> None:
    """A receiver with another secret answers 400 (SignatureMismatchError); 302 is not followed."""
    wrong = sender(
        paid.system, WebhookEndpoint("school", receiver.url, secret="whsec_old"), attempts=2
    )
    with pytest.raises(WebhookDeliveryError, match="HTTP 400"):
        paid.system.dispatch_events(wrong)
    assert [r.refusal for r in receiver.received] == ["SignatureMismatchError"] * 2

    receiver.received.clear()
    receiver.script = [302]
    moved = sender(paid.system, WebhookEndpoint("school", receiver.url, secret=SECRET), attempts=1)
    with pytest.raises(WebhookDeliveryError, match="HTTP 302"):
        paid.system.dispatch_events(moved)
    assert [r.path for r in receiver.received] == ["/hooks"]  # /hooks/moved never asked for
    assert len(paid.system.list_events(delivered=False)) == len(events)


def test_while_rotating_both_secrets_sign_and_either_verifies(
    paid: Paid, events: list[DomainEvent], receiver: Receiver
) -> None:
    """Two secrets: two v1 entries; a receiver on the old or the new secret accepts."""
    endpoint = WebhookEndpoint("school", receiver.url, secret=["whsec_new", SECRET])
    assert paid.system.dispatch_events(sender(paid.system, endpoint), limit=1) == 1
    (request,) = receiver.received
    header = request.headers["enrollpay-signature"]
    assert len(parse_signature_header(header)[1]) == 2
    now = parse_signature_header(header)[0]
    assert verify(request.body, header, "whsec_new", now=now) == events[0].to_json()
    assert "whsec" not in repr(endpoint)  # secrets stay out of logs


def test_an_endpoint_can_take_only_some_kinds(
    paid: Paid, events: list[DomainEvent], receiver: Receiver
) -> None:
    """``kinds`` filters; the other events are still delivered (to nobody) and marked."""
    endpoint = WebhookEndpoint("school", receiver.url, secret=SECRET, kinds=["access.granted"])
    assert paid.system.dispatch_events(sender(paid.system, endpoint)) == len(events)
    assert [r.verified["kind"] for r in receiver.accepted if r.verified] == ["access.granted"]


@pytest.mark.parametrize(
    ("arguments", "match"),
    [
        ({"name": "", "url": "https://x.example/h", "secret": "s"}, "name"),
        ({"name": "a b", "url": "https://x.example/h", "secret": "s"}, "name"),
        ({"name": "a", "url": "ftp://x.example/h", "secret": "s"}, "URL"),
        ({"name": "a", "url": "https:///h", "secret": "s"}, "URL"),
        ({"name": "a", "url": "https://x.example/h", "secret": ""}, "secret"),
        ({"name": "a", "url": "https://x.example/h", "secret": []}, "secret"),
        ({"name": "a", "url": "https://x.example/h", "secret": "s", "kinds": ["nope"]}, "kinds"),
        ({"name": "a", "url": "https://x.example/h", "secret": "s", "kinds": []}, "kinds"),
    ],
)
def test_a_misconfigured_endpoint_is_refused(arguments: dict[str, Any], match: str) -> None:
    """Typed errors at configuration time, never at the first event."""
    with pytest.raises(WebhookEndpointError, match=match):
        WebhookEndpoint(**arguments)


def test_a_misconfigured_sender_is_refused(system: PaymentSystem) -> None:
    """Duplicate endpoint names, no attempts, a negative backoff or an empty window."""
    one = WebhookEndpoint("a", "https://x.example/h", secret="s")
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "differ"),
        ({"attempts": 0}, "attempts"),
        ({"backoff": -1.0}, "backoff"),
        ({"timeout": 0.0}, "timeout"),
        ({"dedupe_window": timedelta(0)}, "dedupe_window"),
    ]
    for options, match in cases:
        endpoints = [one, one] if match == "differ" else [one]
        with pytest.raises(WebhookEndpointError, match=match):
            WebhookSender(endpoints, system=system, **options)


# -- verify, as a receiver calls it -------------------------------------------------------

BODY = b'{"id":"evt_1","kind":"access.suspended"}'
T = 1_805_000_000


def test_verify_returns_the_event_within_the_tolerance_either_way() -> None:
    """Up to 300 s early or late by default; the returned dict is the payload."""
    header = signature_header(BODY, [SECRET], timestamp=T)
    for now in (T - 300, T, T + 300):
        assert verify(BODY, header, SECRET, now=now) == json.loads(BODY)
    assert verify(BODY.decode(), header, [SECRET], now=T, tolerance=0) == json.loads(BODY)


def test_verify_refuses_a_replay_outside_the_tolerance() -> None:
    """A genuine request replayed 301 s later fails with the timestamp error, data attached."""
    header = signature_header(BODY, [SECRET], timestamp=T)
    with pytest.raises(SignatureTimestampError) as info:
        verify(BODY, header, SECRET, now=T + 301)
    assert (info.value.timestamp, info.value.tolerance) == (T, 300.0)
    with pytest.raises(SignatureTimestampError):
        verify(BODY, header, SECRET, now=T + 61, tolerance=60)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("body", "secret"),
    [
        (BODY.replace(b"suspended", b"restored"), SECRET),  # altered body
        (BODY, "whsec_guess"),  # forged with another secret
        (BODY + b" ", SECRET),  # one byte more
    ],
)
def test_verify_refuses_a_bad_signature(body: bytes, secret: str) -> None:
    """Any change to the body, or another secret: SignatureMismatchError (checked first)."""
    header = signature_header(BODY, [SECRET], timestamp=T)
    with pytest.raises(SignatureMismatchError):
        verify(body, header, secret, now=T + 10_000)  # stale too, but the signature fails first


@pytest.mark.parametrize(
    "header",
    [None, "", "t=abc,v1=00", "v1=00", f"t={T}", f"t={T},v0=00", f"t={T},t={T},v1=00", "garbage"],
)
def test_verify_refuses_a_missing_or_garbled_header(header: str | None) -> None:
    """SignatureHeaderError, a WebhookVerificationError like the others."""
    with pytest.raises(SignatureHeaderError):
        verify(BODY, header, SECRET, now=T)


def test_verify_needs_a_secret_and_a_sane_tolerance() -> None:
    """No secret, or a negative tolerance, is the receiver's own mistake: refused."""
    header = signature_header(BODY, [SECRET], timestamp=T)
    with pytest.raises(WebhookVerificationError, match="secret"):
        verify(BODY, header, [], now=T)
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify(BODY, header, SECRET, now=T, tolerance=-1)


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    """The scheme a non-Python receiver implements: hex HMAC-SHA256 over "{t}.{body}"."""
    import hashlib  # noqa: PLC0415 - only this test recomputes by hand
    import hmac  # noqa: PLC0415

    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert signature_header(BODY, [SECRET], timestamp=T) == f"t={T},v1={expected}"
    assert SIGNATURE_HEADER == "Enrollpay-Signature"


def test_the_module_examples_run() -> None:
    """The docstring examples of the signing and registry modules are doctests that pass."""
    import doctest  # noqa: PLC0415

    from enrollpay.integrations import events as registry  # noqa: PLC0415
    from enrollpay.integrations import signing  # noqa: PLC0415
    from enrollpay.integrations.djangoapp import signals  # noqa: PLC0415

    for module in (signing, registry, signals):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.attempted > 0
        assert result.failed == 0, module.__name__


def test_the_example_receiver_acts_once_per_event_and_refuses_forgeries(
    paid: Paid, events: list[DomainEvent], monkeypatch: pytest.MonkeyPatch
) -> None:
    """examples/webhook_receiver.py behind a real socket: verified, deduped, 400 on forgery."""
    import threading  # noqa: PLC0415
    import urllib.error  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2]))
    from examples.webhook_receiver import make_server  # noqa: PLC0415

    acted: list[str] = []
    server = make_server(SECRET, lambda e: acted.append(e["kind"]), port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        # The receiver checks timestamps against the wall clock: sign with one.
        wall = PaymentSystem(store=paid.system.store)
        post = sender(wall, WebhookEndpoint("school", url, secret=SECRET))
        post(events[0])
        post(events[0])  # the sender's own log already stops this one ...
        # ... an endpoint under a new name has no log yet: events[0] arrives twice, acted on once.
        again = sender(wall, WebhookEndpoint("school_again", url, secret=SECRET))
        for event in events:
            again(event)
        assert acted == [e.kind for e in events]

        forged = urllib.request.Request(
            url,
            data=event_body(events[0]),
            method="POST",
            headers={SIGNATURE_HEADER: signature_header(b"x", ["whsec_guess"], timestamp=T)},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(forged, timeout=5)  # noqa: S310 - a loopback http URL
        assert refused.value.code == 400
        assert json.loads(refused.value.read()) == {"error": "SignatureMismatchError"}
        refused.value.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_an_answer_that_is_not_http_is_not_acceptance(
    paid: Paid, events: list[DomainEvent]
) -> None:
    """A server that writes garbage and hangs up: retried, then a typed delivery error."""
    import socket  # noqa: PLC0415
    import threading  # noqa: PLC0415

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        for _ in range(2):
            connection, _address = listener.accept()
            with connection:
                connection.recv(65536)
                connection.sendall(b"SMTP ready\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        post = sender(
            paid.system,
            WebhookEndpoint("school", f"http://127.0.0.1:{port}/", secret=SECRET),
            attempts=2,
        )
        with pytest.raises(WebhookDeliveryError, match="no answer") as info:
            paid.system.dispatch_events(post)
        assert (info.value.status, info.value.attempts) == (None, 2)
        assert len(paid.system.list_events(delivered=False)) == len(events)
    finally:
        thread.join(timeout=5)
        listener.close()
