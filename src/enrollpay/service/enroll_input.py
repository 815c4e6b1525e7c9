"""What ``enroll`` checks and decides before it writes: the host's input, a trial's wait.

Apart from :mod:`enrollpay.service.enroll` for its length only.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from enrollpay.domain.plans import PaymentPlan, Subscription
from enrollpay.domain.records import Customer, ScheduleItem
from enrollpay.errors import InvalidInputError
from enrollpay.ports import Gateway, StoreTransaction
from enrollpay.service.base import check_date, check_text

__all__ = ["MAX_METADATA_KEYS", "checked_metadata", "start_date_of", "trial_wait"]

#: Like Stripe's limit on metadata keys: a host cannot store an unbounded mapping.
MAX_METADATA_KEYS = 50


def start_date_of(start: date | None, today: date) -> date:
    """The enrollment's start: today by default, never in the past."""
    start_date = today if start is None else check_date(start, "start")
    if start_date < today:
        raise InvalidInputError(f"start {start_date} is in the past (today is {today})")
    return start_date


def checked_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """The host's metadata for an enrollment, checked (a typed error for bad input)."""
    if metadata is not None and not isinstance(metadata, Mapping):
        raise InvalidInputError(f"metadata must be a mapping, got {type(metadata).__name__}")
    if len(metadata or {}) > MAX_METADATA_KEYS:
        raise InvalidInputError(f"metadata has more than {MAX_METADATA_KEYS} keys")
    return {
        check_text(k, "metadata key"): check_text(v, "metadata value", required=False)
        for k, v in (metadata or {}).items()
    }


def trial_wait(
    tx: StoreTransaction,
    gateway: Gateway | None,
    plan: PaymentPlan,
    first: ScheduleItem | None,
    user_id: str,
) -> tuple[Customer | None, bool]:
    """A trial with nothing due now waits for a saved card: the customer, and whether it waits."""
    if first is not None or gateway is None or not is_trial(plan):
        return None, False
    customer = tx.get_customer(user_id)
    return customer, customer is None or not customer.payment_method_id


def is_trial(plan: PaymentPlan) -> bool:
    """Whether ``plan`` is a subscription that starts with a free trial."""
    return isinstance(plan, Subscription) and plan.trial_days > 0
