"""The Celery app the tests' worker processes run (``celery -A tests.integration.celery_app``).

Its broker is kombu's SQLAlchemy transport on the test's PostgreSQL
database (``ENROLLPAY_TEST_QUEUE_DB``); there is no result backend. The
enrollpay tasks come from ``include``, as a user's app would list them.
"""

from __future__ import annotations

import os

from celery import Celery
from kombu.transport import sqlalchemy as kombu_sqla

from .queue_workers import DB_VAR, broker_url

__all__ = ["app", "make_app"]

# An idle worker polls the message table every second by default. The
# transport hands its ``broker_transport_options`` to SQLAlchemy's
# create_engine, which refuses ``polling_interval``; the class default is
# the one place to shorten it, so the tests do not wait on idle polls.
kombu_sqla.Transport.polling_interval = 0.1


def make_app(url: str) -> Celery:
    """A Celery app on the test database's broker tables, configured as the how-to advises."""
    made = Celery(
        "enrollpay-tests", broker=broker_url(url), include=["enrollpay.integrations.celery"]
    )
    made.conf.update(
        task_ignore_result=True,
        worker_prefetch_multiplier=1,  # a worker holds one message beyond the one it runs
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    return made


app = make_app(os.environ[DB_VAR]) if DB_VAR in os.environ else Celery("enrollpay-tests")
