"""The clock port: where the service gets the time from."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

__all__ = ["Clock"]


@runtime_checkable
class Clock(Protocol):
    """Where the service gets the time from. ``now()`` is time-zone aware."""

    def now(self) -> datetime:
        """The current instant, time-zone aware."""
        ...
