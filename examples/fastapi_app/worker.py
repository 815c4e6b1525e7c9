"""The collection worker: charge what is due, settle unknown outcomes, tell the LMS.

Run it from cron (or a scheduler) next to the web app, on the same
database: ``python -m examples.fastapi_app.worker``. Each run is safe to
repeat and to overlap with others: every attempt is written with its
idempotency key before the gateway is called, and on PostgreSQL due items
are claimed with ``FOR UPDATE SKIP LOCKED``. Then the outbox's events go to
the app's handlers (:mod:`examples.fastapi_app.events`): one dispatcher runs
at a time, and an event whose handler failed waits for the next pass.
"""

from __future__ import annotations

import logging

from enrollpay import PaymentSystem
from enrollpay.integrations import system_from_env
from enrollpay.integrations.events import EventRegistry
from examples.fastapi_app.events import lms_events
from examples.lms import Lms

__all__ = ["run_once"]

logger = logging.getLogger(__name__)


def run_once(system: PaymentSystem, events: EventRegistry | None = None) -> str:
    """One pass: ``collect_due``, ``reconcile``, then the events; returns a line for the log."""
    if system.gateway is None:
        line = "no gateway configured: nothing to collect (manual payments only)"
    else:
        collected = system.collect_due()
        settled = system.reconcile()
        line = f"collect: {collected.summary()}; reconcile: {settled.summary()}"
    if events is not None:
        line += f"; events: {events.dispatch(system)} delivered"
    return line


def main() -> None:
    """Configure from the environment and run one pass (the LMS here is the stand-in)."""
    logging.basicConfig(level=logging.INFO)
    system = system_from_env()
    logger.info(run_once(system, lms_events(system, Lms())))


if __name__ == "__main__":
    main()
