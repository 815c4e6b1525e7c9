"""``python manage.py enrollpay_dispatch [--limit N]``: send the outbox's events as signals."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from enrollpay.integrations.djangoapp.wiring import dispatch


class Command(BaseCommand):  # type: ignore[misc] # Django is untyped (see pyproject)
    """Dispatch pending events: signals, then the configured handlers and webhooks."""

    help = (
        "Send enrollpay's pending domain events as Django signals (then to the ENROLLPAY "
        "setting's EVENT_HANDLERS and WEBHOOKS), in order. Safe to run from cron: one "
        "dispatcher runs at a time."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """``--limit``: dispatch at most this many events."""
        parser.add_argument("--limit", type=int, default=None, help="at most this many events")

    def handle(self, *_args: Any, **options: Any) -> None:
        """Dispatch, then say how many events were delivered."""
        limit = options["limit"]
        if limit is not None and limit < 0:
            raise CommandError("--limit must be at least 0")
        delivered = dispatch(limit=limit)
        self.stdout.write(f"enrollpay: {delivered} event(s) delivered")
