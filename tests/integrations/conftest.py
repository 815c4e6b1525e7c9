"""Shared fixtures: an in-memory system on the fake gateway, and signed webhooks for it."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from enrollpay import Money, PaymentSystem
from enrollpay.testing import FakeGateway, SignedWebhook
from tests.support import app_fixtures

from .route_clients import FRAMEWORKS, Framework, configure_django

# The clock, fake gateway and system fixtures shared with the example apps' tests.
clock = app_fixtures.clock
fake = app_fixtures.fake
system = app_fixtures.system


@attrs.frozen
class Paid:
    """An enrollment whose first payment the student completed; its webhook is pending."""

    system: PaymentSystem
    fake: FakeGateway
    enrollment_id: str
    hook: SignedWebhook


@pytest.fixture
def paid(system: PaymentSystem, fake: FakeGateway) -> Paid:
    """A course bought in full and paid on-session; the success webhook not yet delivered."""
    product = system.register_product(
        product_type="course", product_id="c-1", name="Course", price=Money.of("299.99", "USD")
    )
    result = system.enroll(user_id="u-1", product_id=product.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret)
    (hook,) = fake.take_events()
    return Paid(system, fake, result.enrollment_id, hook)


@pytest.fixture(scope="session")
def django_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Django configured for the process (once); the path of its SQLite database."""
    return configure_django(tmp_path_factory.mktemp("django"))


@pytest.fixture(params=FRAMEWORKS)
def framework(request: pytest.FixtureRequest) -> Framework:
    """Each framework adapter of the JSON API in turn (Django configured when it comes)."""
    chosen: Framework = request.param
    if chosen == "django":
        request.getfixturevalue("django_site")
    return chosen
