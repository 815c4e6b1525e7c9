"""Fixtures for the Stripe adapter tests: a local fake Stripe server and a gateway on it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from enrollpay.gateways.stripe import StripeGateway
from enrollpay.testing import FrozenClock
from tests.support.stripe_server import StripeServer, isolate_sdk_config, running_server

START = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    """A frozen clock at 2027-01-04 09:00 UTC (the server stamps events with it)."""
    return FrozenClock(START)


@pytest.fixture
def server(
    clock: FrozenClock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[StripeServer]:
    """A running local Stripe stand-in."""
    isolate_sdk_config(monkeypatch, tmp_path)
    with running_server(clock=clock.now) as running:
        yield running


@pytest.fixture
def gateway(server: StripeServer) -> StripeGateway:
    """A StripeGateway whose SDK client talks to the local server (2 network retries)."""
    return server.gateway()
