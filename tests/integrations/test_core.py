"""The framework-free part: webhook answers, configuration from the environment, import hygiene."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from enrollpay import PaymentSystem
from enrollpay.domain.money import Money
from enrollpay.errors import InvalidInputError
from enrollpay.gateways.stripe import StripeGateway
from enrollpay.integrations import (
    DEFAULT_DATABASE_URL,
    MAX_WEBHOOK_BODY,
    body_too_large,
    gateway_from_env,
    system_from_env,
    webhook_response,
)
from enrollpay.storage.memory import InMemoryStore
from enrollpay.storage.sql import SqlStore
from enrollpay.testing import FrozenClock

from .conftest import Paid

FRAMEWORKS = ("fastapi", "starlette", "flask", "werkzeug", "django", "httpx", "httpx2")


def test_importing_enrollpay_imports_no_web_framework() -> None:
    """``import enrollpay`` (and the shared integrations module) loads no web framework."""
    code = (
        "import sys, enrollpay, enrollpay.integrations\n"
        f"print(sorted(m for m in {FRAMEWORKS!r} if m in sys.modules))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert run.stdout.strip() == "[]"


def test_every_outcome_is_200_with_result_and_event_id(paid: Paid) -> None:
    """processed, duplicate, ignored and stale all answer 200 with the outcome and event id."""
    first = webhook_response(paid.system, paid.hook.payload, paid.hook.headers)
    again = webhook_response(paid.system, paid.hook.payload, paid.hook.headers)
    unknown = paid.fake.webhook("customer.created", {"id": "cus_1", "object": "customer"})
    ignored = webhook_response(paid.system, unknown.payload, unknown.headers)
    intent = json.loads(paid.hook.payload)["data"]["object"]
    replay = paid.fake.webhook("payment_intent.succeeded", intent)
    stale = webhook_response(paid.system, replay.payload, replay.headers)

    assert [(r.status, dict(r.body)) for r in (first, again, ignored, stale)] == [
        (200, {"result": "processed", "event_id": paid.hook.event_id}),
        (200, {"result": "duplicate", "event_id": paid.hook.event_id}),
        (200, {"result": "ignored", "event_id": unknown.event_id}),
        (200, {"result": "stale", "event_id": replay.event_id}),
    ]
    assert paid.system.payment_details(paid.enrollment_id).paid.minor == 29999


def test_a_deferred_event_is_409_so_the_gateway_redelivers_it(paid: Paid) -> None:
    """A refund delivered before its payment's success: 409 now, applied when redelivered."""
    intent = json.loads(paid.hook.payload)["data"]["object"]["id"]
    refund = paid.fake.refund_from_dashboard(intent, Money(1000, "USD"))
    (early_hook,) = (h for h in paid.fake.take_events() if h.event_type == "charge.refunded")

    early = webhook_response(paid.system, early_hook.payload, early_hook.headers)
    webhook_response(paid.system, paid.hook.payload, paid.hook.headers)
    later = webhook_response(paid.system, early_hook.payload, early_hook.headers)

    assert [(r.status, dict(r.body)) for r in (early, later)] == [
        (409, {"result": "deferred", "event_id": early_hook.event_id}),
        (200, {"result": "processed", "event_id": early_hook.event_id}),
    ]
    (recorded,) = paid.system.payment_details(paid.enrollment_id).refunds
    assert recorded.gateway_refund_id == refund.gateway_refund_id


def test_refused_webhooks_are_a_generic_400_and_the_reason_is_logged(
    paid: Paid, caplog: pytest.LogCaptureFixture
) -> None:
    """A bad signature or a signed non-JSON body: 400, same body, reason only in the log."""
    forged = paid.fake.webhook("payment_intent.succeeded", {"id": "pi_1"}, secret="whsec_guess")
    garbage = b"[not json"
    with caplog.at_level(logging.WARNING):
        signature = webhook_response(paid.system, forged.payload, forged.headers)
        payload = webhook_response(paid.system, garbage, paid.fake.sign(garbage))

    assert (signature.status, dict(signature.body)) == (400, {"error": "invalid webhook"})
    assert (payload.status, dict(payload.body)) == (400, {"error": "invalid webhook"})
    assert "no signature matches" in caplog.text
    assert "not JSON" in caplog.text
    assert paid.system.payment_details(paid.enrollment_id).paid.minor == 0


