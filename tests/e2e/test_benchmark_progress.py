"""The faults run's outside watcher (``benchmarks.progress``): samples, rates, the picture.

The sampler runs against a real PostgreSQL database holding the tables a
faults run writes; the database is dropped under it to show that it stops
on its own once the run's database is gone. The rates and the plot are
checked on samples whose answers are known.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest
from benchmarks import progress
from benchmarks.databases import libpq

from tests.storage_support import PgDatabases

pytestmark = pytest.mark.postgres

ROWS: list[dict[str, Any]] = [
    {"t": 100.0, "error": "UndefinedTable"},  # before the run's tables exist
    {"t": 110.0, "charged": 0, "delivered": 0, "faults": {}},
    {"t": 120.0, "charged": 0, "delivered": 0, "faults": {}},  # the origin
    {"t": 130.0, "charged": 500, "delivered": 400, "faults": {"500": 5}},
    {"t": 140.0, "error": "OperationalError"},  # the restart
    {"t": 150.0, "charged": 900, "delivered": 1_000, "faults": {"500": 9}},
]


def test_the_origin_is_the_last_sample_before_the_first_charge() -> None:
    """The workers' start, to within one sample; a late sampler starts at its first."""
    assert progress.origin(ROWS) == 120.0
    late = [row for row in ROWS if row["t"] >= 130.0]  # the sampler started after the workers
    assert progress.origin(late) == 130.0
    with pytest.raises(ValueError, match="no sample"):
        progress.origin([{"t": 1.0, "error": "OperationalError"}])


def test_rates_skip_failed_samples_and_average_across_the_gap() -> None:
    """Per second between good samples; the restart's gap is averaged over."""
    assert progress.rates(ROWS, "charged") == [(10.0, 50.0), (30.0, 20.0)]
    assert progress.rates(ROWS, "delivered") == [(10.0, 40.0), (30.0, 30.0)]


def test_the_plot_is_a_png(tmp_path: Path) -> None:
    """``plot`` draws a PNG with the faults marked, and refuses samples that hold no rate."""
    samples = tmp_path / "p.jsonl"
    samples.write_text("".join(json.dumps(row) + "\n" for row in ROWS), encoding="utf-8")
    result = tmp_path / "faults.json"
    extra = {"restarted_at_s": 25.0, "burst_at_s": None}
    cases = [{"name": "scale_run", "extra": {}}, {"name": "faults_postgres", "extra": extra}]
    result.write_text(json.dumps({"cases": cases}), encoding="utf-8")
    assert progress.fault_marks(result) == {"PostgreSQL restarted": 25.0}  # no burst opened
    png = tmp_path / "p.png"
    argv = ["plot", str(samples), "--png", str(png), "--title", "t", "--result", str(result)]
    assert progress.main(argv) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    too_few = tmp_path / "few.jsonl"
    too_few.write_text(json.dumps(ROWS[1]) + "\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="fewer than two samples"):
        progress.plot(too_few, tmp_path / "few.png", "t")


def test_the_sampler_counts_a_run_and_stops_when_its_database_is_gone(
    pg_databases: PgDatabases, tmp_path: Path
) -> None:
    """Counts as a run's tables hold them; gives up once its database is dropped."""
    url = pg_databases.create(migrated=False)
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute("CREATE TABLE test_charges (item_id text)")
        conn.execute("CREATE TABLE test_faults (kind text)")
        conn.execute("CREATE TABLE enrollpay_outbox (id text, delivered_at timestamptz)")
        conn.execute("INSERT INTO test_charges VALUES ('a'), ('b'), ('c')")
        conn.execute("INSERT INTO test_faults VALUES ('500'), ('500'), ('lost')")
        conn.execute("INSERT INTO enrollpay_outbox VALUES ('e1', now()), ('e2', NULL)")
    sample = progress.sample_once(url)
    assert {key: value for key, value in sample.items() if key != "t"} == {
        "charged": 3,
        "delivered": 1,
        "faults": {"500": 2, "lost": 1},
    }

    out = tmp_path / "samples.jsonl"
    written: list[int] = []
    watcher = threading.Thread(
        target=lambda: written.append(progress.sample(url, out, every_s=0.05, give_up_s=0.3)),
        daemon=True,
    )
    watcher.start()
    while not out.exists() or not out.read_text(encoding="utf-8").strip():
        watcher.join(0.05)
    pg_databases.drop(url)  # the run is over: its cluster is gone
    watcher.join(30)
    assert not watcher.is_alive()
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert written == [len(rows)]
    assert rows[0]["charged"] == 3
    assert "error" in rows[-1]
    assert rows[-1]["t"] - min(r["t"] for r in rows if "error" in r) >= 0.3
