"""Notifications: the handler ``dispatch_events`` calls, with the recording notifier.

Each test drives the public facade (enroll, collect, sweep, card update,
cancellation) and dispatches the outbox to a
:class:`~enrollpay.notifications.NotificationHandler` over a
:class:`~enrollpay.testing.RecordingNotifier`, then asserts what the
student was told: which kinds, in which order, with which values written
in their locale, and that nothing is told twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from enrollpay import Installments, Interval, PaymentSystem
from enrollpay.domain.events import DomainEvent
from enrollpay.domain.records import Enrollment, Product
from enrollpay.errors import NotificationDeliveryError
from enrollpay.notifications import (
    NOTIFICATION_FAULT_POINTS,
    Notification,
    NotificationHandler,
    Recipient,
    Template,
)
from enrollpay.notifications.log import LoggingNotifier
from enrollpay.testing import FakeGateway, FrozenClock, RecordingNotifier
from tests.service.conftest import START, usd
from tests.service.usecases.support import SECOND_DUE, Outbox, enroll_and_pay, run_retries

CARD_PAGE = "https://school.example/billing/card?enrollment="


def card_page(enrollment: Enrollment) -> str:
    """The school's card page for an enrollment."""
    return f"{CARD_PAGE}{enrollment.id}"


def directory(**people: Recipient) -> Callable[[str], Recipient | None]:
    """The host app's address book: user id -> recipient (None for anyone else)."""
    return people.get


ANA = Recipient("ana@example.org", name="Ana", locale="en_US")


def handler(
    system: PaymentSystem,
    notifier: RecordingNotifier,
    recipients: Callable[[str], Recipient | None] | None = None,
    templates: Any = None,
    **settings: Any,
) -> NotificationHandler:
    """A handler writing to u-1 (Ana, in English) unless told otherwise."""
    return NotificationHandler(
        notifier,
        templates,
        system=system,
        recipients=recipients or directory(**{"u-1": ANA}),
        update_card_url=card_page,
        **settings,
    )


@pytest.fixture
def weekly(system: PaymentSystem) -> Product:
    """400.00 USD in four weekly installments of 100.00, the first due on enrollment."""
    return system.register_product(
        product_type="course",
        product_id="weekly",
        name="Welding 101",
        price=usd("400.00"),
        payment_plan=Installments(4, interval=Interval.weeks(1)),
    )


@pytest.fixture
def notifier() -> RecordingNotifier:
    """What the student would have been sent."""
    return RecordingNotifier()


