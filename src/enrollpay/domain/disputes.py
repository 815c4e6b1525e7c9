"""Disputes (chargebacks): what they cost the student's access and the school's money.

A cardholder can ask their card issuer to take a payment back. The gateway
reports the dispute through its stages (:class:`~enrollpay.domain.statuses.DisputeStatus`):
an *inquiry* moves no money; a *chargeback* is ``open`` until the gateway
reports that it took the disputed amount back (``funds_withdrawn``), then
it is ``won`` (the money stays with, or comes back to, the school) or
``lost`` (it is gone).

Three rules follow, each a pure function here:

- **access** (:class:`DisputePolicy`): from which stage a chargeback
  withholds the student's access; winning gives it back;
- **money held** (:func:`withheld`): what chargebacks took of a payment
  and did not give back, which no longer counts as paid;
- **refunds** (:func:`refundable`): a payment under a chargeback cannot be
  refunded as well (the cardholder gets the money through the dispute, and
  the gateway refuses a refund of a disputed charge); an inquiry can still
  be answered with a refund.

The schedule item a disputed payment paid stays ``paid``: that status is
terminal, and collecting the item again would charge the card its holder
has just disputed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final, Literal

import attrs

from enrollpay.domain.money import Money
from enrollpay.domain.records import Dispute
from enrollpay.domain.statuses import DisputeStatus
from enrollpay.errors import InvalidInputError

__all__ = [
    "CHARGEBACK_STATUSES",
    "FUNDS_OUT_STATUSES",
    "SUSPEND_ON",
    "UNDECIDED_DISPUTES",
    "UNREFUNDABLE_STATUSES",
    "DisputePolicy",
    "SuspendOn",
    "refundable",
    "withheld",
]

_D = DisputeStatus

#: Disputes that are more than an inquiry: chargebacks, whatever their outcome.
CHARGEBACK_STATUSES: Final = frozenset({_D.OPEN, _D.FUNDS_WITHDRAWN, _D.WON, _D.LOST})
#: Disputes whose money the gateway has taken and not given back.
FUNDS_OUT_STATUSES: Final = frozenset({_D.FUNDS_WITHDRAWN, _D.LOST})
#: Disputes not decided yet: a later stage may still come.
UNDECIDED_DISPUTES: Final = frozenset({_D.INQUIRY, _D.OPEN, _D.FUNDS_WITHDRAWN})
#: Disputes that leave their payment nothing to refund: a chargeback not won.
UNREFUNDABLE_STATUSES: Final = frozenset({_D.OPEN, _D.FUNDS_WITHDRAWN, _D.LOST})

#: The stage from which a chargeback withholds access (see :class:`DisputePolicy`).
SuspendOn = Literal["opened", "funds_withdrawn", "lost", "never"]
SUSPEND_ON: Final = ("opened", "funds_withdrawn", "lost", "never")

#: For each setting, the dispute statuses that withhold access.
_HOLDING: Final[Mapping[str, frozenset[DisputeStatus]]] = {
    "opened": frozenset({_D.OPEN, _D.FUNDS_WITHDRAWN, _D.LOST}),
    "funds_withdrawn": frozenset({_D.FUNDS_WITHDRAWN, _D.LOST}),
    "lost": frozenset({_D.LOST}),
    "never": frozenset(),
}


def _suspend_on(_instance: object, _attribute: object, value: object) -> None:
    if value not in SUSPEND_ON:
        raise InvalidInputError(f"suspend_on must be one of {list(SUSPEND_ON)}, got {value!r}")


@attrs.frozen
class DisputePolicy:
    """When a dispute costs the student access, and when access comes back.

    ``suspend_on`` is the stage of a chargeback from which the enrollment is
    ``suspended``:

    - ``"funds_withdrawn"`` (the default): once the gateway reports that it
      took the disputed amount back;
    - ``"opened"``: as soon as a chargeback is opened;
    - ``"lost"``: only when the dispute is lost;
    - ``"never"``: disputes never change access.

    An inquiry never suspends (no money moved). A won dispute gives access
    back (``access.restored``) unless something else withholds it; a lost
    one keeps the enrollment suspended: the money is gone.
    """

    suspend_on: SuspendOn = attrs.field(default="funds_withdrawn", validator=_suspend_on)

    def holds(self, status: DisputeStatus) -> bool:
        """Whether one dispute in ``status`` withholds access."""
        return status in _HOLDING[self.suspend_on]

    def holds_any(self, statuses: Iterable[DisputeStatus]) -> bool:
        """Whether any of an enrollment's disputes (their ``statuses``) withholds access."""
        return any(self.holds(status) for status in statuses)


def withheld(amount: Money, *, refunded: Money, disputes: Iterable[Dispute]) -> Money:
    """What chargebacks took of one payment of ``amount`` and did not give back.

    ``held = min(sum of the amounts of its disputes in funds_withdrawn or
    lost, amount - refunded)``, never below 0. The cap matters for a
    payment refunded in part before its dispute: the gateway takes the
    disputed amount, then gives back what had been refunded already, so
    refunds and chargebacks together never exceed the payment.
    """
    held = sum(d.amount.minor for d in disputes if d.status in FUNDS_OUT_STATUSES)
    room = max(amount.minor - refunded.minor, 0)
    return Money(min(held, room), amount.currency)


def refundable(amount: Money, *, refunded: Money, disputes: Iterable[Dispute]) -> Money:
    """What may still be refunded of one payment of ``amount``.

    ``amount - refunded`` (never below 0), or nothing while a chargeback
    of the payment is open, withdrew its funds or was lost. An inquiry or a
    won dispute leaves the payment refundable.
    """
    if any(d.status in UNREFUNDABLE_STATUSES for d in disputes):
        return Money.zero(amount.currency)
    return Money(max(amount.minor - refunded.minor, 0), amount.currency)
