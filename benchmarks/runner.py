"""The command line: run the cases, print a table, write the JSON."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import (
    case_collect,
    case_enroll,
    case_faults,
    case_outbox,
    case_rate_limit,
    case_reconcile,
    case_scale_out,
    case_scale_run,
    case_schedule,
    case_task_queues,
    case_webhook_storm,
    case_webhooks,
)
from benchmarks.core import CaseResult
from benchmarks.databases import PgServer, SqliteFiles, pg_server, scratch_dir
from benchmarks.machine import describe_machine, load_average
from benchmarks.pg_cluster import PgUnavailableError

__all__ = ["CASES", "main"]

#: The cases ``--case`` accepts, in the order a full run goes.
CASES = (
    "build_schedule",
    "enroll",
    "collect_due",
    "collect_memory",
    "webhooks",
    "rate_limit",
    "scale_out",
    "reconcile",
    "task_queues",
    "webhook_storm",
    "scale_run",
    "outbox",
    "faults",
)
_NEEDS_PG = frozenset(
    {"collect_due", "scale_out", "task_queues", "webhook_storm", "scale_run", "outbox"}
)
DEFAULT_OUT = Path(__file__).resolve().parent / "results.json"


class _Run:
    """The state of one run: its scratch folder, its databases, its results."""

    def __init__(
        self,
        *,
        quick: bool,
        folder: Path,
        server: PgServer | None,
        keep: bool = False,
        out: Path | None = None,
        skip_postgres: bool = False,
        faults_items: int | None = None,
        memory_items: int | None = None,
        scale_items: int | None = None,
    ) -> None:
        self.quick = quick
        self.keep = keep
        self.out = out
        self.skip_postgres = skip_postgres
        self.faults_items = faults_items
        self.memory_items = memory_items
        self.scale_items = scale_items
        self.files = SqliteFiles(folder)
        self.server = server
        self.results: list[CaseResult] = []
        self.skipped: list[str] = []

    def case(self, name: str) -> None:
        started = time.perf_counter()
        print(f"-- {name} ...", flush=True)
        before = len(self.results)
        runners: dict[str, Callable[[], None]] = {
            "build_schedule": lambda: self.results.append(case_schedule.run(quick=self.quick)),
            "enroll": lambda: self.results.append(
                case_enroll.run(files=self.files, quick=self.quick)
            ),
            "collect_due": self._collect,
            "collect_memory": lambda: self.results.append(
                case_collect.run_memory_at(
                    files=self.files, quick=self.quick, items=self.memory_items
                )
            ),
            "webhooks": lambda: self.results.append(
                case_webhooks.run(files=self.files, quick=self.quick)
            ),
            "rate_limit": lambda: self.results.append(
                case_rate_limit.run(files=self.files, quick=self.quick)
            ),
            "scale_out": self._scale_out,
            "reconcile": lambda: self.results.append(
                case_reconcile.run(files=self.files, quick=self.quick)
            ),
            "task_queues": self._task_queues,
            "webhook_storm": self._webhook_storm,
            "scale_run": self._scale_run,
            "outbox": self._outbox,
            "faults": self._faults,
        }
        runners[name]()
        for result in self.results[before:]:
            print(f"   {_line(result)}", flush=True)
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)

    def _collect(self) -> None:
        sqlite, probe = case_collect.run_sqlite(files=self.files, quick=self.quick, keep=self.keep)
        self.results.append(sqlite)
        self.results.append(
            case_collect.run_memory(files=self.files, quick=self.quick, large=probe, keep=self.keep)
        )
        if self.server is None:
            self.skipped.append("collect_due_postgres")
            return
        self.results.append(case_collect.run_postgres(server=self.server, quick=self.quick))

    def _scale_out(self) -> None:
        if self.server is None:
            self.skipped.append("scale_out_postgres")
            return
        self.results.append(case_scale_out.run(server=self.server, quick=self.quick))

    def _task_queues(self) -> None:
        if self.server is None:
            self.skipped.extend(["task_queue_celery", "task_queue_procrastinate"])
            return
        self.results.extend(case_task_queues.run(server=self.server, quick=self.quick))

    def _webhook_storm(self) -> None:
        if self.server is None:
            self.skipped.append("webhook_storm_postgres")
            return
        self.results.append(case_webhook_storm.run(server=self.server, quick=self.quick))

    def _scale_run(self) -> None:
        if self.server is None:
            self.skipped.append("scale_run_postgres")
            return
        self.results.append(
            case_scale_run.run(
                server=self.server, quick=self.quick, out=self.out, items=self.scale_items
            )
        )

    def _outbox(self) -> None:
        if self.server is None:
            self.skipped.append("outbox_dispatch_postgres")
            return
        self.results.append(case_outbox.run(server=self.server, quick=self.quick))

    def _faults(self) -> None:
        # A cluster of the case's own, whatever --pg-url says: the case restarts it.
        if self.skip_postgres:
            self.skipped.append("faults_postgres")
            return
        try:
            result = case_faults.run(quick=self.quick, items=self.faults_items)
        except PgUnavailableError as error:
            print(f"   no PostgreSQL cluster of its own, faults_postgres skipped: {error}")
            self.skipped.append("faults_postgres")
            return
        self.results.append(result)


def _human(value: float, unit: str) -> str:
    if unit.startswith("bytes"):
        return f"{value / 1024 / 1024:.1f} MiB"
    if value >= 1:
        return f"{value:.2f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.3f} ms"
    return f"{value * 1e6:.1f} us"


def _line(r: CaseResult) -> str:
    verdict = "met" if r.met else "MISSED"
    return (
        f"{r.name}: library {_human(r.library, r.unit)}, baseline {_human(r.baseline, r.unit)}, "
        f"ratio {r.ratio:.2f} (target {r.target}: {verdict})"
    )


def table(results: Sequence[CaseResult]) -> str:
    """The results as a plain-text table."""
    header = ("case", "library", "baseline", "ratio", "target", "", "sizes")
    rows = [header] + [
        (
            r.name,
            _human(r.library, r.unit),
            _human(r.baseline, r.unit),
            f"{r.ratio:.2f}",
            r.target,
            "met" if r.met else "MISSED",
            ", ".join(f"{k}={v}" for k, v in r.sizes.items()),
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = []
    for n, row in enumerate(rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths) + "  -----")
    return "\n".join(lines)


def _positive(text: str) -> int:
    """A whole number of at least 1, for argparse."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Measure how close enrollpay's hot paths run to their raw limits.",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    parser.add_argument(
        "--case",
        action="append",
        choices=CASES,
        metavar="NAME",
        help=f"run only this case (repeatable): {', '.join(CASES)}",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"JSON output (default {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("ENROLLPAY_PG_URL"),
        help="a PostgreSQL server (default ENROLLPAY_PG_URL, else a throwaway cluster)",
    )
    parser.add_argument(
        "--dir", default=None, help="where the SQLite files go (default: tmpfs /dev/shm)"
    )
    parser.add_argument(
        "--skip-postgres", action="store_true", help="leave out the PostgreSQL measurements"
    )
    parser.add_argument(
        "--faults-items",
        type=_positive,
        default=None,
        metavar="N",
        help="the faults case at N items, with the workers and faults of its size "
        "(default 1,000,000; 300 with --quick)",
    )
    parser.add_argument(
        "--memory-items",
        type=_positive,
        default=None,
        metavar="N",
        help="the collect_memory case at N items against 10,000 "
        "(default 1,000,000; 2,000 against 200 with --quick)",
    )
    parser.add_argument(
        "--scale-items",
        type=_positive,
        default=None,
        metavar="N",
        help="the scale_run case at N items, with the workers of its size "
        "(default 1,000,000 and 8 workers; 400 and 2 with --quick)",
    )
    parser.add_argument(
        "--keep-outcomes",
        action="store_true",
        help="collect_due with its default report (every outcome kept) in the SQLite runs",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected cases; print the table; write the JSON."""
    args = _parser().parse_args(argv)
    chosen = [c for c in CASES if c in (args.case or CASES)]
    machine: dict[str, Any] = describe_machine()
    load_before = load_average()
    folder = scratch_dir(args.dir)
    started = time.perf_counter()
    try:
        needs_pg = bool(_NEEDS_PG & set(chosen)) and not args.skip_postgres
        servers = pg_server(args.pg_url) if needs_pg else nullcontext(None)
        with servers as server:
            if server is not None:
                machine["postgresql"] = server.version()
            run = _Run(
                quick=args.quick,
                folder=folder,
                server=server,
                keep=args.keep_outcomes,
                out=args.out,
                skip_postgres=args.skip_postgres,
                faults_items=args.faults_items,
                memory_items=args.memory_items,
                scale_items=args.scale_items,
            )
            for name in chosen:
                run.case(name)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m benchmarks", *(argv or sys.argv[1:])]),
        "quick": args.quick,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": machine,
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "skipped": run.skipped,
        "cases": [r.to_json() for r in run.results],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print()
    print(table(run.results))
    print(f"\nload average before {load_before}, after {report['load_average_after']}")
    print(f"JSON written to {args.out}")
    return 0
