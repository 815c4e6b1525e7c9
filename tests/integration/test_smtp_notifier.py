"""The SMTP notifier against a real SMTP server (aiosmtpd on loopback): what arrives, and how.

Plain SMTP, STARTTLS with a login and TLS from the start with a login;
refusals for good and for now; a server that is down or dropped the kept
connection. The messages are read back as the server received them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import attrs
import pytest

from enrollpay.errors import NotificationConfigError, NotificationDeliveryError
from enrollpay.notifications import Notification, Recipient
from enrollpay.notifications.smtp import SmtpNotifier
from tests.support.smtp_server import PASSWORD, USER, MailServer, free_port

pytestmark = pytest.mark.filterwarnings(
    # aiosmtpd's own warnings, raised in its thread: it counts only STARTTLS as
    # TLS for a login (our TLS-from-the-start server is encrypted all the same),
    # and its login path still touches its deprecated Session.login_data.
    "ignore:Requiring AUTH while not requiring TLS:UserWarning",
    "ignore:Session.login_data is deprecated:DeprecationWarning",
)

AT = datetime(2027, 3, 15, 9, 30, tzinfo=UTC)
SENDER = "Acme Academy <billing@acme.example>"


def a_notification(
    event_id: str = "evt_1", *, address: str = "ana@example.org", name: str | None = "Ana Łukasz"
) -> Notification:
    """A payment-failed notice in Japanese, with a fragment of HTML."""
    return Notification(
        kind="payment_failed",
        event_id=event_id,
        enrollment_id="enr_1",
        user_id="u-1",
        recipient=Recipient(address, name=name, locale="ja_JP"),
        locale="ja",
        subject="Welding 101のお支払いが完了しませんでした",
        text="アナ 様\n\n決済できませんでした。\n",
        html='<p>アナ 様</p>\n<p>決済できませんでした &amp; <a href="https://x.example/?a=1&amp;b=2">更新</a></p>',
        at=AT,
    )


@pytest.fixture
def server() -> Iterator[MailServer]:
    """A plain SMTP server."""
    mail = MailServer()
    yield mail
    mail.stop()


def test_a_message_arrives_as_a_text_and_html_email_with_its_headers(server: MailServer) -> None:
    """From, To (name encoded), subject, date, Message-ID from the key, language, both parts."""
    with SmtpNotifier("127.0.0.1", server.port, sender=SENDER, security="none") as notifier:
        notifier.send(a_notification())

    (message,) = server.messages()
    assert server.envelopes == [("billing@acme.example", ["ana@example.org"])]
    assert str(message["From"]) == "Acme Academy <billing@acme.example>"
    assert str(message["To"]) == "Ana Łukasz <ana@example.org>"
    assert str(message["Subject"]) == "Welding 101のお支払いが完了しませんでした"
    assert str(message["Date"]) == "Mon, 15 Mar 2027 09:30:00 +0000"
    assert str(message["Message-ID"]) == "<evt_1.payment_failed@acme.example>"
    assert str(message["Content-Language"]) == "ja"
    assert str(message["Auto-Submitted"]) == "auto-generated"
    assert str(message["X-Enrollpay-Notification"]) == "payment_failed"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    page = message.get_body(("html",))
    assert text is not None
    assert page is not None
    # On the wire lines end in CRLF; the parts are compared with Python's line ends.
    assert text.get_content().replace("\r\n", "\n") == "アナ 様\n\n決済できませんでした。\n"
    assert page.get_content().replace("\r\n", "\n") == (
        '<!DOCTYPE html>\n<html lang="ja">\n<head><meta charset="utf-8">'
        "<title>Welding 101のお支払いが完了しませんでした</title></head>\n<body>\n"
        "<p>アナ 様</p>\n<p>決済できませんでした &amp; "
        '<a href="https://x.example/?a=1&amp;b=2">更新</a></p>\n</body>\n</html>\n'
    )


def test_one_connection_carries_many_messages_and_a_reply_to(server: MailServer) -> None:
    """Three sends, three messages in order, each with its own Message-ID; Reply-To set."""
    notifier = SmtpNotifier(
        "127.0.0.1",
        server.port,
        sender=SENDER,
        security="none",
        reply_to="Help desk <help@acme.example>",
        message_id_domain="mail.acme.example",
    )
    for n in range(3):
        notifier.send(a_notification(f"evt_{n}", name=None))
    notifier.close()
    notifier.close()  # closing twice is harmless

    ids = [str(m["Message-ID"]) for m in server.messages()]
    assert ids == [f"<evt_{n}.payment_failed@mail.acme.example>" for n in range(3)]
    assert {str(m["Reply-To"]) for m in server.messages()} == {"Help desk <help@acme.example>"}
    assert {str(m["To"]) for m in server.messages()} == {"ana@example.org"}


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_over_tls_with_a_login_the_message_arrives(security: str) -> None:
    """STARTTLS on the submission port, or TLS from the start; the server requires a login."""
    server = MailServer(security=security, auth=True)
    try:
        with SmtpNotifier(
            "127.0.0.1",
            server.port,
            sender=SENDER,
            security=security,  # type: ignore[arg-type]
            username=USER,
            password=PASSWORD,
            ssl_context=server.client_context(),
        ) as notifier:
            notifier.send(a_notification())
        assert [str(m["Message-ID"]) for m in server.messages()] == [
            "<evt_1.payment_failed@acme.example>"
        ]
    finally:
        server.stop()


def test_a_wrong_password_is_a_transient_failure() -> None:
    """Refused credentials are fixed on the server's side: the event waits, nothing is dropped."""
    server = MailServer(security="starttls", auth=True)
    try:
        notifier = SmtpNotifier(
            "127.0.0.1",
            server.port,
            sender=SENDER,
            username=USER,
            password="wrong",
            ssl_context=server.client_context(),
        )
        with pytest.raises(NotificationDeliveryError) as info:
            notifier.send(a_notification())
        assert info.value.permanent is False
        assert server.messages() == []
    finally:
        server.stop()


