"""The Procrastinate app the tests' workers run (``procrastinate --app=...procrastinate_app.app``).

Its connector is psycopg 3 on the test's PostgreSQL database
(``ENROLLPAY_TEST_QUEUE_DB``), where the test applied Procrastinate's schema.
The enrollpay blueprint is registered as a user's app would; nothing is
periodic here, so only the jobs the tests defer run.
"""

from __future__ import annotations

import os

from procrastinate import App, PsycopgConnector

from enrollpay.integrations.procrastinate import make_blueprint

from .queue_workers import DB_VAR, libpq

__all__ = ["app", "make_app"]


def make_app(url: str) -> App:
    """A Procrastinate app on ``url`` with the enrollpay tasks (none periodic)."""
    made = App(connector=PsycopgConnector(conninfo=libpq(url)))
    made.add_tasks_from(
        make_blueprint(collect=None, sweep=None, reconcile=None, dispatch_events=None),
        namespace="enrollpay",
    )
    return made


app = make_app(os.environ[DB_VAR]) if DB_VAR in os.environ else App(connector=PsycopgConnector())
