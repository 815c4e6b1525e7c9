"""Configuring StripeGateway: keys, modes, secrets, tolerance, from_env, import boundaries."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import stripe

from enrollpay.errors import GatewayNotConfiguredError, InvalidInputError
from enrollpay.gateways.stripe import StripeGateway, key_livemode
from enrollpay.ports import Gateway
from tests.support.stripe_server import API_KEY, FastRetryHTTPClient, StripeServer, sign

SRC = Path(__file__).resolve().parents[2] / "src" / "enrollpay"


def client(api_key: str = API_KEY) -> stripe.StripeClient:
    """A client that is never used for requests."""
    return stripe.StripeClient(api_key, base_addresses={"api": "http://127.0.0.1:9"})


@pytest.mark.parametrize(
    ("key", "live"),
    [("sk_live_abc", True), ("rk_live_abc", True), ("sk_test_abc", False), ("rk_test_abc", False)],
)
def test_the_mode_comes_from_the_key_prefix(key: str, live: bool) -> None:
    """sk_/rk_ live keys are live; sk_/rk_ test keys are test."""
    assert key_livemode(key) is live
    assert StripeGateway(client(key), ["whsec_x"]).livemode is live


@pytest.mark.parametrize("key", ["pk_test_abc123", "sk_abc123", "whsec_abc123", ""])
def test_other_keys_are_refused_without_echoing_them(key: str) -> None:
    """A publishable key or a typo is refused; the message never shows the key."""
    with pytest.raises(InvalidInputError) as caught:
        key_livemode(key)
    assert not key or key not in str(caught.value)


def test_an_explicit_mode_must_match_the_key() -> None:
    """livemode=True with a test key is a configuration error."""
    with pytest.raises(InvalidInputError, match="test key"):
        StripeGateway(client("sk_test_abc"), ["whsec_x"], livemode=True)
    assert StripeGateway(client("sk_test_abc"), ["whsec_x"], livemode=False).livemode is False


@pytest.mark.parametrize("tolerance", [0, -1, 86_401, True, "300", float("inf")])
def test_the_tolerance_cannot_be_disabled(tolerance: object) -> None:
    """Tolerance is above 0 and at most one day."""
    with pytest.raises(InvalidInputError):
        StripeGateway(client(), ["whsec_x"], tolerance=tolerance)  # type: ignore[arg-type]
    assert StripeGateway(client(), ["whsec_x"], tolerance=86_400).tolerance == 86_400


@pytest.mark.parametrize("secrets", ["whsec_x", [], [""], ["  "], [None]])
def test_webhook_secrets_are_a_non_empty_list(secrets: object) -> None:
    """A bare string, an empty list or empty secrets are refused."""
    with pytest.raises(InvalidInputError):
        StripeGateway(client(), secrets)  # type: ignore[arg-type]


def test_the_client_must_be_a_stripe_client() -> None:
    """Anything but a StripeClient is refused (no global stripe.api_key fallback)."""
    with pytest.raises(InvalidInputError, match="StripeClient"):
        StripeGateway(object(), ["whsec_x"])  # type: ignore[arg-type]


def test_repr_shows_no_key_or_secret() -> None:
    """The repr names the mode and counts the secrets, nothing more."""
    gateway = StripeGateway(client("sk_test_SECRETKEY42"), ["whsec_TOPSECRET"])
    text = repr(gateway)
    assert text == "StripeGateway(livemode=False, webhook_secrets=1, tolerance=300)"
    assert "SECRETKEY42" not in text
    assert "TOPSECRET" not in text


def test_it_satisfies_the_gateway_protocol() -> None:
    """StripeGateway type-checks as a Gateway and is named "stripe"."""
    gateway: Gateway = StripeGateway(client(), ["whsec_x"])
    assert gateway.name == "stripe"


def test_from_env_reads_the_key_and_rotated_secrets(server: StripeServer) -> None:
    """STRIPE_SECRET_KEY and comma-separated STRIPE_WEBHOOK_SECRET; no global api_key."""
    environ = {"STRIPE_SECRET_KEY": " sk_test_fromenv ",
               "STRIPE_WEBHOOK_SECRET": "whsec_old, whsec_new,"}  # fmt: skip
    gateway = StripeGateway.from_env(environ, api_base=server.url,
                                     http_client=FastRetryHTTPClient(timeout=5))  # fmt: skip
    customer = gateway.ensure_customer("u-1", idempotency_key="customer:u-1")
    now = datetime(2027, 1, 4, 9, tzinfo=UTC)
    payload = server.stripe.event("customer.created", {"id": customer}, at=int(now.timestamp()),
                                  secret="whsec_new").payload  # fmt: skip
    event = gateway.parse_webhook(payload, {"Stripe-Signature": sign(payload, "whsec_new",
                                                                     int(now.timestamp()))},
                                  now=now)  # fmt: skip
    assert repr(gateway) == "StripeGateway(livemode=False, webhook_secrets=2, tolerance=300)"
    assert server.requests[0].headers["authorization"] == "Bearer sk_test_fromenv"
    assert gateway.max_network_retries == 2
    assert event.kind == "ignored"
    assert stripe.api_key is None


def test_from_env_uses_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a mapping, os.environ is read; a live key makes a live gateway."""
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_live_fromprocess")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_live")
    assert StripeGateway.from_env().livemode is True


@pytest.mark.parametrize(
    ("environ", "missing"),
    [({"STRIPE_WEBHOOK_SECRET": "whsec_x"}, "STRIPE_SECRET_KEY"),
     ({"STRIPE_SECRET_KEY": "sk_test_x", "STRIPE_WEBHOOK_SECRET": " , "}, "STRIPE_WEBHOOK_SECRET")],
)  # fmt: skip
def test_from_env_names_what_is_missing(environ: dict[str, str], missing: str) -> None:
    """A missing variable is a configuration error that names it."""
    with pytest.raises(GatewayNotConfiguredError, match=missing):
        StripeGateway.from_env(environ)


def test_only_the_stripe_adapter_modules_import_the_sdk() -> None:
    """``import stripe`` appears in src only in gateways/stripe/ (not amounts, keys, params)."""
    importers = sorted(
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if re.search(r"^\s*(import stripe\b|from stripe\b)", path.read_text(), re.MULTILINE)
    )
    sdk_modules = ["answers", "billing", "calls", "client", "customers", "errors", "gateway",
                   "invoicing", "ledger", "payments", "refunds"]  # fmt: skip
    assert importers == [f"gateways/stripe/{name}.py" for name in sdk_modules]


def test_the_amount_rules_load_without_the_sdk() -> None:
    """The amount rules are pure: importing them does not import stripe."""
    code = ("import sys, enrollpay.gateways.stripe.amounts; "
            "print('stripe' in sys.modules)")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)  # fmt: skip
    assert done.stdout.strip() == "False"
