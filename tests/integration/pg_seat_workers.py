"""Code that runs in the worker processes of the PostgreSQL seat race test.

Spawned processes import this module by name, so it holds only a plain
function: enroll one user in one product once every process is ready,
joining the waitlist when the product is full, and report the outcome.
"""

from __future__ import annotations

from typing import Any

from enrollpay import PaymentSystem
from enrollpay.errors_seats import SeatsFullError
from enrollpay.storage.sql import SqlStore

__all__ = ["enroll_worker"]


def enroll_worker(
    url: str, user_id: str, product_id: str, waitlist: bool, barrier: Any, results: Any
) -> None:
    """Enroll ``user_id`` at the same moment as the other workers (``waitlist``: join if full)."""
    store = SqlStore.from_url(url, pool_size=1)
    system = PaymentSystem(store=store)
    barrier.wait(timeout=60)
    try:
        result = system.enroll(user_id=user_id, product_id=product_id)
    except SeatsFullError as error:
        if waitlist:
            entry = system.join_waitlist(user_id, product_id)
            results.put((user_id, "waitlisted", entry.id))
        else:
            results.put((user_id, "full", f"{error.product_id}:{error.seat_limit}"))
    else:
        results.put((user_id, "enrolled", result.enrollment_id))
    finally:
        store.close()
