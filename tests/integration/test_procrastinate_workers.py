"""Procrastinate workers in real processes collect on PostgreSQL, the only service they need."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import pg_workers
from .procrastinate_app import make_app
from .queue_workers import WorkerProcesses

pytestmark = pytest.mark.postgres

APP = "tests.integration.procrastinate_app.app"


@pytest.fixture
def workers(pg_url: str, tmp_path: Path) -> Iterator[WorkerProcesses]:
    """Worker processes on ``pg_url`` (Procrastinate's schema applied); stopped afterwards."""
    app = make_app(pg_url)
    with app.open():
        app.schema_manager.apply_schema()
    made = WorkerProcesses(pg_url, tmp_path, delay=0.005, lease=600)
    yield made
    made.stop()


def _defer(url: str, task: str, **kwargs: int) -> None:
    app = make_app(url)
    with app.open():
        app.configure_task(task).defer(**kwargs)


def test_two_workers_collect_each_due_item_exactly_once(
    pg_url: str, workers: WorkerProcesses
) -> None:
    """collect_due fans out over 2 workers, deferred twice: every item is charged once."""
    item_ids = pg_workers.seed_due_items(pg_url, 200)
    _defer(pg_url, "enrollpay:collect_due", width=4, shard_size=20)
    _defer(pg_url, "enrollpay:collect_due", width=4, shard_size=20)  # a duplicate run
    for n in range(2):
        command = [
            sys.executable, "-m", "procrastinate", f"--app={APP}",
            "worker", f"--name=w{n}", "--concurrency=1",
        ]  # fmt: skip
        workers.start(command)
    workers.wait_until_paid(len(item_ids), timeout=240)
    workers.stop()
    calls = pg_workers.assert_each_item_charged_once(pg_url, item_ids)
    assert len(calls) == len(item_ids)  # nothing was even sent to the gateway twice
    assert len({pid for _, pid, _ in calls}) == 2  # both worker processes charged a share
