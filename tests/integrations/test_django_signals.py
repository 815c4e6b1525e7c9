"""Outbox events as Django signals: a real Django app registry, settings and management command.

Two apps are installed next to ``enrollpay.integrations.djangoapp``: the test
app :mod:`tests.integrations.django_signal_app`, which records every signal
it receives, and the example :mod:`examples.django_lms`, which revokes LMS
access on ``access.suspended``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import django
import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from enrollpay import Installments, Interval, Money, PaymentSystem
from enrollpay.errors import InvalidInputError
from enrollpay.errors_events import UnknownEventKindError, WebhookEndpointError
from enrollpay.integrations.django import get_system, reset_system
from enrollpay.integrations.djangoapp import (
    SIGNALS,
    dispatch,
    event_dispatched,
    event_handler,
    signal_for,
)
from enrollpay.integrations.webhooks import WebhookSender
from enrollpay.testing import FakeGateway, FrozenClock
from tests.integrations.django_signal_app import handlers

APPS = [
    "enrollpay.integrations.djangoapp",
    "tests.integrations.django_signal_app",
    "examples.django_lms",
]
ROOT = Path(__file__).resolve().parents[2]
HANDLERS = "tests.integrations.django_signal_app.handlers.registry"


@pytest.fixture(scope="module")
def django_configured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Django configured for this process (by this module or test_django.py), SQLite on disk."""
    if not settings.configured:
        db = tmp_path_factory.mktemp("django-signals") / "site.db"
        settings.configure(
            SECRET_KEY="not-a-secret",
            INSTALLED_APPS=[],
            DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(db)}},
            USE_TZ=True,
        )
        django.setup()
    yield
    reset_system()