def test_a_failing_weekly_plan_tells_each_failure_once_then_the_suspension_and_the_restoration(
    system: PaymentSystem,
    fake: FakeGateway,
    clock: FrozenClock,
    weekly: Product,
    notifier: RecordingNotifier,
) -> None:
    """One payment_failed per retried attempt with its next retry day; one suspension; one restore.

    The second installment (due March 22) is declined four times, on the
    policy's days (1, 3 and 7 days apart); the outbox is dispatched after
    each collection. The fourth decline is final: access is suspended. A new
    card pays the arrears and restores access.
    """
    result = enroll_and_pay(system, fake, weekly)
    second = result.schedule[1].id
    notify = handler(system, notifier)
    system.dispatch_events(notify)
    assert notifier.sent == []  # enrolling and paying on-session tells nothing here
    fake.script(*[fake.decline()] * 4)

    retry_days = []
    for step in (timedelta(days=7), *system.config.retry_policy.delays):
        clock.advance(step)
        system.collect_due()
        system.dispatch_events(notify)
        retry_at = system.get_schedule_item(second).next_attempt_at
        retry_days.append(None if retry_at is None else retry_at.date())
    fake.attach_payment_method("cus_fake_000001", "pm_new")
    system.update_payment_method("u-1", "pm_new")
    system.dispatch_events(notify)

    # No reminders meanwhile: a student in arrears hears about the arrears.
    assert notifier.kinds() == [
        "payment_failed",
        "payment_failed",
        "payment_failed",
        "access_suspended",
        "access_restored",
    ]
    failures = [n for n in notifier.sent if n.kind == "payment_failed"]
    assert [(n.values["attempt"], n.values["next_retry_date"]) for n in failures] == [
        ("1", "March 23, 2027"),
        ("2", "March 26, 2027"),
        ("3", "April 2, 2027"),
    ]
    assert [str(d) for d in retry_days] == ["2027-03-23", "2027-03-26", "2027-04-02", "None"]
    assert {(n.values["amount"], n.values["due_date"]) for n in failures} == {
        ("$100.00", "March 22, 2027")
    }
    assert {n.values["update_card_url"] for n in failures} == {CARD_PAGE + result.enrollment_id}
    (suspended,) = [n for n in notifier.sent if n.kind == "access_suspended"]
    # The defaulted second installment and the third, overdue by then.
    assert suspended.values["amount_owed"] == "$200.00"
    assert suspended.subject == "Your access to Welding 101 is on hold"
    (restored,) = [n for n in notifier.sent if n.kind == "access_restored"]
    assert restored.text == (
        "Hello Ana,\n\nThank you: your payment came through and your access to "
        "Welding 101 is restored.\n"
    )
    assert {n.recipient for n in notifier.sent} == {ANA}
    assert len({n.key for n in notifier.sent}) == len(notifier.sent)

    # Delivered again (a dispatcher that died before marking, a replayed outbox): nothing new.
    for event in system.list_events():
        notify(event)
    assert len(notifier.sent) == 5


def test_the_first_failure_reads_in_full_in_each_shipped_language(
    system: PaymentSystem,
    fake: FakeGateway,
    clock: FrozenClock,
    three: Product,
    notifier: RecordingNotifier,
) -> None:
    """en, fr, de, ja: the subject, the text, money and dates as each locale writes them."""
    for user in ("u-1", "u-2", "u-3", "u-4"):
        enroll_and_pay(system, fake, three, user=user)
    people = {
        "u-1": Recipient("ana@example.org", name="Ana", locale="en"),
        "u-2": Recipient("bea@example.org", name="Béatrice", locale="fr_FR"),
        "u-3": Recipient("carl@example.org", locale="de-DE"),
        "u-4": Recipient("daiki@example.org", name="大樹", locale="ja"),
    }
    notify = handler(system, notifier, directory(**people))
    system.dispatch_events(notify)
    fake.script(*[fake.decline()] * 4)

    run_retries(system, clock, 1)
    system.dispatch_events(notify)

    by_user = {n.user_id: n for n in notifier.sent}
    assert sorted(by_user) == ["u-1", "u-2", "u-3", "u-4"]
    english, french, german, japanese = (by_user[u] for u in ("u-1", "u-2", "u-3", "u-4"))
    assert (english.locale, english.subject) == (
        "en",
        "Your payment for Three installments did not go through",
    )
    assert french.subject == "Votre paiement pour Three installments n'a pas abouti"
    assert german.subject == "Ihre Zahlung für Three installments ist fehlgeschlagen"
    assert japanese.subject == "Three installmentsのお支払いが完了しませんでした"
    assert [(n.locale, n.values["amount"], n.values["next_retry_date"]) for n in
            (english, french, german, japanese)] == [
        ("en", "$100.00", "April 16, 2027"),
        ("fr", "100,00\xa0$US", "16 avril 2027"),
        ("de", "100,00\xa0$", "16. April 2027"),
        ("ja", "$100.00", "2027年4月16日"),
    ]  # fmt: skip
    assert german.text.startswith("Guten Tag,\n\nwir konnten Ihre Zahlung von 100,00\xa0$ für")
    assert french.text.startswith("Bonjour Béatrice,\n\nNous n'avons pas pu encaisser")
    # Japanese is written with full-width brackets and colons (RUF001 would have ASCII ones).
    assert japanese.text == (
        "大樹 様\n\nThree installmentsのお支払い"
        "（$100.00、お支払い期日：2027年4月15日）"  # noqa: RUF001
        "を"
        "決済できませんでした。\n\n2027年4月16日に再度決済を行います。カードの有効期限が切れて"
        "いる場合やカードを変更された場合は、次回の決済が完了するよう、以下のページでカード情報を"
        f"更新してください。\n\n{CARD_PAGE}{japanese.enrollment_id}\n"
    )
    assert english.html == (
        "<p>Hello Ana,</p>\n<p>We could not collect your payment of <strong>$100.00</strong> "
        "for Three installments (due on April 15, 2027).</p>\n<p>We will try again on "
        "<strong>April 16, 2027</strong>. If your card has expired or changed, update it so "
        "that the next try goes through:</p>\n"
        f'<p><a href="{CARD_PAGE}{english.enrollment_id}">Update your card</a></p>\n'
    )


