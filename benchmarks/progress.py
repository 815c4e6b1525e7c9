"""Watch a faults run from outside: its progress sampled over time, then drawn.

The faults case (case 12) reports totals at its end and drops its cluster.
To see how the run went *while* it ran (what a kill or the PostgreSQL
restart did to throughput), this module connects to the run's database on
its own, every ``--every`` seconds, and appends one JSON line per sample:
the charges that moved money in the durable gateway's ledger, the outbox
events marked delivered, and the faults the gateway injected, by kind. A
sample that cannot connect (the restart, the end of the run) is written as
an error line, so the gaps show. ``plot`` draws the charges and deliveries
per second between samples, with the gaps marked, and (``--result``, the
case's JSON output) the moments of the PostgreSQL restart and the 429 burst.

```sh
python -m benchmarks.progress sample --url postgresql://postgres@127.0.0.1:PORT/DB --out p.jsonl
python -m benchmarks.progress plot p.jsonl --png p.png --title "..." --result faults.json
```

``sample`` stops after ``--give-up`` seconds (default 300) of failed samples
once it has seen the run's tables, which is how it notices that the run
dropped its cluster. Each sample is three ``count`` queries: a few hundred
milliseconds of one server process at a million items, every 15 s.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.databases import libpq
from benchmarks.faults import faults_by_kind

__all__ = ["fault_marks", "main", "origin", "plot", "rates", "sample_once"]

QUERIES = {
    "charged": "SELECT count(*) FROM test_charges",
    "delivered": "SELECT count(*) FROM enrollpay_outbox WHERE delivered_at IS NOT NULL",
}


def sample_once(url: str) -> dict[str, Any]:
    """One sample: counts and faults by kind, or ``{"error": ...}``; ``t`` is the wall clock."""
    stamp = time.time()
    try:
        with psycopg.connect(libpq(url), connect_timeout=5, autocommit=True) as conn:
            row: dict[str, Any] = {"t": stamp}
            for name, query in QUERIES.items():
                found = conn.execute(query).fetchone()
                row[name] = int(found[0]) if found else 0
            row["faults"] = faults_by_kind(conn)
            return row
    except psycopg.Error as error:
        return {"t": stamp, "error": type(error).__name__}


def sample(url: str, out: Path, *, every_s: float, give_up_s: float) -> int:
    """Append samples to ``out`` until the run's database has been gone ``give_up_s``."""
    seen = False
    failing_since: float | None = None
    written = 0
    with out.open("a", encoding="utf-8") as sink:
        while True:
            row = sample_once(url)
            sink.write(json.dumps(row, sort_keys=True) + "\n")
            sink.flush()
            written += 1
            if "error" in row:
                failing_since = failing_since or row["t"]
                if seen and row["t"] - failing_since >= give_up_s:
                    return written
            else:
                seen, failing_since = True, None
            time.sleep(max(0.0, every_s - (time.time() - row["t"])))


def _load(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as source:
        return [json.loads(line) for line in source if line.strip()]


def origin(rows: Sequence[dict[str, Any]]) -> float:
    """When the run started: the last good sample before the first charge.

    That is the workers' start to within one sample (the first good sample
    if the sampler started late).
    """
    good = [row for row in rows if "error" not in row]
    if not good:
        raise ValueError("no sample reached the database")
    first = next((i for i, row in enumerate(good) if row["charged"] > 0), 0)
    return float(good[max(0, first - 1)]["t"])


def rates(rows: Sequence[dict[str, Any]], field: str) -> list[tuple[float, float]]:
    """``(seconds since the origin, per second)`` between good samples from the origin.

    Error samples are skipped, so a rate across a gap is that gap's average.
    """
    start = origin(rows)
    good = [row for row in rows if "error" not in row and row["t"] >= start]
    return [
        (after["t"] - start, (after[field] - before[field]) / (after["t"] - before["t"]))
        for before, after in itertools.pairwise(good)
    ]


def fault_marks(result: Path) -> dict[str, float]:
    """The restart's and the 429 burst's seconds into the run, from the case's JSON output."""
    data = json.loads(result.read_text(encoding="utf-8"))
    case = next(case for case in data["cases"] if case["name"] == "faults_postgres")
    marks = {
        "PostgreSQL restarted": case["extra"]["restarted_at_s"],
        "429 burst": case["extra"]["burst_at_s"],
    }
    return {label: float(at) for label, at in marks.items() if at is not None}


def plot(samples: Path, png: Path, title: str, marks: dict[str, float] | None = None) -> None:
    """Charges and deliveries per second over the run, failed samples marked in red.

    ``marks`` are labelled moments, in seconds from the workers' start (the
    case's own clock); the samples' origin matches it to within one sample.
    """
    import matplotlib  # noqa: PLC0415 - only the benchmarks draw

    matplotlib.use("Agg")
    from matplotlib import pyplot  # noqa: PLC0415

    rows = _load(samples)
    charged = rates(rows, "charged")
    if not charged:
        raise SystemExit(f"{samples}: fewer than two samples after the run started")
    start = origin(rows)
    last_good = max(row["t"] for row in rows if "error" not in row)
    figure, axes = pyplot.subplots(figsize=(8, 3.5), dpi=100)
    axes.plot(*zip(*charged, strict=True), linewidth=0.9, label="items charged / s")
    delivered = rates(rows, "delivered")
    axes.plot(*zip(*delivered, strict=True), linewidth=0.7, alpha=0.7, label="events delivered / s")
    for row in rows:  # failed samples inside the run: the restart
        if "error" in row and start < row["t"] < last_good:
            axes.axvline(row["t"] - start, color="red", alpha=0.4, linewidth=1.5)
    for number, (label, at) in enumerate(sorted((marks or {}).items(), key=lambda mark: mark[1])):
        axes.axvline(at, color="black", linestyle="--", linewidth=0.8)
        axes.annotate(
            label,
            (at, 1 - 0.08 * (number + 1)),
            xycoords=("data", "axes fraction"),
            xytext=(3, 0),
            textcoords="offset points",
            fontsize=7,
        )
    axes.set_xlabel("seconds since the run started (red: a sample that could not connect)")
    axes.set_ylabel("per second")
    axes.set_title(title, fontsize=10)
    axes.grid(visible=True, alpha=0.3)
    axes.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    figure.savefig(png)
    pyplot.close(figure)


def main(argv: Sequence[str] | None = None) -> int:
    """``sample`` or ``plot``; see the module's documentation."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.progress")
    commands = parser.add_subparsers(dest="command", required=True)
    sampler = commands.add_parser("sample", help="append samples of a running faults run")
    sampler.add_argument("--url", required=True, help="the run's database (PostgreSQL URL)")
    sampler.add_argument("--out", type=Path, required=True, help="JSON lines, appended")
    sampler.add_argument("--every", type=float, default=15.0, help="seconds between samples")
    sampler.add_argument("--give-up", type=float, default=300.0, help="seconds of errors to stop")
    drawer = commands.add_parser("plot", help="draw a samples file as a PNG")
    drawer.add_argument("samples", type=Path)
    drawer.add_argument("--png", type=Path, required=True)
    drawer.add_argument("--title", default="faults run: throughput over time")
    drawer.add_argument("--result", type=Path, help="the case's JSON output: mark its faults")
    args = parser.parse_args(argv)
    if args.command == "sample":
        sample(args.url, args.out, every_s=args.every, give_up_s=args.give_up)
    else:
        marks = fault_marks(args.result) if args.result else None
        plot(args.samples, args.png, args.title, marks)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
