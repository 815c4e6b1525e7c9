"""A description of the machine a run was measured on (for the JSON and the docs)."""

from __future__ import annotations

import os
import platform
import resource
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa

__all__ = [
    "describe_machine",
    "load_average",
    "peak_kb",
    "postgres_version",
    "reset_peak",
    "status_kb",
]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (what ``uptime`` shows)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def postgres_version(url: str) -> str:
    """``SELECT version()`` of the server at ``url``."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            return str(conn.exec_driver_sql("SELECT version()").scalar_one())
    finally:
        engine.dispose()


def describe_machine() -> dict[str, Any]:
    """CPU count and model, memory, OS, Python and SQLAlchemy versions, current load."""
    return {
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": _memory_gib(),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "sqlalchemy": sa.__version__,
        "load_average": load_average(),
    }


def status_kb(field: str) -> int | None:
    """A kB field of this process's ``/proc/self/status`` (``VmRSS``, ``VmHWM``); None elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak() -> bool:
    """Reset this process's peak RSS to its current RSS (Linux); False if it cannot be.

    A process started by another keeps that one's resident size in
    ``getrusage``'s ``ru_maxrss`` across ``exec`` (Linux), so a measured
    process resets ``VmHWM`` instead and reads it with :func:`peak_kb`.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return status_kb("VmHWM") is not None


def peak_kb(exact: bool) -> int:
    """The peak RSS since :func:`reset_peak` (kB); ``ru_maxrss`` if it could not reset."""
    peak = status_kb("VmHWM") if exact else None
    return peak if peak is not None else int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