def test_the_retry_day_is_the_one_in_the_students_time_zone(
    clock: FrozenClock, fake: FakeGateway, system: PaymentSystem, three: Product
) -> None:
    """Declined at 02:00 UTC on April 15: the retry at 02:00 UTC on the 16th is the 15th in LA."""
    enroll_and_pay(system, fake, three)
    fake.script(fake.decline())
    clock.set(SECOND_DUE.replace(hour=2))
    system.collect_due()
    retry_at = system.list_schedule_items()[1].next_attempt_at
    assert retry_at == datetime(2027, 4, 16, 2, 0, tzinfo=UTC)
    notifier = RecordingNotifier()
    west = Recipient("ana@example.org", locale="en", timezone="America/Los_Angeles")

    system.dispatch_events(handler(system, notifier, directory(**{"u-1": west})))

    (failed,) = notifier.sent
    assert failed.values["next_retry_date"] == "April 15, 2027"


def test_a_reminder_and_a_refund_and_a_completion_are_told(
    system: PaymentSystem,
    fake: FakeGateway,
    clock: FrozenClock,
    three: Product,
    notifier: RecordingNotifier,
) -> None:
    """installment_upcoming three days ahead; enrollment_completed; refund_issued on cancel."""
    done = enroll_and_pay(system, fake, three, user="u-1").enrollment_id
    refunded = enroll_and_pay(system, fake, three, user="u-2").enrollment_id
    people = {"u-1": ANA, "u-2": Recipient("bea@example.org", name="Bea", locale="fr")}
    notify = handler(system, notifier, directory(**people))
    system.cancel_enrollment(refunded, reason="moved away", actor="bursar")
    system.dispatch_events(notify)
    (refund,) = notifier.sent
    assert (refund.kind, refund.user_id, refund.values["amount"], refund.values["refund_date"]) == (
        "refund_issued",
        "u-2",
        "100,00\xa0$US",
        "15 mars 2027",
    )
    notifier.clear()

    clock.set(SECOND_DUE - timedelta(days=3))
    system.sweep()
    system.dispatch_events(notify)
    (reminder,) = notifier.sent
    assert (reminder.kind, reminder.enrollment_id) == ("installment_upcoming", done)
    assert reminder.subject == "Your next payment for Three installments is due on April 15, 2027"
    assert (reminder.values["amount"], reminder.values["days_before"]) == ("$100.00", "3")

    for months in (1, 2):
        clock.set(SECOND_DUE.replace(month=3 + months))
        system.collect_due()
    notifier.clear()
    system.dispatch_events(notify)
    assert notifier.kinds() == ["enrollment_completed"]
    assert notifier.sent[0].text == (
        "Hello Ana,\n\nYour last payment came through: Three installments is now paid in "
        "full ($300.00). Thank you!\n"
    )


