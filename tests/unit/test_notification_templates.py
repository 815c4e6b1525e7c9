"""Notification templates, kinds, recipients and notifications as values: no system needed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from enrollpay.domain.events import EVENT_KINDS
from enrollpay.errors import InvalidInputError, NotificationTemplateError
from enrollpay.notifications import (
    COMMON_VALUES,
    NOTIFICATION_KINDS,
    Greeting,
    Notification,
    Notifier,
    Recipient,
    Template,
    Templates,
)
from enrollpay.notifications.templates import normal_locale
from enrollpay.testing import RecordingNotifier

SHIPPED = ("en", "fr", "de", "ja")


def test_every_kind_comes_from_a_known_event() -> None:
    """Each kind's event is in the catalogue (receipt.issued too, now that receipts exist)."""
    events = {kind.event_kind for kind in NOTIFICATION_KINDS.values()}
    assert "receipt.issued" in events
    assert events - set(EVENT_KINDS) == set()
    assert list(NOTIFICATION_KINDS) == [
        "payment_failed",
        "access_suspended",
        "access_restored",
        "installment_upcoming",
        "receipt_issued",
        "refund_issued",
        "enrollment_completed",
    ]


@pytest.mark.parametrize("locale", SHIPPED)
def test_each_shipped_language_has_every_kind_using_only_its_values(locale: str) -> None:
    """Every kind, all three parts, no value its kind lacks; every kind greets the student."""
    templates = Templates.shipped()
    for name, kind in NOTIFICATION_KINDS.items():
        found = templates.find(name, [locale])
        assert found is not None, name
        template, written_in = found
        assert written_in == locale
        assert template.names <= kind.allowed, name
        assert "greeting" in template.names
        assert "product_name" in template.names
        assert template.subject.strip() == template.subject


def test_the_shipped_languages_are_the_four_the_issue_asks_for() -> None:
    """en, fr, de and ja, each with its greeting."""
    templates = Templates.shipped()
    assert templates.locales == SHIPPED
    assert [templates.greeting([loc]).render("Ana") for loc in SHIPPED] == [
        "Hello Ana,",
        "Bonjour Ana,",
        "Hallo Ana,",
        "Ana 様",
    ]
    assert [templates.greeting([loc]).render(None) for loc in SHIPPED] == [
        "Hello,",
        "Bonjour,",
        "Guten Tag,",
        "お客様",
    ]
    assert templates.greeting(["pt", "es"]).render("  Ana \n Maria ") == "Hello Ana Maria,"


def test_values_are_escaped_in_html_and_kept_on_one_line_in_the_subject() -> None:
    """<, &, quotes escaped in the HTML part only; a line break in a value never splits a header."""
    template = Template(
        subject="${product_name} for $$5",
        text="${product_name}\n",
        html='<a href="${update_card_url}">${product_name}</a>',
    )
    rendered = template.render(
        {"product_name": "R&D <Lab>\nBcc: x@y", "update_card_url": 'https://a.example/?q="1"&r=2'}
    )
    assert rendered.subject == "R&D <Lab> Bcc: x@y for $5"
    assert rendered.text == "R&D <Lab>\nBcc: x@y\n"
    assert rendered.html == (
        '<a href="https://a.example/?q=&quot;1&quot;&amp;r=2">R&amp;D &lt;Lab&gt;\nBcc: x@y</a>'
    )
    assert template.names == {"product_name", "update_card_url"}


def test_a_template_missing_a_value_at_render_time_says_which() -> None:
    """The handler checks names up front; render() still names a missing one."""
    with pytest.raises(NotificationTemplateError, match=r"no value for \$\{amount\}"):
        Template("s", "${amount}", "h").render({})


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        (("", "t", "h"), "subject must be one line, not empty"),
        (("two\nlines", "t", "h"), "subject must be one line"),
        (("s", "costs 5$", "h"), "write \\$\\$ for"),
        (("s", "t", 3), "html must be a string"),
    ],
)
def test_a_malformed_template_is_refused(parts: tuple[object, ...], message: str) -> None:
    """Empty or multi-line subjects, a stray '$', a part that is not text."""
    with pytest.raises(NotificationTemplateError, match=message):
        Template(*parts)  # type: ignore[arg-type]


def test_overrides_apply_to_every_locale_or_to_one() -> None:
    """Without a locale a kind is replaced everywhere; with one, there only (added if new)."""
    mine = Template("Paid", "${greeting}\n", "<p>${greeting}</p>")
    everywhere = Templates.shipped().with_overrides({"enrollment_completed": mine})
    assert {everywhere.find("enrollment_completed", [loc]) for loc in SHIPPED} == {
        (mine, loc) for loc in SHIPPED
    }
    one = Templates.shipped().with_overrides({"enrollment_completed": mine}, locale="pt-br")
    assert one.find("enrollment_completed", ["pt_BR"]) == (mine, "pt_BR")
    found = one.find("enrollment_completed", ["fr"])
    assert found is not None
    assert found[0] != mine
    assert Templates.shipped().find("enrollment_completed", ["pt_BR", "pt"]) is None


