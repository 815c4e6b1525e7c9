"""A notifier for tests: it keeps what it was asked to send.

>>> notifier = RecordingNotifier()
>>> notifier.sent
[]
"""

from __future__ import annotations

from collections import deque

from enrollpay.ports.notifier import Notification

__all__ = ["RecordingNotifier"]


class RecordingNotifier:
    """Records every notification in :attr:`sent`, in order; can be told to fail.

    ``fail_next(error, ...)`` makes the next sends raise those exceptions,
    one each (a :class:`~enrollpay.errors.NotificationDeliveryError` with
    ``permanent=True`` to play a refused address, one without to play a
    server that is down); a send that raises records nothing.
    """

    def __init__(self) -> None:
        #: What it was asked to send and accepted, oldest first.
        self.sent: list[Notification] = []
        self._failures: deque[BaseException] = deque()

    def send(self, notification: Notification) -> None:
        """Record ``notification`` (or raise the next scripted failure)."""
        if self._failures:
            raise self._failures.popleft()
        self.sent.append(notification)

    def fail_next(self, *errors: BaseException) -> None:
        """Raise ``errors`` from the next sends, one per send."""
        self._failures.extend(errors)

    def kinds(self) -> list[str]:
        """The kinds of :attr:`sent`, in order."""
        return [n.kind for n in self.sent]

    def to(self, address: str) -> list[Notification]:
        """What was sent to ``address``, in order."""
        return [n for n in self.sent if n.recipient.address == address]

    def clear(self) -> None:
        """Forget what was sent (scripted failures stay)."""
        self.sent.clear()
