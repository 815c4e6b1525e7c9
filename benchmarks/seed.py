"""Bulk seeding of due schedule items through the SQL store's own schema tables.

Seeding 100,000 due items through the API would take longer than the
benchmark itself, so rows go in with SQLAlchemy Core ``insert`` of many rows
at once, shaped exactly as the service leaves them: a product, one customer
with a saved card per user, and per user an *active* enrollment on a
two-installment plan whose first installment is paid (with its payment) and
whose second is ``scheduled`` and due today. Collecting it completes the
enrollment, as a real mid-plan collection run would.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from enrollpay.domain.calendar import Interval
from enrollpay.domain.lifecycle import EnrollmentStatus, ItemStatus
from enrollpay.domain.plans import Installments, plan_to_data
from enrollpay.storage.sql.schema import (
    attempts,
    customers,
    enrollments,
    payments,
    products,
    schedule_items,
)

__all__ = [
    "BENCH_NOW",
    "INSTALLMENT_MINOR",
    "PRODUCT_ID",
    "gateway_payment_id",
    "seed_due_items",
    "seed_paid_by_card",
]

#: The instant every benchmark's frozen clock shows: collection runs "today".
BENCH_NOW = datetime(2027, 3, 15, 9, 0, tzinfo=UTC)
PRODUCT_ID = "prod_bench"
PRODUCT_NAME = "Benchmark Course"
_PRICE_MINOR = 20_000  # 200.00 USD: two installments of 100.00
#: The amount of each installment, in cents.
INSTALLMENT_MINOR = _PRICE_MINOR // 2
_CHUNK = 5_000


def _product_row(now: datetime) -> dict[str, Any]:
    return {
        "id": PRODUCT_ID,
        "product_type": "course",
        "product_id": "bench-course",
        "name": PRODUCT_NAME,
        "price_minor": _PRICE_MINOR,
        "currency": "USD",
        "active": True,
        "auto_assign_payment_plan": False,
        "payment_plan": plan_to_data(Installments(2)),
        "offered_plans": [],
        "refund_policy": None,
        "service_period": {"unit": Interval.years(1).unit, "count": 1},
        "created_at": now,
        "updated_at": now,
    }


def _rows_for(n: int, *, prefix: str, now: datetime, today: date) -> dict[str, dict[str, Any]]:
    enrollment_id = f"enr_{prefix}{n:07d}"
    user_id = f"u-{prefix}{n:07d}"
    started = today - timedelta(days=31)
    half = _PRICE_MINOR // 2
    paid_item = f"itm_{prefix}{n:07d}_1"
    return {
        "customer": {
            "user_id": user_id,
            "gateway_customer_id": f"cus_{prefix}{n:07d}",
            "payment_method_id": "pm_card_visa",
        },
        "enrollment": {
            "id": enrollment_id,
            "user_id": user_id,
            "product_id": PRODUCT_ID,
            "status": EnrollmentStatus.ACTIVE.value,
            "plan": plan_to_data(Installments(2)),
            "price_minor": _PRICE_MINOR,
            "currency": "USD",
            "start_date": started,
            "created_at": now - timedelta(days=31),
            "updated_at": now - timedelta(days=31),
            "paused_on": None,
            "cancelled_at": None,
            "cancel_reason": None,
            "gateway_subscription_id": None,
            "meta": {},
        },
        "paid": _item(paid_item, enrollment_id, 1, started, half, ItemStatus.PAID, now, paid=True),
        "due": _item(
            f"itm_{prefix}{n:07d}_2", enrollment_id, 2, today, half, ItemStatus.SCHEDULED, now
        ),
        "payment": {
            "id": f"pay_{prefix}{n:07d}_1",
            "enrollment_id": enrollment_id,
            "item_id": paid_item,
            "amount_minor": half,
            "currency": "USD",
            "method": "bank_transfer",
            "received_at": now - timedelta(days=31),
            "gateway_payment_id": None,
            "attempt_id": None,
            "reference": f"seed-{n}",
            "notes": None,
            "actor": "seed",
        },
    }


def _item(  # noqa: PLR0917 - a row builder: the columns in table order
    item_id: str,
    enrollment_id: str,
    seq: int,
    due: date,
    amount: int,
    status: ItemStatus,
    now: datetime,
    *,
    paid: bool = False,
) -> dict[str, Any]:
    return {
        "id": item_id,
        "enrollment_id": enrollment_id,
        "seq": seq,
        "kind": "installment",
        "due": due,
        "amount_minor": amount,
        "amount_paid_minor": amount if paid else 0,
        "currency": "USD",
        "status": status.value,
        "failures": 0,
        "next_attempt_at": None,
        "lease_until": None,
        "last_decline_code": None,
        "paid_at": now - timedelta(days=31) if paid else None,
        "updated_at": now - timedelta(days=31),
    }


def _in_flight(rows: dict[str, dict[str, Any]], n: int, prefix: str, now: datetime) -> None:
    """Make the due item one whose charge was sent and whose outcome is not known yet."""
    due = rows["due"]
    due["status"] = ItemStatus.PROCESSING.value
    rows["attempt"] = {
        "id": f"att_{prefix}{n:07d}",
        "item_id": due["id"],
        "enrollment_id": due["enrollment_id"],
        "number": 1,
        "idempotency_key": f"item:{due['id']}:attempt:1",
        "status": "unknown",
        "amount_minor": due["amount_minor"],
        "currency": "USD",
        "mode": "off_session",
        "created_at": now,
        "updated_at": now,
        "gateway_payment_id": f"pi_bench_{prefix}{n:07d}",
        "payment_method_id": "pm_card_visa",
        "decline_code": None,
        "decline_class": None,
        "message": "processing at the gateway",
    }


def seed_due_items(
    engine: sa.Engine,
    count: int,
    *,
    now: datetime = BENCH_NOW,
    prefix: str = "",
    in_flight: bool = False,
) -> list[str]:
    """Insert ``count`` users with one item due today each; return the due items' ids.

    ``in_flight`` seeds each due item as ``processing`` with an off-session
    attempt whose outcome is ``unknown`` and whose gateway payment id is
    ``pi_bench_<n>``: what a webhook then settles.
    """
    today = now.date()
    due_ids: list[str] = []
    with engine.begin() as conn:
        if (
            conn.execute(sa.select(products.c.id).where(products.c.id == PRODUCT_ID)).first()
            is None
        ):
            conn.execute(sa.insert(products), [_product_row(now)])
        for start in range(0, count, _CHUNK):
            rows = [
                _rows_for(n, prefix=prefix, now=now, today=today)
                for n in range(start, min(count, start + _CHUNK))
            ]
            if in_flight:
                for n, row in enumerate(rows, start=start):
                    _in_flight(row, n, prefix, now)
            conn.execute(sa.insert(customers), [r["customer"] for r in rows])
            conn.execute(sa.insert(enrollments), [r["enrollment"] for r in rows])
            conn.execute(sa.insert(schedule_items), [r[k] for r in rows for k in ("paid", "due")])
            conn.execute(sa.insert(payments), [r["payment"] for r in rows])
            if in_flight:
                conn.execute(sa.insert(attempts), [r["attempt"] for r in rows])
            due_ids.extend(r["due"]["id"] for r in rows)
    return due_ids


def gateway_payment_id(n: int) -> str:
    """The gateway id of the n-th seeded card payment (see :func:`seed_paid_by_card`)."""
    return f"pi_bench_{n:07d}"


def seed_paid_by_card(engine: sa.Engine, count: int, *, now: datetime = BENCH_NOW) -> None:
    """Insert ``count`` users whose first installment was paid by card, as the library records it.

    Like :func:`seed_due_items`, but the paid item's payment is a gateway
    payment (``pi_bench_<n>``, see :func:`gateway_payment_id`) with the
    off-session attempt that made it (succeeded), and the customer is
    ``cus_<n>``: what drift re-sync finds in sync when the gateway lists it.
    """
    today = now.date()
    with engine.begin() as conn:
        conn.execute(sa.insert(products), [_product_row(now)])
        for start in range(0, count, _CHUNK):
            rows = [
                _rows_for(n, prefix="", now=now, today=today)
                for n in range(start, min(count, start + _CHUNK))
            ]
            made = []
            for n, row in enumerate(rows, start=start):
                paid = row["paid"]
                made.append(
                    {
                        "id": f"att_{n:07d}",
                        "item_id": paid["id"],
                        "enrollment_id": paid["enrollment_id"],
                        "number": 1,
                        "idempotency_key": f"item:{paid['id']}:attempt:1",
                        "status": "succeeded",
                        "amount_minor": paid["amount_minor"],
                        "currency": "USD",
                        "mode": "off_session",
                        "created_at": row["payment"]["received_at"],
                        "updated_at": row["payment"]["received_at"],
                        "gateway_payment_id": gateway_payment_id(n),
                        "payment_method_id": "pm_card_visa",
                        "decline_code": None,
                        "decline_class": None,
                        "message": None,
                    }
                )
                row["payment"].update(
                    method="gateway",
                    gateway_payment_id=gateway_payment_id(n),
                    attempt_id=f"att_{n:07d}",
                    reference=None,
                    actor=None,
                )
            conn.execute(sa.insert(customers), [r["customer"] for r in rows])
            conn.execute(sa.insert(enrollments), [r["enrollment"] for r in rows])
            conn.execute(sa.insert(schedule_items), [r[k] for r in rows for k in ("paid", "due")])
            conn.execute(sa.insert(attempts), made)
            conn.execute(sa.insert(payments), [r["payment"] for r in rows])
