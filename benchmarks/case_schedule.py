"""Case 1: ``build_schedule`` against the same dates and amounts computed inline."""

from __future__ import annotations

import time
from datetime import date

from dateutil.relativedelta import relativedelta

from benchmarks.core import CaseResult, median
from enrollpay import Deposit, Installments, Money, build_schedule

__all__ = ["inline_schedule", "run"]

PLAN = Installments(12, deposit=Deposit.percent(10))
PRICE = Money.of("1299.99", "USD")
START = date(2027, 1, 31)  # a month end: the anchored dates clamp (Feb 28, Mar 31, ...)


def inline_schedule(price_minor: int, start: date) -> list[tuple[int, str, date, int]]:
    """The minimal computation: 10% deposit half-up, the rest split by integer division."""
    deposit = (price_minor * 10 + 50) // 100
    base, leftover = divmod(price_minor - deposit, 12)
    lines = [(1, "deposit", start, deposit)]
    for i in range(12):
        amount = base + 1 if i < leftover else base
        lines.append((i + 2, "installment", start + relativedelta(months=i + 1), amount))
    return lines


def _check_same() -> None:
    got = [(x.seq, x.kind, x.due, x.amount.minor) for x in build_schedule(PLAN, PRICE, START)]
    if got != inline_schedule(PRICE.minor, START):
        raise AssertionError(f"the baseline computes a different schedule: {got}")


def _time(calls: int, library: bool) -> float:
    price_minor = PRICE.minor
    start = time.perf_counter()
    if library:
        for _ in range(calls):
            build_schedule(PLAN, PRICE, START)
    else:
        for _ in range(calls):
            inline_schedule(price_minor, START)
    return (time.perf_counter() - start) / calls


def run(*, quick: bool) -> CaseResult:
    """Median seconds per call of each, over interleaved repeats."""
    _check_same()
    calls, repeats = (300, 3) if quick else (5_000, 9)
    library: list[float] = []
    baseline: list[float] = []
    for _ in range(repeats):  # interleaved, so load changes hit both alike
        library.append(_time(calls, library=True))
        baseline.append(_time(calls, library=False))
    lib, base = median(library), median(baseline)
    return CaseResult(
        name="build_schedule",
        title="build_schedule, 12 installments + 10% deposit, per call",
        library=lib,
        baseline=base,
        ratio=lib / base,
        target="<= 1.5",
        met=lib / base <= 1.5,
        sizes={"calls_per_repeat": calls, "repeats": repeats, "lines": 13},
        samples={"library": library, "baseline": baseline},
    )
