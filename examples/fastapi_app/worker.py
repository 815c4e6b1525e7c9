"""The collection worker: charge what is due, then settle unknown outcomes.

Run it from cron (or a scheduler) next to the web app, on the same
database: ``python -m examples.fastapi_app.worker``. Each run is safe to
repeat and to overlap with others: every attempt is written with its
idempotency key before the gateway is called, and on PostgreSQL due items
are claimed with ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import logging

from enrollpay import PaymentSystem
from enrollpay.integrations import system_from_env

__all__ = ["run_once"]

logger = logging.getLogger(__name__)


def run_once(system: PaymentSystem) -> str:
    """One pass: ``collect_due`` then ``reconcile``; returns a line for the log."""
    if system.gateway is None:
        return "no gateway configured: nothing to collect (manual payments only)"
    collected = system.collect_due()
    settled = system.reconcile()
    return f"collect: {collected.summary()}; reconcile: {settled.summary()}"


def main() -> None:
    """Configure from the environment and run one pass."""
    logging.basicConfig(level=logging.INFO)
    logger.info(run_once(system_from_env()))


if __name__ == "__main__":
    main()
