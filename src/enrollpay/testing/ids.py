"""Predictable ids for tests and reproducible demos."""

from __future__ import annotations

import itertools
import threading

__all__ = ["SequentialIds"]


class SequentialIds:
    """An id factory giving ``enr_000001``, ``itm_000002``, ... (one counter for all)."""

    def __init__(self, start: int = 1) -> None:
        self._counter = itertools.count(start)
        self._lock = threading.Lock()

    def __call__(self, prefix: str) -> str:
        """The next id, with ``prefix``."""
        with self._lock:
            return f"{prefix}_{next(self._counter):06d}"
