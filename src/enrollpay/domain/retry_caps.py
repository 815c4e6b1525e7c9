"""Card-network retry caps: how often one card may be retried after a decline.

Card networks charge the merchant for retrying a declined card too often:
Visa counts the reattempts of a declined transaction over 30 days (15
allowed), Mastercard the retries of one card over 30 days (35 allowed).
:class:`~enrollpay.domain.retry.RetryPolicy` holds the caps as a table
keyed by the card brand the gateway reports (Stripe's ``card.brand``);
:func:`capped_retry_at` moves a planned retry to the first moment at which
it stays within every cap of its brand.

What is counted is a *reattempt*: a charge of a scheduled payment on a
payment method that has declined that payment before
(:func:`is_reattempt`). The networks count per card, merchant and amount;
counting every reattempt on the payment method, whatever the payment, never
counts fewer, so staying under this count stays under theirs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Final, Protocol

import attrs

from enrollpay.domain.calendar import ensure_aware
from enrollpay.errors import InvalidInputError


class AttemptOnCard(Protocol):
    """What the caps read of a payment attempt (a protocol: records import this module)."""

    @property
    def payment_method_id(self) -> str | None:
        """The payment method charged."""
        ...

    @property
    def decline_class(self) -> object | None:
        """Set when the network declined it."""
        ...

    @property
    def card_brand(self) -> str | None:
        """The brand the gateway reported."""
        ...


__all__ = [
    "NETWORK_CAPS",
    "AttemptOnCard",
    "RetryCap",
    "capped_retry_at",
    "card_brand_of",
    "is_reattempt",
    "normalise_brand",
]

#: The rolling window both networks count over.
THIRTY_DAYS: Final = timedelta(days=30)


def _limit(_instance: object, _attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(f"a retry cap's limit is a positive int, got {value!r}")


def _window(value: object) -> timedelta:
    if isinstance(value, bool) or not isinstance(value, (int, timedelta)):
        raise InvalidInputError(f"a retry cap's window is days (int) or a timedelta, got {value!r}")
    window = timedelta(days=value) if isinstance(value, int) else value
    if window <= timedelta(0):
        raise InvalidInputError(f"a retry cap's window must be positive, got {value!r}")
    return window


@attrs.frozen
class RetryCap:
    """At most ``limit`` reattempts on one payment method in any rolling ``window``.

    ``window`` takes days as an int or a timedelta (default 30 days). A
    reattempt made at ``t`` counts in the window of every instant in
    ``[t, t + window)``.
    """

    limit: int = attrs.field(validator=_limit)
    window: timedelta = attrs.field(default=THIRTY_DAYS, converter=_window)


#: The caps enrollpay applies unless told otherwise, by brand (see docs/concepts/retries.md).
NETWORK_CAPS: Final[Mapping[str, tuple[RetryCap, ...]]] = MappingProxyType(
    {"visa": (RetryCap(15),), "mastercard": (RetryCap(35),)}
)


def normalise_brand(brand: object) -> str | None:
    """A card brand as the caps table keys it: stripped, lower case; ``None`` if empty."""
    if brand is None:
        return None
    if not isinstance(brand, str):
        raise InvalidInputError(f"a card brand is a string, got {type(brand).__name__}")
    return brand.strip().lower() or None


def _cap(value: object) -> RetryCap:
    if isinstance(value, RetryCap):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return RetryCap(value)
    raise InvalidInputError(f"a retry cap is a RetryCap or an int limit, got {value!r}")


def network_caps(table: object) -> Mapping[str, tuple[RetryCap, ...]]:
    """Read a caps table: brand -> a :class:`RetryCap`, an int limit (30 days), or several.

    Brands are normalised (:func:`normalise_brand`); a brand given twice,
    an empty brand or a cap of the wrong type is an ``InvalidInputError``.
    An empty tuple leaves the brand uncapped, as leaving it out does.
    """
    if not isinstance(table, Mapping):
        raise InvalidInputError(f"network_caps maps card brands to caps, got {table!r}")
    result: dict[str, tuple[RetryCap, ...]] = {}
    for raw, caps in table.items():
        brand = normalise_brand(raw)
        if brand is None:
            raise InvalidInputError("network_caps has an empty card brand")
        if brand in result:
            raise InvalidInputError(f"network_caps names the brand {brand!r} twice")
        if isinstance(caps, (RetryCap, int)):
            result[brand] = (_cap(caps),)
        elif isinstance(caps, Iterable) and not isinstance(caps, (str, bytes, Mapping)):
            result[brand] = tuple(_cap(cap) for cap in caps)
        else:
            raise InvalidInputError(f"the caps of {brand!r} must be caps, got {caps!r}")
    return MappingProxyType(result)


def capped_retry_at(
    caps: Sequence[RetryCap], retried: Iterable[datetime], planned: datetime
) -> datetime:
    """The first instant at or after ``planned`` at which one more reattempt keeps every cap.

    ``retried`` are the instants of the reattempts already made on the
    payment method (those older than the longest window may be left out).
    A reattempt at ``t`` is allowed when, for every cap, fewer than
    ``cap.limit`` of them fall in ``(t - cap.window, t]``. If ``planned``
    is not allowed, the retry moves to when enough of the oldest counted
    reattempts have left the window::

        inside = sorted(r for r in retried if t - window < r <= t)
        t' = inside[len(inside) - limit] + window     (then checked again)

    With no caps (an uncapped brand) the answer is ``planned``.
    """
    ensure_aware(planned, "planned")
    times = sorted(ensure_aware(t, "retried") for t in retried)
    at = planned
    while True:
        later = at
        for cap in caps:
            inside = [t for t in times if at - cap.window < t <= at]
            if len(inside) >= cap.limit:
                later = max(later, inside[len(inside) - cap.limit] + cap.window)
        if later == at:
            return at
        at = later  # strictly later, and one of finitely many candidates: this ends


def is_reattempt(attempts: Iterable[AttemptOnCard], payment_method_id: str) -> bool:
    """Whether charging ``payment_method_id`` again retries a decline of the same payment.

    ``attempts`` are the earlier attempts of one scheduled payment. It is a
    reattempt when one of them on the same payment method was declined by
    the network (it has a decline class; a request the gateway refused
    outright, or a payment that later succeeded, has none).
    """
    return any(
        a.payment_method_id == payment_method_id and a.decline_class is not None for a in attempts
    )


def card_brand_of(attempts: Iterable[AttemptOnCard], payment_method_id: str) -> str | None:
    """The brand the gateway last reported for ``payment_method_id`` among ``attempts``."""
    brand = None
    for attempt in attempts:
        if attempt.payment_method_id == payment_method_id and attempt.card_brand is not None:
            brand = attempt.card_brand
    return brand
