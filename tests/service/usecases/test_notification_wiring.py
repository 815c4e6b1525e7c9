"""Notifications wired wrongly fail when the handler is made, with a typed error that says why."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from enrollpay import PaymentSystem
from enrollpay.domain.records import Product
from enrollpay.errors import (
    NotificationConfigError,
    NotificationTemplateError,
)
from enrollpay.notifications import NotificationHandler, Recipient, Template, Templates
from enrollpay.testing import FakeGateway, FrozenClock, RecordingNotifier
from tests.service.usecases.support import enroll_and_pay, run_retries


def nobody(_user_id: str) -> Recipient | None:
    """An address book with no one in it."""
    return None


def make(system: PaymentSystem, *args: Any, **settings: Any) -> NotificationHandler:
    """A handler over a recording notifier; ``settings`` override the working defaults."""
    wiring: dict[str, Any] = {
        "system": system,
        "recipients": nobody,
        "update_card_url": lambda enrollment: f"https://school.example/card/{enrollment.id}",
        **settings,
    }
    return NotificationHandler(RecordingNotifier(), *args, **wiring)


def test_the_shipped_templates_need_the_update_card_link(system: PaymentSystem) -> None:
    """Without update_card_url: refused, naming the kinds that link to it and how to fix it."""
    with pytest.raises(NotificationConfigError, match=r"pass update_card_url=") as info:
        make(system, update_card_url=None)
    assert "en/payment_failed" in str(info.value)


def test_without_the_kinds_that_link_no_link_is_needed(system: PaymentSystem) -> None:
    """Refunds and completions only: no card page to give."""
    handler = make(system, update_card_url=None, kinds=["refund_issued", "enrollment_completed"])
    assert isinstance(handler, NotificationHandler)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"kinds": ["payment_failed", "payment_declined"]}, "unknown notification kinds"),
        ({"kinds": "payment_faild"}, "unknown notification kinds"),
        ({"default_locale": "zz_ZZ"}, "unknown locale"),
        ({"dedupe_window": timedelta(0)}, "dedupe_window must be positive"),
        ({"recipients": "ana@example.org"}, "recipients must map"),
        ({"extra": {"amount": "1"}}, "not a free identifier"),
        ({"extra": {"school name": "x"}}, "not a free identifier"),
        ({"extra": {"school": 1}}, "must be a string"),
    ],
)
def test_bad_settings_are_refused(
    system: PaymentSystem, settings: dict[str, Any], message: str
) -> None:
    """Each mistake raises NotificationConfigError (a ValueError) saying what is wrong."""
    with pytest.raises(NotificationConfigError, match=message) as info:
        make(system, **settings)
    assert isinstance(info.value, ValueError)


def test_a_notifier_and_a_system_of_the_wrong_kind_are_refused(system: PaymentSystem) -> None:
    """An object without send(), and a store where the system belongs."""
    with pytest.raises(NotificationConfigError, match="send"):
        NotificationHandler(object(), system=system, recipients=nobody)  # type: ignore[arg-type]
    with pytest.raises(NotificationConfigError, match="PaymentSystem"):
        NotificationHandler(
            RecordingNotifier(),
            system=system.store,  # type: ignore[arg-type]
            recipients=nobody,
        )


@pytest.mark.parametrize(
    ("templates", "message"),
    [
        (
            {"payment_failed": Template("x ${ammount}", "t", "h")},
            r"payment_failed uses ammount, which a payment_failed notification does not have",
        ),
        ({"payment_declined": Template("s", "t", "h")}, "no notification kind 'payment_declined'"),
        ({"payment_failed": "Your payment failed"}, "is not a Template"),
        (42, "templates must be None, Templates, a mapping or a directory"),
        ("/no/such/folder", "no templates directory"),
        (Templates({"fr": {}}), "no en template for payment_failed"),
    ],
)
def test_templates_that_cannot_render_are_refused(
    system: PaymentSystem, templates: Any, message: str
) -> None:
    """A misspelt value, an unknown kind, a string for a template, nothing in the default locale."""
    with pytest.raises(NotificationConfigError, match=message):
        make(system, templates)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[payment_failed\n", "not valid TOML"),
        ('[payment_failed]\nsubject = "s"\ntext = "t"\n', "must have exactly subject, text, html"),
        ('[greeting]\nnamed = "Hi ${name} ${school}"\nanonymous = "Hi"\n', "greeting may use"),
        ('[refund_issued]\nsubject = "5$ back"\ntext = "t"\nhtml = "h"\n', "write \\$\\$ for"),
    ],
)
def test_a_templates_directory_with_a_bad_file_is_refused(
    system: PaymentSystem, tmp_path: Path, content: str, message: str
) -> None:
    """Broken TOML, a kind without all three parts, a greeting with other values, a stray '$'."""
    (tmp_path / "en.toml").write_text(content, encoding="utf-8")
    with pytest.raises(NotificationTemplateError, match=message):
        make(system, tmp_path)


def test_a_file_named_for_no_locale_is_refused(system: PaymentSystem, tmp_path: Path) -> None:
    """klingon.toml: babel knows no such locale."""
    (tmp_path / "klingon.toml").write_text("", encoding="utf-8")
    with pytest.raises(NotificationTemplateError, match=r"klingon\.toml"):
        make(system, tmp_path)


def test_a_recipients_function_that_returns_an_address_is_refused_when_used(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three: Product
) -> None:
    """A plain string is not a Recipient: dispatch stops there with a typed error."""
    enroll_and_pay(system, fake, three)
    fake.script(fake.decline())
    run_retries(system, clock, 1)
    handler = make(system, recipients=lambda _user: "ana@example.org")

    with pytest.raises(NotificationConfigError, match="must return a Recipient or None, got str"):
        system.dispatch_events(handler)
    assert system.list_events(delivered=False)[0].kind == "payment.failed"