def test_greetings_take_only_the_name() -> None:
    """${name} in the named form; nothing in the anonymous one."""
    with pytest.raises(NotificationTemplateError, match="greeting may use"):
        Greeting(named="Hi ${name}", anonymous="Hi ${name}")


@pytest.mark.parametrize(
    ("given", "normal"), [("fr", "fr"), ("fr-ca", "fr_CA"), ("ja_JP", "ja_JP"), ("de-AT", "de_AT")]
)
def test_locales_are_spelled_as_babel_spells_them(given: str, normal: str) -> None:
    """Dashes or underscores, any case of the region."""
    assert normal_locale(given) == normal


def test_an_unknown_locale_is_a_value_error() -> None:
    """No such locale in babel's data."""
    with pytest.raises(ValueError, match="unknown locale 'xx'"):
        normal_locale("xx")


@pytest.mark.parametrize(
    "address",
    ["ana", "@example.org", "ana@", "ana @example.org", "ana@example.org\nBcc: x@y", 3],
)
def test_a_recipient_needs_an_address(address: object) -> None:
    """One '@' with something either side, no blanks, no line breaks."""
    with pytest.raises(InvalidInputError):
        Recipient(address)  # type: ignore[arg-type]


def test_a_recipient_refuses_a_forged_name_and_an_unknown_zone() -> None:
    """A name with a line break would forge headers; a zone must be an IANA name."""
    with pytest.raises(InvalidInputError, match="one line"):
        Recipient("ana@example.org", name="Ana\r\nBcc: x@y")
    with pytest.raises(InvalidInputError, match="unknown time zone"):
        Recipient("ana@example.org", timezone="Mars/Olympus")
    assert Recipient("ana@example.org", timezone="Asia/Tokyo").timezone == "Asia/Tokyo"


def a_notification(event_id: str = "evt_0190abc", kind: str = "payment_failed") -> Notification:
    """A notification with nothing but its identity of interest."""
    return Notification(
        kind=kind,
        event_id=event_id,
        enrollment_id="enr_1",
        user_id="u-1",
        recipient=Recipient("ana@example.org"),
        locale="en",
        subject="s",
        text="t",
        html="h",
        at=datetime(2027, 3, 15, tzinfo=UTC),
    )


def test_a_notification_is_identified_by_its_event_and_kind() -> None:
    """The key and the Message-ID are the same for every send of it, and differ between kinds."""
    first, again = a_notification(), a_notification()
    assert first.key == again.key == "evt_0190abc.payment_failed"
    assert first.message_id("acme.example") == "<evt_0190abc.payment_failed@acme.example>"
    assert a_notification(kind="refund_issued").message_id("acme.example") != first.message_id(
        "acme.example"
    )
    odd = a_notification(event_id="evt 1/<2>@x")
    assert odd.message_id("acme.example") == "<evt-1--2--x.payment_failed@acme.example>"


@pytest.mark.parametrize("domain", ["", "a b", "x@y", "<z>"])
def test_a_message_id_needs_a_plain_domain(domain: str) -> None:
    """No blanks, brackets or '@' in the domain part."""
    with pytest.raises(InvalidInputError, match="Message-ID domain"):
        a_notification().message_id(domain)


def test_the_recording_notifier_is_a_notifier_that_can_fail_on_cue() -> None:
    """It satisfies the port, keeps what it accepted, and raises scripted errors one per send."""
    notifier = RecordingNotifier()
    assert isinstance(notifier, Notifier)
    notifier.fail_next(ConnectionError("down"))
    with pytest.raises(ConnectionError, match="down"):
        notifier.send(a_notification("evt_1"))
    notifier.send(a_notification("evt_2"))
    notifier.send(a_notification("evt_3", "refund_issued"))
    assert [n.event_id for n in notifier.sent] == ["evt_2", "evt_3"]
    assert notifier.kinds() == ["payment_failed", "refund_issued"]
    assert len(notifier.to("ana@example.org")) == 2
    assert notifier.to("bea@example.org") == []
    notifier.clear()
    assert notifier.sent == []


def test_the_common_values_are_in_every_kind() -> None:
    """greeting, student_name, product_name, enrollment_id: allowed everywhere."""
    for kind in NOTIFICATION_KINDS.values():
        assert set(COMMON_VALUES) <= kind.allowed
        assert not set(COMMON_VALUES) & set(kind.values)