def test_a_receipt_is_told_once_receipts_exist(
    system: PaymentSystem, fake: FakeGateway, three: Product, notifier: RecordingNotifier
) -> None:
    """No receipt.issued event exists yet: the kind renders one made by hand (data as planned)."""
    enrollment_id = enroll_and_pay(system, fake, three).enrollment_id
    event = DomainEvent(
        id="evt_receipt",
        kind="receipt.issued",
        enrollment_id=enrollment_id,
        at=START,
        data={
            "receipt_id": "rcp_1",
            "number": "2027-0042",
            "amount": {"minor": 10000, "currency": "USD"},
        },
    )

    (receipt,) = handler(system, notifier).compose(event)

    assert receipt.subject == "Receipt 2027-0042 for Three installments"
    assert receipt.values["paid_date"] == "March 15, 2027"
    assert notifier.sent == []  # composing sends nothing


def test_a_late_dispatch_tells_only_what_still_holds(
    system: PaymentSystem,
    fake: FakeGateway,
    clock: FrozenClock,
    weekly: Product,
    notifier: RecordingNotifier,
) -> None:
    """Dispatched once, after the card update: what was paid or lifted since goes untold."""
    enroll_and_pay(system, fake, weekly)
    fake.script(*[fake.decline()] * 4)
    for step in (timedelta(days=7), *system.config.retry_policy.delays):
        clock.advance(step)
        system.collect_due()
    fake.attach_payment_method("cus_fake_000001", "pm_new")
    system.update_payment_method("u-1", "pm_new")
    system.sweep()  # in good standing again: the fourth installment, due April 5, is announced

    delivered = system.dispatch_events(handler(system, notifier))

    assert delivered == len(system.list_events())
    assert notifier.kinds() == ["access_restored", "installment_upcoming"]
    assert notifier.sent[1].values["due_date"] == "April 5, 2027"


def test_a_reminder_of_an_installment_paid_since_is_not_sent(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three: Product
) -> None:
    """Announced, then paid by bank transfer before dispatch ran: no reminder goes out."""
    result = enroll_and_pay(system, fake, three)
    clock.set(SECOND_DUE - timedelta(days=2))
    assert system.sweep().items_reminded == 1
    system.record_manual_payment(
        result.schedule[1].id, method="bank_transfer", reference="TXN-7", actor="bursar"
    )
    notifier = RecordingNotifier()

    system.dispatch_events(handler(system, notifier))

    assert notifier.sent == []
    assert system.list_events(delivered=False) == []


def test_nobody_to_write_to_sends_nothing_and_delivers_the_event(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three: Product
) -> None:
    """recipients() says None (a deleted account): no message, the outbox moves on."""
    enroll_and_pay(system, fake, three)
    fake.script(fake.decline())
    run_retries(system, clock, 1)
    notifier = RecordingNotifier()

    system.dispatch_events(handler(system, notifier, directory()))

    assert notifier.sent == []
    assert system.list_events(delivered=False) == []


def test_a_server_that_is_down_leaves_the_event_for_the_next_dispatch(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three: Product, outbox: Outbox
) -> None:
    """A transient failure stops the run there; the next run sends it, once."""
    enroll_and_pay(system, fake, three)
    system.dispatch_events(lambda _event: None)
    fake.script(fake.decline())
    run_retries(system, clock, 1)
    notifier = RecordingNotifier()
    notifier.fail_next(NotificationDeliveryError("connection refused"))
    notify = handler(system, notifier)

    with pytest.raises(NotificationDeliveryError):
        system.dispatch_events(notify)
    assert [e.kind for e in system.list_events(delivered=False)] == [
        "payment.failed",
        "enrollment.past_due",
    ]
    assert system.dispatch_events(notify) == 2

    assert notifier.kinds() == ["payment_failed"]


