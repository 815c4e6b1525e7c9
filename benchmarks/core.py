"""What every case reports, and the timing helpers the cases share."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["CaseResult", "Sizes", "median", "per_op_times", "throughput_extra"]

#: The sizes a case used (counts, repeats, latencies), as reported in the JSON.
Sizes = dict[str, int | float | str]


@dataclass
class CaseResult:
    """One case's measurement: the library's median against its baseline's.

    ``library`` and ``baseline`` are medians in ``unit`` (seconds per
    operation unless said otherwise). ``ratio`` is ``library / baseline``
    (lower is better) unless ``ratio_meaning`` says otherwise.
    """

    name: str
    title: str
    library: float
    baseline: float
    ratio: float
    target: str
    met: bool
    sizes: Sizes
    unit: str = "s/op"
    ratio_meaning: str = "library / baseline"
    samples: dict[str, list[float]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The result as plain JSON values."""
        return asdict(self)


def median(values: list[float]) -> float:
    """The median of ``values`` (which must not be empty)."""
    return float(statistics.median(values))


def per_op_times(run: Callable[[], int], repeats: int) -> list[float]:
    """Seconds per operation of ``repeats`` runs; ``run`` returns how many operations it did."""
    times: list[float] = []
    for _ in range(repeats):
        start = time.perf_counter()
        ops = run()
        elapsed = time.perf_counter() - start
        times.append(elapsed / max(ops, 1))
    return times


def throughput_extra(library: float, baseline: float, same_writes: float) -> dict[str, Any]:
    """Operations per second of each, and the library against the same-writes baseline.

    For cases with a second baseline that also makes the writes the library
    cannot leave out (``enroll``, webhooks).
    """
    return {
        "library_per_second": 1 / library,
        "baseline_per_second": 1 / baseline,
        "same_writes_baseline_s": same_writes,
        "ratio_to_same_writes_baseline": library / same_writes,
    }
