"""Fixtures: the example app served by uvicorn on a free port, and a Chromium page.

Chromium is Debian's (``apt-get install chromium``), driven by the
``playwright`` Python package without ``playwright install``. When Chromium
(or the package) is missing the tests skip with the reason locally and FAIL
when ``CI=true``: CI must never pass by skipping them.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from enrollpay import FullPayment, Installments, Money, PaymentSystem
from enrollpay.domain.records import Product
from tests.support.app_fixtures import clock, fake, system

# The clock, fake gateway and system fixtures shared with the other app-level tests.
__all__ = ["clock", "fake", "system"]

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path(os.environ.get("ENROLLPAY_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ADMIN_PASSWORD = "browser-test-password"


def _unavailable(reason: str) -> None:
    """Skip locally; in CI a missing browser is a failure, never a silent skip."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser tests need Chromium in CI: {reason}", pytrace=False)
    pytest.skip(f"no browser: {reason}")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, launched once for the session."""
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} not found (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright  # noqa: PLC0415 - optional dependency
    except ImportError:
        _unavailable("the playwright package is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


@pytest.fixture
def course(system: PaymentSystem) -> Product:
    """A 300.00 USD course offering full payment or three monthly installments."""
    return system.register_product(
        product_type="course",
        product_id="react-101",
        name="React Masterclass",
        price=Money.of("300.00", "USD"),
        offered_plans=[FullPayment(), Installments(3)],
    )


@pytest.fixture
def base_url(system: PaymentSystem, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The example app over ``system``, served by uvicorn in a thread on a free port."""
    import uvicorn  # noqa: PLC0415 - only the browser tests need a real server

    monkeypatch.syspath_prepend(str(ROOT))
    from examples.fastapi_app.app import create_app  # noqa: PLC0415 - needs the path above

    app = create_app(system, admin_password=ADMIN_PASSWORD, session_secret="browser-tests")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # the OS picks a free port; uvicorn serves this very socket
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    """A fresh browser context (no cookies) on the app."""
    context = browser.new_context(base_url=base_url, locale="en-US")
    context.set_default_timeout(10_000)
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture
def shoot(page: Page) -> Callable[[str], Path]:
    """``shoot(name)`` saves a full-page screenshot to test-artifacts/<name>.png."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 0
        return path

    return take
