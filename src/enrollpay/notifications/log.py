"""A notifier that writes each notification to a logger: for development and dry runs.

>>> import logging
>>> notifier = LoggingNotifier(logging.getLogger("school.mail"))
"""

from __future__ import annotations

import logging

from enrollpay.ports.notifier import Notification

__all__ = ["LoggingNotifier"]


class LoggingNotifier:
    """Logs one line per notification (kind, recipient, subject); the text too if asked.

    Nothing is delivered, so nothing can fail: use it where no mail should
    leave (development, a staging copy of production) or beside a real
    notifier in a small wrapper of your own.
    """

    def __init__(
        self,
        logger: logging.Logger | None = None,
        *,
        level: int = logging.INFO,
        include_text: bool = False,
    ) -> None:
        self._logger = logger or logging.getLogger("enrollpay.notifications.sent")
        self._level = level
        self._include_text = include_text

    def send(self, notification: Notification) -> None:
        """Log it."""
        n = notification
        if self._include_text:
            self._logger.log(
                self._level,
                "%s %s to %s [%s]: %s\n%s",
                n.kind,
                n.key,
                n.recipient.address,
                n.locale,
                n.subject,
                n.text,
            )
        else:
            self._logger.log(
                self._level,
                "%s %s to %s [%s]: %s",
                n.kind,
                n.key,
                n.recipient.address,
                n.locale,
                n.subject,
            )