def test_an_untrusted_certificate_is_refused() -> None:
    """STARTTLS with the system's trust store does not trust the test CA: nothing is sent."""
    server = MailServer(security="starttls")
    try:
        notifier = SmtpNotifier("127.0.0.1", server.port, sender=SENDER)
        with pytest.raises(NotificationDeliveryError, match="CERTIFICATE_VERIFY_FAILED"):
            notifier.send(a_notification())
        assert server.messages() == []
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("reply", "permanent"),
    [("550 5.1.1 No such mailbox", True), ("452 4.2.2 Mailbox full", False)],
)
def test_a_refused_recipient_is_permanent_only_for_a_5xx_reply(
    server: MailServer, reply: str, permanent: bool
) -> None:
    """550: sending again cannot help; 452: it may go through later. The next send works."""
    server.refuse["gone@example.org"] = reply
    notifier = SmtpNotifier("127.0.0.1", server.port, sender=SENDER, security="none")

    with pytest.raises(NotificationDeliveryError) as info:
        notifier.send(a_notification("evt_1", address="gone@example.org"))
    assert info.value.permanent is permanent
    assert reply.split(maxsplit=1)[0] in str(info.value)
    notifier.send(a_notification("evt_2"))
    notifier.close()

    assert [str(m["Message-ID"]) for m in server.messages()] == [
        "<evt_2.payment_failed@acme.example>"
    ]


@pytest.mark.parametrize(
    ("reply", "permanent"),
    [("554 5.6.0 Message rejected as spam", True), ("451 4.3.0 Try again later", False)],
)
def test_a_refused_message_is_permanent_only_for_a_5xx_reply(
    server: MailServer, reply: str, permanent: bool
) -> None:
    """The server refuses the content after DATA: 554 for good, 451 for now."""
    server.refuse_data = reply
    with SmtpNotifier("127.0.0.1", server.port, sender=SENDER, security="none") as notifier:
        with pytest.raises(NotificationDeliveryError, match="refused the message") as info:
            notifier.send(a_notification())
        assert info.value.permanent is permanent
    assert server.messages() == []


