"""A dispatcher killed between sending a notification and marking its event, then restarted.

The dispatcher runs in its own process (``notify_dispatcher.py``) over a
database on disk (SQLite, and PostgreSQL) and a real SMTP server in this
process. It is killed with ``os._exit`` at a fault point of the
notifications handler, then a new process dispatches again once the dead
one's dispatch lease has expired:

- killed after the message is sent and recorded, before the outbox marks
  its event delivered (dispatch's at-least-once window): the restarted
  dispatcher gets that event again and sends nothing twice;
- killed after the SMTP server accepted the message and before it is
  recorded (the one gap the log cannot close): the message goes out again,
  with the same Message-ID, which is how mail systems spot the repeat.

Either way no notification is lost.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from enrollpay import Installments, Money, PaymentSystem
from enrollpay.notifications import NOTIFICATION_KINDS
from enrollpay.storage.sql import SqlStore
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds
from tests.support.smtp_server import MailServer

from .notify_dispatcher import KILLED

DISPATCHER = Path(__file__).with_name("notify_dispatcher.py")
START = datetime(2027, 3, 15, 9, 0, tzinfo=UTC)
SECOND_DUE = datetime(2027, 4, 15, 9, 0, tzinfo=UTC)
#: Later than the dead dispatcher's lease (5 minutes), well within the dedupe window.
RESTART = SECOND_DUE + timedelta(days=1, minutes=10)
STUDENTS = ("u-1", "u-2", "u-3")


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database the dispatcher processes can open."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'school.db'}"
        return
    databases = request.getfixturevalue("pg_databases")
    created: str = databases.create()
    yield created
    databases.drop(created)


@pytest.fixture
def server() -> Iterator[MailServer]:
    """The school's SMTP server."""
    mail = MailServer()
    yield mail
    mail.stop()


def school(url: str) -> list[str]:
    """Three students whose second installment is declined twice; the Message-IDs due.

    Six payment.failed events wait in the outbox (two per student), each
    calling for one payment_failed notification.
    """
    kinds = {k.event_kind: k.name for k in NOTIFICATION_KINDS.values()}
    store = SqlStore.from_url(url)
    try:
        clock = FrozenClock(START)
        fake = FakeGateway(clock=clock)
        system = PaymentSystem(store=store, gateway=fake, clock=clock, ids=SequentialIds())
        course = system.register_product(
            product_type="course",
            product_id="welding",
            name="Welding 101",
            price=Money.of("300.00", "USD"),
            payment_plan=Installments(3),
        )
        for user in STUDENTS:
            result = system.enroll(user_id=user, product_id=course.id)
            assert result.client_secret is not None
            fake.complete_payment(result.client_secret)
            fake.deliver(system)
        system.dispatch_events(lambda _event: None)  # enrolments tell nothing here
        fake.script(*[fake.decline()] * 6)
        for at in (SECOND_DUE, SECOND_DUE + timedelta(days=1)):
            clock.set(at)
            system.collect_due()
        due = [
            f"<{e.id}.{kinds[e.kind]}@acme.example>"
            for e in system.list_events(delivered=False)
            if e.kind in kinds
        ]
    finally:
        store.close()
    assert len(due) == 6
    return due


def dispatch(
    url: str, server: MailServer, now: datetime, *die_at: str
) -> subprocess.CompletedProcess[str]:
    """Run one dispatcher process to its end (or its death)."""
    return subprocess.run(
        [sys.executable, str(DISPATCHER), url, str(server.port), now.isoformat(), *die_at],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def pending(url: str) -> list[str]:
    """The ids of the events still undelivered."""
    store = SqlStore.from_url(url, migrate=False)
    try:
        return [e.id for e in PaymentSystem(store=store).list_events(delivered=False)]
    finally:
        store.close()


def test_killed_between_send_and_mark_the_restart_sends_nothing_twice(
    url: str, server: MailServer
) -> None:
    """Killed after the third message was sent and recorded: six messages in all, once each."""
    due = school(url)
    first = SECOND_DUE + timedelta(days=1)

    killed = dispatch(url, server, first, "notification_recorded", "3")

    assert killed.returncode == KILLED, killed.stderr
    assert list(server.by_message_id()) == due[:3]
    # The third event's message is sent and recorded, the event not marked: it comes again.
    third = due[2].removeprefix("<").split(".")[0]
    assert third in pending(url)

    early = dispatch(url, server, first + timedelta(minutes=1))
    assert (early.returncode, early.stdout) == (0, "0\n")  # the dead one's lease still holds

    restarted = dispatch(url, server, RESTART)

    assert restarted.returncode == 0, restarted.stderr
    assert server.by_message_id() == dict.fromkeys(due, 1)
    assert pending(url) == []


def test_killed_after_the_server_accepted_and_before_the_record_the_message_repeats_by_id(
    url: str, server: MailServer
) -> None:
    """The gap: the third message goes out twice, both with its one Message-ID; none is lost."""
    due = school(url)

    killed = dispatch(url, server, SECOND_DUE + timedelta(days=1), "notification_sent", "3")
    assert killed.returncode == KILLED, killed.stderr
    restarted = dispatch(url, server, RESTART)

    assert restarted.returncode == 0, restarted.stderr
    assert server.by_message_id() == {**dict.fromkeys(due, 1), due[2]: 2}
    assert pending(url) == []
