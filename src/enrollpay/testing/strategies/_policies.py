"""Strategies for refund and retry policies."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import strategies as st

from enrollpay.domain.refunds import RefundPolicy
from enrollpay.domain.retry import RetryPolicy
from enrollpay.domain.retry_caps import RetryCap
from enrollpay.testing.strategies._money import currencies, money


def refund_policies(
    currency: str | None = None, *, max_fee_minor: int = 10**9
) -> st.SearchStrategy[RefundPolicy]:
    """Refund policies: 0 to 60 cooling-off days, ``time`` or ``none`` proration.

    ``non_refundable`` and ``admin_fee`` are each ``None`` or 0 to
    ``max_fee_minor`` minor units in ``currency`` (one drawn per policy if
    ``None``).
    """
    if currency is None:
        return currencies().flatmap(lambda code: refund_policies(code, max_fee_minor=max_fee_minor))
    fee = st.none() | money(currency, min_minor=0, max_minor=max_fee_minor)
    return st.builds(
        RefundPolicy,
        cooling_off_days=st.integers(0, 60),
        proration=st.sampled_from(("time", "none")),
        non_refundable=fee,
        admin_fee=fee,
    )


def retry_delays(*, max_size: int = 8) -> st.SearchStrategy[tuple[timedelta, ...]]:
    """Up to ``max_size`` positive delays: whole days (1 to 30) or seconds (1 to 10**6)."""
    delay = st.integers(1, 30).map(lambda days: timedelta(days=days)) | st.integers(1, 10**6).map(
        lambda seconds: timedelta(seconds=seconds)
    )
    return st.lists(delay, max_size=max_size).map(tuple)


def retry_policies(*, max_delays: int = 8) -> st.SearchStrategy[RetryPolicy]:
    """Retry policies with the delays of :func:`retry_delays`; with none, a failure defaults."""
    return retry_delays(max_size=max_delays).map(RetryPolicy)


def retry_caps(*, max_limit: int = 40, max_window_days: int = 60) -> st.SearchStrategy[RetryCap]:
    """Card-network retry caps: 1 to ``max_limit`` reattempts in 1 hour to ``max_window_days``.

    The window is whole days or hours, as the networks count them, with the
    networks' own 30 days drawn often.
    """
    window = (
        st.just(timedelta(days=30))
        | st.integers(1, max_window_days).map(lambda days: timedelta(days=days))
        | st.integers(1, 72).map(lambda hours: timedelta(hours=hours))
    )
    return st.builds(RetryCap, limit=st.integers(1, max_limit), window=window)
