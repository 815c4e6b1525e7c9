"""Hypothesis strategies for property tests of code built on enrollpay.

Every public name is a function returning a strategy; call it, optionally
with bounds, and pass the result to ``@given``::

    from hypothesis import given
    from enrollpay.testing import strategies as eps

    @given(eps.schedule_cases(kinds={"full", "installments"}))
    def test_my_receipt_totals_the_price(case): ...

The values are always valid domain objects: :class:`~enrollpay.Money` in a
currency babel knows, plans whose fields pass their validators, and
:class:`ScheduleCase` inputs that :func:`~enrollpay.build_schedule` accepts.

Hypothesis is an optional dependency: ``pip install enrollpay[testing]``.
Importing this module without it raises :class:`ImportError` saying so;
``import enrollpay.testing`` works either way.
"""

from __future__ import annotations

try:
    import hypothesis as _hypothesis
except ImportError as error:
    raise ImportError(
        "enrollpay.testing.strategies needs Hypothesis: pip install enrollpay[testing]",
        name=error.name,
    ) from error

from enrollpay.testing.strategies._calendar import aware_datetimes, dates, intervals, time_zones
from enrollpay.testing.strategies._money import currencies, granularities, money
from enrollpay.testing.strategies._plans import (
    deposit_percents,
    deposits,
    full_payments,
    installments,
    plans,
    subscriptions,
)
from enrollpay.testing.strategies._policies import (
    refund_policies,
    retry_caps,
    retry_delays,
    retry_policies,
)
from enrollpay.testing.strategies._schedules import ScheduleCase, schedule_cases, schedules

del _hypothesis

__all__ = [
    "ScheduleCase",
    "aware_datetimes",
    "currencies",
    "dates",
    "deposit_percents",
    "deposits",
    "full_payments",
    "granularities",
    "installments",
    "intervals",
    "money",
    "plans",
    "refund_policies",
    "retry_caps",
    "retry_delays",
    "retry_policies",
    "schedule_cases",
    "schedules",
    "subscriptions",
    "time_zones",
]