def test_an_html_part_that_is_a_whole_page_is_sent_as_it_is(server: MailServer) -> None:
    """A template that writes its own <!DOCTYPE html> page gets no second page around it."""
    page = '<!DOCTYPE html>\n<html lang="en"><body><p>Hi</p></body></html>\n'
    notification = a_notification()
    with SmtpNotifier("127.0.0.1", server.port, sender=SENDER, security="none") as notifier:
        notifier.send(attrs.evolve(notification, html=page))
    (message,) = server.messages()
    html_part = message.get_body(("html",))
    assert html_part is not None
    assert html_part.get_content().replace("\r\n", "\n") == page


@pytest.mark.parametrize("address", ["ana..b@example.org", "añez@example.org", "a,b@example.org"])
def test_an_address_no_e_mail_header_can_hold_is_refused_for_good(
    server: MailServer, address: str
) -> None:
    """Dots in a row, a non-ASCII mailbox, a comma: permanent, and nothing reaches the server."""
    notifier = SmtpNotifier("127.0.0.1", server.port, sender=SENDER, security="none")
    with pytest.raises(NotificationDeliveryError, match="cannot write an e-mail to") as info:
        notifier.send(a_notification(address=address))
    assert info.value.permanent is True
    assert server.messages() == []


def test_a_server_that_is_down_is_a_transient_failure() -> None:
    """Nothing listens on the port: a transient NotificationDeliveryError (a ConnectionError)."""
    notifier = SmtpNotifier("127.0.0.1", free_port(), sender=SENDER, security="none", timeout=5)
    with pytest.raises(ConnectionError) as info:
        notifier.send(a_notification())
    assert isinstance(info.value, NotificationDeliveryError)
    assert info.value.permanent is False


def test_a_dropped_connection_is_opened_again() -> None:
    """The server restarts between two sends: the kept connection fails NOOP and is replaced."""
    first = MailServer()
    port = first.port
    notifier = SmtpNotifier("127.0.0.1", port, sender=SENDER, security="none")
    notifier.send(a_notification("evt_1"))
    first.stop()
    second = MailServer(port=port)
    try:
        notifier.send(a_notification("evt_2"))
        notifier.close()
    finally:
        second.stop()
    assert [str(m["Message-ID"]) for m in first.messages()] == [
        "<evt_1.payment_failed@acme.example>"
    ]
    assert [str(m["Message-ID"]) for m in second.messages()] == [
        "<evt_2.payment_failed@acme.example>"
    ]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"security": "tls"}, "security must be one of"),
        ({"username": "billing"}, "both username and password"),
        ({"username": "billing", "password": "x", "security": "none"}, "never sent unencrypted"),
        ({"sender": "billing"}, "sender must be an e-mail address"),
        ({"reply_to": "help desk"}, "must be an e-mail address"),
    ],
)
def test_bad_settings_are_refused_when_the_notifier_is_made(
    settings: dict[str, str], message: str
) -> None:
    """Mistakes in the wiring raise NotificationConfigError at once, not at the first send."""
    arguments: dict[str, str] = {"sender": SENDER, **settings}
    with pytest.raises(NotificationConfigError, match=message):
        SmtpNotifier("127.0.0.1", **arguments)  # type: ignore[arg-type]


def test_the_default_ports_follow_the_security() -> None:
    """587 for STARTTLS, 465 for TLS from the start, 25 for neither."""
    assert "smtp.example.org:587, starttls" in repr(SmtpNotifier("smtp.example.org", sender=SENDER))
    ssl_repr = repr(SmtpNotifier("smtp.example.org", sender=SENDER, security="ssl"))
    assert "smtp.example.org:465, ssl" in ssl_repr
    plain = repr(SmtpNotifier("smtp.example.org", sender=SENDER, security="none"))
    assert "smtp.example.org:25, none" in plain
