"""Retry timing for failed payments and the classification of declines."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Literal

import attrs

from enrollpay.domain.calendar import ensure_aware
from enrollpay.domain.retry_caps import NETWORK_CAPS, RetryCap, network_caps, normalise_brand
from enrollpay.errors import InvalidInputError

__all__ = [
    "HARD_DECLINE_CODES",
    "DeclineClass",
    "RetryDecision",
    "RetryPolicy",
    "classify_decline",
    "decide_after_decline",
    "next_retry_at",
]


class DeclineClass(enum.StrEnum):
    """What a decline means for collection."""

    HARD = "hard"  # the card will never work: ask for another payment method
    SOFT = "soft"  # may work later: retry on the policy's schedule
    AUTHENTICATION = "authentication_required"  # the customer must authenticate
    UNKNOWN = "unknown"  # a code we do not recognise: treated like a soft decline


#: Decline codes after which retrying the same card is pointless or harmful
#: (card networks penalise retries of these).
HARD_DECLINE_CODES = frozenset(
    {
        "stolen_card",
        "lost_card",
        "fraudulent",
        "pickup_card",
        "restricted_card",
        "merchant_blacklist",
        "invalid_account",
        "new_account_information_available",
        "card_not_supported",
        "currency_not_supported",
        "expired_card",
        "incorrect_number",
        "invalid_number",
        "invalid_expiry_month",
        "invalid_expiry_year",
        "incorrect_cvc",
        "invalid_cvc",
        "revocation_of_all_authorizations",
        "revocation_of_authorization",
        "security_violation",
        "stop_payment_order",
        "transaction_not_allowed",
        "do_not_try_again",
    }
)

_AUTHENTICATION_CODES = frozenset({"authentication_required"})

_SOFT_DECLINE_CODES = frozenset(
    {
        "insufficient_funds",
        "generic_decline",
        "do_not_honor",
        "card_velocity_exceeded",
        "withdrawal_count_limit_exceeded",
        "processing_error",
        "try_again_later",
        "issuer_not_available",
        "reenter_transaction",
        "approve_with_id",
        "call_issuer",
        "no_action_taken",
        "not_permitted",
        "service_not_allowed",
        "testmode_decline",
        "offline_pin_required",
        "online_or_offline_pin_required",
        "duplicate_transaction",
        "card_declined",
    }
)


def classify_decline(code: str | None) -> DeclineClass:
    """Map a normalised decline code to its :class:`DeclineClass`."""
    normalised = (code or "").strip().lower()
    if normalised in HARD_DECLINE_CODES:
        return DeclineClass.HARD
    if normalised in _AUTHENTICATION_CODES:
        return DeclineClass.AUTHENTICATION
    if normalised in _SOFT_DECLINE_CODES:
        return DeclineClass.SOFT
    return DeclineClass.UNKNOWN


def _delays(value: Iterable[timedelta | int]) -> tuple[timedelta, ...]:
    result = []
    for delay in value:
        if isinstance(delay, bool) or not isinstance(delay, (int, timedelta)):
            raise InvalidInputError(f"retry delays are days (int) or timedelta, got {delay!r}")
        step = timedelta(days=delay) if isinstance(delay, int) else delay
        if step <= timedelta(0):
            raise InvalidInputError(f"retry delays must be positive, got {delay!r}")
        result.append(step)
    return tuple(result)


@attrs.frozen
class RetryPolicy:
    """When to retry a failed payment: by default 1, 3 and 7 days apart.

    After the n-th failed attempt of an item (n = 1, 2, ...) the next attempt
    is due ``delays[n-1]`` after that failure. When ``len(delays)`` retries
    have failed too (the ``len(delays) + 1``-th failure) the item defaults.
    ``delays`` accepts days as ints or timedeltas.

    ``network_caps`` limits the reattempts on one card, by the card brand
    the gateway reports (see :mod:`enrollpay.domain.retry_caps`): by default
    15 in 30 days for Visa and 35 in 30 days for Mastercard. Each brand maps
    to a :class:`RetryCap`, an int limit over 30 days, or several caps; a
    brand not in the table is not capped.
    """

    delays: tuple[timedelta, ...] = attrs.field(
        default=(timedelta(days=1), timedelta(days=3), timedelta(days=7)), converter=_delays
    )
    network_caps: Mapping[str, tuple[RetryCap, ...]] = attrs.field(
        default=NETWORK_CAPS, converter=network_caps, hash=False
    )

    @property
    def max_attempts(self) -> int:
        """Attempts an item gets before it defaults: the first plus one per delay."""
        return len(self.delays) + 1

    def caps_for(self, brand: str | None) -> tuple[RetryCap, ...]:
        """The caps on reattempts of a card of ``brand`` (none for an unknown brand)."""
        key = normalise_brand(brand)
        return () if key is None else self.network_caps.get(key, ())


def next_retry_at(policy: RetryPolicy, failures: int, failed_at: datetime) -> datetime | None:
    """When to try again after the ``failures``-th failure at ``failed_at``.

    ``failed_at + policy.delays[failures - 1]``, or ``None`` once
    ``failures > len(policy.delays)`` (retries exhausted: default).
    """
    ensure_aware(failed_at, "failed_at")
    if isinstance(failures, bool) or not isinstance(failures, int) or failures < 1:
        raise InvalidInputError(f"failures counts from 1, got {failures!r}")
    if failures > len(policy.delays):
        return None
    return failed_at + policy.delays[failures - 1]


RetryAction = Literal["retry", "default", "requires_payment_method", "requires_action"]


@attrs.frozen
class RetryDecision:
    """What to do with an item after a decline, and when to try again."""

    action: RetryAction
    retry_at: datetime | None = None


def decide_after_decline(
    policy: RetryPolicy, decline: DeclineClass, failures: int, failed_at: datetime
) -> RetryDecision:
    """Decide the next step after the ``failures``-th decline of an item.

    Hard declines are never retried (``requires_payment_method``);
    authentication declines wait for the customer (``requires_action``);
    soft and unknown declines follow :func:`next_retry_at` and default when
    it returns ``None``.
    """
    if decline is DeclineClass.HARD:
        return RetryDecision("requires_payment_method")
    if decline is DeclineClass.AUTHENTICATION:
        return RetryDecision("requires_action")
    at = next_retry_at(policy, failures, failed_at)
    return RetryDecision("default") if at is None else RetryDecision("retry", at)
