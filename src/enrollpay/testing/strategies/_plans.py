"""Strategies for deposits and payment plans."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import strategies as st

from enrollpay.domain.plans import Deposit, FullPayment, Installments, PaymentPlan, Subscription
from enrollpay.testing.strategies._calendar import intervals
from enrollpay.testing.strategies._money import currencies, money


def deposit_percents() -> st.SearchStrategy[Decimal]:
    """Deposit percentages from 0.01 to 99.99, with two decimal places."""
    return st.decimals(
        min_value=Decimal("0.01"), max_value=Decimal("99.99"), places=2, allow_nan=False
    )


def deposits(
    currency: str | None = None, *, max_fixed_minor: int = 10**9
) -> st.SearchStrategy[Deposit]:
    """Percent deposits, or fixed ones of 1 to ``max_fixed_minor`` minor units in ``currency``.

    Fixed deposits are in any currency when ``currency`` is ``None``. A
    deposit fits only prices above it; :func:`schedule_cases` draws pairs
    that fit.
    """
    fixed = money(currency, min_minor=1, max_minor=max_fixed_minor).map(Deposit.fixed)
    return deposit_percents().map(Deposit.percent) | fixed


def full_payments() -> st.SearchStrategy[FullPayment]:
    """The one full-payment plan."""
    return st.just(FullPayment())


def installments(
    currency: str | None = None, *, max_count: int = 60, deposit: bool | None = None
) -> st.SearchStrategy[Installments]:
    """1 to ``max_count`` installments at any :func:`intervals` step.

    ``deposit`` True or False forces a deposit (from :func:`deposits`, fixed
    ones in ``currency``, any when ``None``) or none; ``None`` draws either.
    """
    with_deposit = deposits(currency)
    chosen = {None: st.none() | with_deposit, True: with_deposit, False: st.none()}[deposit]
    return st.builds(Installments, st.integers(1, max_count), intervals(), chosen)


def subscriptions(
    currency: str | None = None,
    *,
    max_cycles: int = 36,
    max_trial_days: int = 60,
    open_ended: bool | None = None,
) -> st.SearchStrategy[Subscription]:
    """Subscriptions at any :func:`intervals` step, with a trial of 0 to ``max_trial_days``.

    The amount is the product price (``None``) or 1 to 10**9 minor units in
    ``currency`` (any when ``None``); ``open_ended`` True gives ``cycles=None``, False 1 to
    ``max_cycles`` cycles, ``None`` either.
    """
    finite = st.integers(1, max_cycles)
    cycles = {None: st.none() | finite, True: st.none(), False: finite}[open_ended]
    return st.builds(
        Subscription,
        intervals(),
        amount=st.none() | money(currency, min_minor=1, max_minor=10**9),
        cycles=cycles,
        trial_days=st.integers(0, max_trial_days),
    )


def plans(currency: str | None = None) -> st.SearchStrategy[PaymentPlan]:
    """Any plan: full payment, installments with or without deposit, or a subscription.

    Fixed amounts are in ``currency``, else in one currency drawn per plan.
    Not every plan fits every price: use :func:`schedule_cases` for pairs.
    """
    if currency is None:
        return currencies().flatmap(plans)
    return full_payments() | installments(currency) | subscriptions(currency)
