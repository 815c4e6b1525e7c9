"""Code that runs in the worker processes of the PostgreSQL coupon race tests.

Spawned processes import this module by name, so it holds only a plain
function: enroll one user in one product with a coupon, once every process
is ready, and report the outcome.
"""

from __future__ import annotations

from typing import Any

from enrollpay import PaymentSystem
from enrollpay.errors_discounts import CouponNotApplicableError
from enrollpay.storage.sql import SqlStore

__all__ = ["redeem_worker"]


def redeem_worker(
    url: str, user_id: str, product_id: str, code: str, barrier: Any, results: Any
) -> None:
    """Enroll ``user_id`` with coupon ``code`` at the same moment as the other workers."""
    store = SqlStore.from_url(url, pool_size=1)
    system = PaymentSystem(store=store)
    barrier.wait(timeout=60)
    try:
        result = system.enroll(user_id=user_id, product_id=product_id, coupon=code)
    except CouponNotApplicableError as error:
        results.put((user_id, error.reason, type(error).__name__))
    else:
        results.put((user_id, "enrolled", result.enrollment_id))
    finally:
        store.close()
