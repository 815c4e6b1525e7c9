"""The event catalogue: every kind the outbox may hold, and what reacts to it out of the box.

Made from :data:`~enrollpay.domain.events.EVENT_KINDS` and
:data:`~enrollpay.notifications.NOTIFICATION_KINDS`, so it cannot list a
kind the library does not emit. The documentation's build writes it to
``docs/_generated/events.md``; an app may print it too.

>>> print(event_catalogue().splitlines()[0])
### `access.*`
"""

from __future__ import annotations

from itertools import groupby

from enrollpay.domain.events import EVENT_KINDS
from enrollpay.notifications.kinds import NOTIFICATION_KINDS

__all__ = ["event_catalogue", "notifications_by_event"]

_HEADER = "| kind | what happened | notification |"


def notifications_by_event() -> dict[str, list[str]]:
    """Event kind -> the notification kinds made from it (most have none)."""
    found: dict[str, list[str]] = {}
    for kind in NOTIFICATION_KINDS.values():
        found.setdefault(kind.event_kind, []).append(kind.name)
    return found


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def event_catalogue() -> str:
    """The catalogue as Markdown: one table per family (``access.*``, ...), kinds sorted."""
    notified = notifications_by_event()
    parts: list[str] = []
    for family, kinds in groupby(sorted(EVENT_KINDS), key=lambda k: k.partition(".")[0]):
        parts += [f"### `{family}.*`", "", _HEADER, "|---|---|---|"]
        for kind in kinds:
            sent = ", ".join(f"`{n}`" for n in notified.get(kind, ())) or "none"
            parts.append(f"| `{kind}` | {_cell(EVENT_KINDS[kind])} | {sent} |")
        parts.append("")
    waiting = [(k, n) for k, names in notified.items() if k not in EVENT_KINDS for n in names]
    if waiting:
        listed = ", ".join(f"`{name}` (on `{kind}`)" for kind, name in sorted(waiting))
        parts += [f"Notification kinds waiting for events not emitted yet: {listed}.", ""]
    return "\n".join(parts)
