"""What app-level tests read of a test client's response, whichever httpx it uses."""

from __future__ import annotations

from typing import Protocol

__all__ = ["Answer"]


class Answer(Protocol):
    """What the tests read of a test client's response (httpx or httpx2)."""

    @property
    def status_code(self) -> int: ...

    @property
    def text(self) -> str: ...
