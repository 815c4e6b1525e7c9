"""Bank debits in the fake: payments that go ``processing`` and settle days later.

:func:`debit` scripts one (``FakeGateway.debit(clears_after_days=5)``, or
``fails_after_days=6``); the charge answers ``processing`` and emits
``payment_intent.processing``. :func:`advance` is the passing of time at
the bank: every processing debit whose days have passed by the fake's
clock settles, and emits ``payment_intent.succeeded`` or
``payment_intent.payment_failed`` as Stripe would.

The functions take the :class:`~enrollpay.gateways.fake.FakeGateway` as
``self``: the class attaches them as its methods.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from enrollpay.errors import InvalidInputError
from enrollpay.gateways.fake.intents import intent_result
from enrollpay.gateways.fake.scripts import Outcome
from enrollpay.ports import ChargeResult

if TYPE_CHECKING:
    from enrollpay.gateways.fake.gateway import FakeGateway

__all__ = ["advance", "debit"]


def _days(value: int | None, name: str) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise InvalidInputError(f"{name} must be a whole number of days >= 0, got {value!r}")
    return value


def debit(
    *,
    clears_after_days: int | None = None,
    fails_after_days: int | None = None,
    decline_code: str = "insufficient_funds",
) -> Outcome:
    """A debit that answers ``processing``, then clears or fails that many days later.

    Name exactly one of ``clears_after_days`` and ``fails_after_days``; a
    failure carries ``decline_code`` (Stripe reports a bounced SEPA debit
    with a code such as ``insufficient_funds``).
    """
    clears = _days(clears_after_days, "clears_after_days")
    fails = _days(fails_after_days, "fails_after_days")
    if (clears is None) == (fails is None):
        raise InvalidInputError("name exactly one of clears_after_days and fails_after_days")
    if clears is not None:
        return Outcome("processing", after_days=clears, then=Outcome("succeed"))
    return Outcome(
        "processing", after_days=fails, then=Outcome("decline", decline_code=decline_code)
    )


def advance(self: FakeGateway) -> list[ChargeResult]:
    """Settle every processing debit whose days have passed by the clock; return their results.

    Each settles as scripted and emits its webhook (deliver them with
    :meth:`~enrollpay.gateways.fake.FakeGateway.deliver`). Calling it again
    before more time passes settles nothing.
    """
    now = self._clock.now()
    payments = self._payments
    settled: list[ChargeResult] = []
    with self._lock:
        for intent in list(payments._intents.values()):
            days = intent.settle_after_days
            if intent.status != "processing" or days is None:
                continue
            if self._ids.made_at[intent.id] + timedelta(days=days) > now:
                continue
            payments._apply(intent, intent.settles_as or Outcome("succeed"))
            settled.append(intent_result(intent))
    return settled
