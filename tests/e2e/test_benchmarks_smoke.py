"""The benchmark runner, at its smallest sizes: it runs and writes complete JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EVERY_RESULT = {
    "build_schedule",
    "enroll",
    "collect_due_sqlite",
    "collect_due_memory",
    "collect_due_memory_at_scale",
    "collect_due_postgres",
    "webhooks",
    "rate_limited_collection",
    "scale_out_postgres",
    "reconcile_drift",
    "task_queue_celery",
    "task_queue_procrastinate",
    "webhook_storm_postgres",
    "scale_run_postgres",
    "outbox_dispatch_postgres",
    "faults_postgres",
}


def test_quick_benchmarks_write_every_case_with_positive_medians(tmp_path: Path) -> None:
    """``python -m benchmarks --quick --out FILE``: every case, positive medians, its sizes."""
    out = tmp_path / "results.json"
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        # The faults case may wait out a dispatch lease (5 min) that the restart left held.
        timeout=1500,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(out.read_text())
    names = {case["name"] for case in report["cases"]}
    skipped = set(report["skipped"])
    if os.environ.get("CI", "").lower() == "true":
        assert skipped == set()  # CI has PostgreSQL: nothing may be left out there
    assert names | skipped == EVERY_RESULT
    assert names.isdisjoint(skipped)
    for case in report["cases"]:
        assert case["library"] > 0, case["name"]
        assert case["baseline"] > 0, case["name"]
        assert case["ratio"] > 0, case["name"]
        assert case["sizes"], case["name"]
        assert isinstance(case["met"], bool)
    assert report["quick"] is True
    plot = out.with_suffix(".scale_run.png")  # the monthly run's throughput, drawn
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report["machine"]["nproc"] >= 1
    header = next(line for line in run.stdout.splitlines() if line.startswith("case "))
    assert header.split()[:5] == ["case", "library", "baseline", "ratio", "target"]