@pytest.fixture
def site(django_configured: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The three apps installed, handlers named in ENROLLPAY; yields the recording app."""
    monkeypatch.syspath_prepend(str(ROOT))  # the examples package, as a user's checkout has it
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)
    handlers.seen.clear()
    with override_settings(INSTALLED_APPS=APPS, ENROLLPAY={"EVENT_HANDLERS": [HANDLERS]}):
        yield apps.get_app_config("django_signal_app")
    reset_system()


def failing_weekly(system: PaymentSystem, fake: FakeGateway, clock: FrozenClock) -> str:
    """u-1 on four weekly installments; the card declines until access is suspended."""
    product = system.register_product(
        product_type="course", product_id="weekly", name="Welding 101",
        price=Money.of("400", "USD"), payment_plan=Installments(4, interval=Interval.weeks(1)),
    )  # fmt: skip
    result = system.enroll(user_id="u-1", product_id=product.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret)
    fake.deliver(system)
    fake.script(*[fake.decline()] * 4)
    for step in (timedelta(days=7), *system.config.retry_policy.delays):
        clock.advance(step)
        system.collect_due()
    return result.enrollment_id


def test_the_test_app_receives_each_events_signal_then_the_catch_all_in_order(
    site: Any, system: PaymentSystem, fake: FakeGateway, clock: FrozenClock
) -> None:
    """Per event, oldest first: its kind's signal, then event_dispatched; then the handlers."""
    enrollment_id = failing_weekly(system, fake, clock)
    outbox = system.list_events()
    assert "access.suspended" in [e.kind for e in outbox]

    assert dispatch(system=system) == len(outbox)
    assert dispatch(system=system) == 0

    expected = []
    for event in outbox:
        expected += [(event.kind, event.id), ("*", event.id)]
    assert site.received == expected
    assert handlers.seen == [e.id for e in outbox]
    assert system.get_enrollment(enrollment_id).status == "suspended"


def test_the_lms_example_revokes_access_on_suspension(
    site: Any, system: PaymentSystem, fake: FakeGateway, clock: FrozenClock
) -> None:
    """examples.django_lms: granted when the first payment clears, revoked when suspended."""
    failing_weekly(system, fake, clock)
    lms = apps.get_app_config("django_lms").lms

    dispatch(system=system)

    assert lms.log == ["grant u-1 weekly", "revoke u-1 weekly"]
    assert lms.members == set()


def test_a_failing_receiver_stops_dispatch_and_the_event_comes_again(
    site: Any, system: PaymentSystem, fake: FakeGateway, clock: FrozenClock
) -> None:
    """The event whose receiver raised, and every later one, are sent again by the next run."""
    failing_weekly(system, fake, clock)
    outbox = system.list_events()
    (suspension,) = [e for e in outbox if e.kind == "access.suspended"]
    site.fail_on.add(suspension.id)

    with pytest.raises(RuntimeError, match="receiver failed"):
        dispatch(system=system)
    before = outbox.index(suspension)
    assert [e.id for e in system.list_events(delivered=False)] == [e.id for e in outbox[before:]]
    assert site.received[-1] == ("*", outbox[before - 1].id)

    site.fail_on.clear()
    site.received.clear()
    assert dispatch(system=system) == len(outbox) - before
    assert site.received[0] == ("access.suspended", suspension.id)


def test_the_management_command_dispatches_the_settings_system(site: Any) -> None:
    """``manage.py enrollpay_dispatch``: the system from DATABASES, then --limit, then nothing."""
    system = get_system()
    product = system.register_product(
        product_type="course", product_id="c-django", name="C", price=Money.of("10", "USD")
    )
    system.enroll(user_id="u-django", product_id=product.id)
    pending = system.list_events(delivered=False)
    assert pending

    first, rest, again = StringIO(), StringIO(), StringIO()
    call_command("enrollpay_dispatch", "--limit", "1", stdout=first)
    call_command("enrollpay_dispatch", stdout=rest)
    call_command("enrollpay_dispatch", stdout=again)

    assert first.getvalue() == "enrollpay: 1 event(s) delivered\n"
    assert rest.getvalue() == f"enrollpay: {len(pending) - 1} event(s) delivered\n"
    assert again.getvalue() == "enrollpay: 0 event(s) delivered\n"
    assert [r for r in site.received if r[0] != "*"] == [(e.kind, e.id) for e in pending]
    with pytest.raises(CommandError, match="at least 0"):
        call_command("enrollpay_dispatch", "--limit", "-1")


def test_signals_exist_for_every_kind_and_unknown_kinds_are_refused(
    django_configured: None,
) -> None:
    """One distinct signal per kind; signal_for checks the kind."""
    assert len({id(s) for s in SIGNALS.values()}) == len(SIGNALS)
    assert event_dispatched not in SIGNALS.values()
    assert signal_for("access.suspended") is SIGNALS["access.suspended"]
    with pytest.raises(UnknownEventKindError):
        signal_for("access.suspend")


def test_settings_wiring_refuses_bad_handlers_and_endpoints(
    django_configured: None, system: PaymentSystem
) -> None:
    """EVENT_HANDLERS must import and be callable; WEBHOOKS must be valid endpoints."""
    bad: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"EVENT_HANDLERS": ["tests.nowhere.handler"]}, InvalidInputError, "cannot import"),
        ({"EVENT_HANDLERS": [f"{handlers.__name__}.NOT_CALLABLE"]}, InvalidInputError, "callable"),
        ({"WEBHOOKS": ["https://x.example"]}, InvalidInputError, "list of dicts"),
        ({"WEBHOOKS": [{"name": "x", "url": "https://x.example"}]}, InvalidInputError, "secret"),
        (
            {"WEBHOOKS": [{"name": "x", "uri": "https://x", "secret": "s"}]},
            InvalidInputError,
            "unexpected keyword argument 'uri'",
        ),
        (
            {"WEBHOOKS": [{"name": "x", "url": "ftp://x", "secret": "s"}]},
            WebhookEndpointError,
            "URL",
        ),
    ]
    for conf, error, match in bad:
        with override_settings(ENROLLPAY=conf), pytest.raises(error, match=match):
            event_handler(system)

    webhooks = {"WEBHOOKS": [{"name": "lms", "url": "https://lms.example/hook", "secret": "s"}]}
    with override_settings(ENROLLPAY=webhooks):
        functions = event_handler(system).functions_for("access.suspended")
    assert [type(f) for f in functions][-1] is WebhookSender
    assert len(functions) == 2  # the signals, then the sender