def test_an_address_refused_for_good_is_logged_and_not_retried(
    system: PaymentSystem,
    fake: FakeGateway,
    clock: FrozenClock,
    three: Product,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A permanent refusal: logged as an error, the event delivered, never sent again."""
    enroll_and_pay(system, fake, three)
    fake.script(fake.decline())
    run_retries(system, clock, 1)
    notifier = RecordingNotifier()
    notifier.fail_next(NotificationDeliveryError("550 no such mailbox", permanent=True))
    notify = handler(system, notifier)

    with caplog.at_level(logging.ERROR, logger="enrollpay.notifications"):
        system.dispatch_events(notify)
    for event in system.list_events():
        notify(event)

    assert notifier.sent == []
    assert system.list_events(delivered=False) == []
    assert "refused for good: 550 no such mailbox" in caplog.text
    assert "ana@example.org" in caplog.text


def test_a_notification_is_sent_again_only_after_the_dedupe_window(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three: Product
) -> None:
    """Within the window a redelivered event is skipped; after it the record is gone."""
    enroll_and_pay(system, fake, three)
    fake.script(fake.decline(), fake.decline())
    run_retries(system, clock, 1)
    notifier = RecordingNotifier()
    notify = handler(system, notifier, dedupe_window=timedelta(hours=12))
    (failed,) = [e for e in system.list_events() if e.kind == "payment.failed"]

    notify(failed)
    clock.advance(timedelta(hours=11, minutes=59))
    notify(failed)
    assert len(notifier.sent) == 1
    clock.advance(timedelta(minutes=1))
    notify(failed)

    assert [n.key for n in notifier.sent] == [f"{failed.id}.payment_failed"] * 2
    with system.store.transaction() as tx:
        assert tx.notification_sent_at(failed.id, "payment_failed") == clock.now()


def test_only_the_kinds_asked_for_are_sent_and_extra_values_reach_the_templates(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three: Product
) -> None:
    """kinds=[...] narrows what is sent; an override template uses the host's extra value."""
    enroll_and_pay(system, fake, three)
    fake.script(*[fake.decline()] * 4)
    run_retries(system, clock, 4)
    notifier = RecordingNotifier()
    override = Template(
        subject="[${school}] ${product_name}: access on hold",
        text="${greeting} pay ${amount_owed} at ${update_card_url}. -- ${school}\n",
        html="<p>${greeting} pay ${amount_owed}.</p>",
    )

    system.dispatch_events(
        handler(
            system,
            notifier,
            templates={"access_suspended": override},
            kinds=["access_suspended"],
            extra={"school": "Acme <Academy>"},
        )
    )

    (suspended,) = notifier.sent
    assert suspended.subject == "[Acme <Academy>] Three installments: access on hold"
    assert suspended.text == (
        f"Hello Ana, pay $100.00 at {CARD_PAGE}enr_000002. -- Acme <Academy>\n"
    )
    assert suspended.html == "<p>Hello Ana, pay $100.00.</p>"


def test_a_templates_directory_overrides_one_language_and_adds_another(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three: Product, tmp_path: Path
) -> None:
    """fr.toml replaces the French restoration; es.toml adds Spanish with its own greeting."""
    (tmp_path / "fr.toml").write_text(
        '[access_restored]\nsubject = "Re-bienvenue"\ntext = "${greeting} c\'est reparti.\\n"\n'
        'html = "<p>${greeting}</p>"\n',
        encoding="utf-8",
    )
    (tmp_path / "es.toml").write_text(
        '[greeting]\nnamed = "Hola ${name}:"\nanonymous = "Hola:"\n\n'
        '[access_restored]\nsubject = "Acceso restablecido"\ntext = "${greeting} ya puedes '
        'volver a ${product_name}.\\n"\nhtml = "<p>${greeting}</p>"\n',
        encoding="utf-8",
    )
    enroll_and_pay(system, fake, three, user="u-1")
    enroll_and_pay(system, fake, three, user="u-2")
    fake.script(*[fake.decline("stolen_card")] * 2)
    run_retries(system, clock, 1)
    for user in ("u-1", "u-2"):
        with system.store.reader() as view:
            customer = view.get_customer(user)
        assert customer is not None
        fake.attach_payment_method(customer.gateway_customer_id, f"pm_new_{user[-1]}")
        system.update_payment_method(user, f"pm_new_{user[-1]}")
    people = {
        "u-1": Recipient("ana@example.org", name="Ana", locale="es_MX"),
        "u-2": Recipient("bea@example.org", locale="fr"),
    }
    notifier = RecordingNotifier()

    system.dispatch_events(
        handler(system, notifier, directory(**people), tmp_path, kinds=["access_restored"])
    )

    assert [(n.user_id, n.locale, n.subject, n.text) for n in notifier.sent] == [
        ("u-1", "es", "Acceso restablecido", "Hola Ana: ya puedes volver a Three installments.\n"),
        ("u-2", "fr", "Re-bienvenue", "Bonjour, c'est reparti.\n"),
    ]


def test_an_unknown_locale_is_written_in_the_default_language(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three: Product
) -> None:
    """pt_BR has no templates: German by the handler's default, money and dates German too."""
    enroll_and_pay(system, fake, three, user="u-1")
    enroll_and_pay(system, fake, three, user="u-2")
    fake.script(fake.decline(), fake.decline())
    run_retries(system, clock, 1)
    people = {
        "u-1": Recipient("ana@example.org", locale="pt_BR"),
        "u-2": Recipient("bea@example.org", locale="xx-nowhere"),
    }
    notifier = RecordingNotifier()

    system.dispatch_events(
        handler(
            system, notifier, directory(**people), default_locale="de_AT", kinds=["payment_failed"]
        )
    )

    assert [(n.locale, n.values["amount"], n.values["due_date"]) for n in notifier.sent] == [
        ("de", "$\xa0100,00", "15. April 2027"),
        ("de", "$\xa0100,00", "15. April 2027"),
    ]


def notifier_sent_again(system: PaymentSystem) -> Notification:
    """The payment_failed notification of the system's first payment.failed event, composed."""
    (event,) = [e for e in system.list_events() if e.kind == "payment.failed"]
    (notification,) = handler(system, RecordingNotifier()).compose(event)
    return notification


def test_the_logging_notifier_writes_one_line_per_message(
    system: PaymentSystem,
    fake: FakeGateway,
    clock: FrozenClock,
    three: Product,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """kind, key, address, language and subject; the text only when asked."""
    enroll_and_pay(system, fake, three)
    fake.script(fake.decline())
    run_retries(system, clock, 1)
    logger = logging.getLogger("tests.mail")

    with caplog.at_level(logging.INFO, logger="tests.mail"):
        system.dispatch_events(
            NotificationHandler(
                LoggingNotifier(logger, include_text=True),
                system=system,
                recipients=directory(**{"u-1": ANA}),
                update_card_url=card_page,
            )
        )

    (record,) = [r for r in caplog.records if r.name == "tests.mail"]
    first, *rest = record.getMessage().split("\n")
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="tests.mail"):
        LoggingNotifier(logger, level=logging.DEBUG).send(notifier_sent_again(system))
    (short,) = [r for r in caplog.records if r.name == "tests.mail"]
    assert short.levelno == logging.DEBUG
    assert short.getMessage() == first
    assert first.startswith("payment_failed evt_")
    assert first.endswith(
        ".payment_failed to ana@example.org [en]: "
        "Your payment for Three installments did not go through"
    )
    assert rest[0] == "Hello Ana,"


def test_each_message_passes_the_fault_points_in_order(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, three: Product
) -> None:
    """Sent, then recorded, per message: the points the crash tests kill a dispatcher at."""
    enroll_and_pay(system, fake, three)
    fake.script(fake.decline())
    run_retries(system, clock, 1)
    points: list[str] = []

    system.dispatch_events(handler(system, RecordingNotifier(), faults=points.append))

    assert (
        tuple(points) == NOTIFICATION_FAULT_POINTS == ("notification_sent", "notification_recorded")
    )


def test_an_event_without_an_enrollment_tells_no_one(
    system: PaymentSystem, notifier: RecordingNotifier
) -> None:
    """Nothing to look the student up by: no notification."""
    orphan = DomainEvent(
        id="evt_x", kind="refund.issued", enrollment_id=None, at=START, data={"amount": {}}
    )
    notify = handler(system, notifier)
    assert notify.compose(orphan) == []
    notify(orphan)
    assert notifier.sent == []