def test_no_gateway_is_503(clock: FrozenClock) -> None:
    """A system without a gateway cannot verify anything: 503, nothing applied."""
    system = PaymentSystem(store=InMemoryStore(), clock=clock)

    answer = webhook_response(system, b"{}", {"Stripe-Signature": "t=1,v1=00"})

    assert (answer.status, dict(answer.body)) == (503, {"error": "webhooks are not configured"})


def test_any_other_failure_is_a_logged_500(paid: Paid, caplog: pytest.LogCaptureFixture) -> None:
    """A crash or a system that cannot be built: 500 (so it is redelivered), traceback logged."""

    def broken() -> PaymentSystem:
        raise RuntimeError("database unreachable")

    with caplog.at_level(logging.ERROR, logger="enrollpay.integrations"):
        answer = webhook_response(broken, paid.hook.payload, paid.hook.headers)

    assert (answer.status, dict(answer.body)) == (500, {"error": "internal error"})
    assert "database unreachable" in caplog.text
    assert caplog.records[-1].exc_info is not None
    assert webhook_response(lambda: paid.system, paid.hook.payload, paid.hook.headers).status == 200


def test_body_too_large_reads_the_declared_length() -> None:
    """Only a declared length above the limit counts; missing or garbled lengths do not."""
    assert body_too_large(MAX_WEBHOOK_BODY + 1)
    assert body_too_large(str(MAX_WEBHOOK_BODY + 1))
    assert not body_too_large(MAX_WEBHOOK_BODY)
    assert not body_too_large(None)
    assert not body_too_large("")
    assert not body_too_large("lots")


def test_no_stripe_keys_means_no_gateway() -> None:
    """Neither Stripe key set: no gateway (manual payments only)."""
    assert gateway_from_env({}) is None
    assert gateway_from_env({"STRIPE_SECRET_KEY": " ", "STRIPE_WEBHOOK_SECRET": ""}) is None


@pytest.mark.parametrize(
    "environ",
    [{"STRIPE_SECRET_KEY": "sk_test_abc"}, {"STRIPE_WEBHOOK_SECRET": "whsec_abc"}],
)
def test_half_a_stripe_configuration_is_refused(environ: dict[str, str]) -> None:
    """One Stripe key without the other is a configuration error, not a silent fallback."""
    with pytest.raises(InvalidInputError, match="set both"):
        gateway_from_env(environ)


def test_both_stripe_keys_give_a_stripe_gateway() -> None:
    """Both keys: a StripeGateway in the key's mode."""
    gateway = gateway_from_env(
        {"STRIPE_SECRET_KEY": "sk_test_abc", "STRIPE_WEBHOOK_SECRET": "whsec_a,whsec_b"}
    )

    assert isinstance(gateway, StripeGateway)
    assert gateway.livemode is False


def test_system_from_env_opens_the_sql_store_at_the_url(tmp_path: Path) -> None:
    """ENROLLPAY_DATABASE_URL chooses the database; ENROLLPAY_TIMEZONE the business zone."""
    url = f"sqlite:///{tmp_path / 'pay.db'}"

    system = system_from_env({"ENROLLPAY_DATABASE_URL": url, "ENROLLPAY_TIMEZONE": "Europe/Paris"})

    assert isinstance(system.store, SqlStore)
    assert system.gateway is None
    assert system.config.timezone == "Europe/Paris"
    assert (tmp_path / "pay.db").exists()
    system.store.close()


def test_system_from_env_defaults_to_sqlite_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a URL the store is ``sqlite:///enrollpay.db``, relative to the working directory."""
    monkeypatch.chdir(tmp_path)

    system = system_from_env({})

    assert DEFAULT_DATABASE_URL == "sqlite:///enrollpay.db"
    assert isinstance(system.store, SqlStore)
    assert (tmp_path / "enrollpay.db").exists()
    system.store.close()


def test_a_bad_time_zone_is_refused_at_start_up() -> None:
    """An unknown ENROLLPAY_TIMEZONE fails when the system is built, with a library error."""
    with pytest.raises(InvalidInputError, match="Mars/Olympus"):
        system_from_env(
            {"ENROLLPAY_DATABASE_URL": "sqlite://", "ENROLLPAY_TIMEZONE": "Mars/Olympus"}
        )
