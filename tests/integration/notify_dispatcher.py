"""A dispatcher process for the notification crash tests: a school's outbox, sent by SMTP.

Run as ``python notify_dispatcher.py DB_URL SMTP_PORT NOW [POINT N]``: it
dispatches the outbox of the (migrated) database at DB_URL to a
NotificationHandler over an SmtpNotifier on 127.0.0.1:SMTP_PORT, with a
frozen clock at NOW (ISO 8601), and prints how many events it delivered.
With POINT and N, it dies the N-th time the handler passes the fault point
POINT (``os._exit``: no cleanup, no lease released, no connection closed),
as a process killed there would. It imports only enrollpay.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime

from enrollpay import PaymentSystem
from enrollpay.notifications import NotificationHandler, Recipient
from enrollpay.notifications.smtp import SmtpNotifier
from enrollpay.storage.sql import SqlStore
from enrollpay.testing import FrozenClock

#: The exit status of a process that died at its fault point.
KILLED = 3


def main(argv: list[str]) -> int:
    """Dispatch once (or die on cue); print the number delivered."""
    url, port, now = argv[1], int(argv[2]), datetime.fromisoformat(argv[3])
    point, dies_at = (argv[4], int(argv[5])) if len(argv) > 5 else (None, 0)
    passed = 0

    def faults(name: str) -> None:
        nonlocal passed
        if name == point:
            passed += 1
            if passed == dies_at:
                os._exit(KILLED)

    store = SqlStore.from_url(url, migrate=False)
    system = PaymentSystem(store=store, clock=FrozenClock(now))
    with SmtpNotifier(
        "127.0.0.1", port, sender="Acme Academy <billing@acme.example>", security="none"
    ) as notifier:
        handler = NotificationHandler(
            notifier,
            system=system,
            recipients=lambda user_id: Recipient(f"{user_id}@example.org", locale="en"),
            update_card_url=lambda enrollment: f"https://acme.example/card/{enrollment.id}",
            faults=faults,
        )
        print(system.dispatch_events(handler))  # the test reads it
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
