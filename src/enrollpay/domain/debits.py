"""Bank debits that settle days later: business days and settlement windows.

A SEPA, ACH or Bacs debit is accepted at once and *settles* (clears or
fails) days later; until then its attempt is ``processing``. How long that
may take depends on the payment method type, counted in business days
(Monday to Friday; a school can name bank holidays too). Stripe documents
up to 14 business days for SEPA Direct Debit, up to 4 for ACH Direct Debit
(``us_bank_account``) and up to 7 for Bacs Direct Debit (4 with a mandate in
place, 7 when a new one is collected); a card settles the same day.

A debit still processing after its window is not guessed at: reconcile
lists it for a person.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any, Final, Literal

import attrs

from enrollpay.errors import InvalidInputError

__all__ = [
    "DEBIT_ACCESS_POLICIES",
    "DEFAULT_SETTLEMENT_DAYS",
    "DebitAccess",
    "SettlementWindows",
    "add_business_days",
    "business_days_after",
    "is_business_day",
]

#: Business days a payment of each Stripe payment method type may stay
#: ``processing`` (the documented upper bounds).
DEFAULT_SETTLEMENT_DAYS: Final[Mapping[str, int]] = {
    "card": 0,
    "sepa_debit": 14,
    "us_bank_account": 4,
    "bacs_debit": 7,
}

#: Access while a debit is processing: ``keep`` what the student has (the
#: default), or ``suspend`` until it clears.
DebitAccess = Literal["keep", "suspend"]
DEBIT_ACCESS_POLICIES: Final[tuple[DebitAccess, ...]] = ("keep", "suspend")

_SATURDAY = 5


def is_business_day(day: date, holidays: frozenset[date] = frozenset()) -> bool:
    """Monday to Friday, and not one of ``holidays``."""
    return day.weekday() < _SATURDAY and day not in holidays


def add_business_days(start: date, days: int, holidays: frozenset[date] = frozenset()) -> date:
    """The ``days``-th business day after ``start`` (``start`` itself for 0).

    ``start`` need not be a business day: from a Saturday, 1 business day
    later is the Monday.
    """
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        raise InvalidInputError(f"days must be a whole number >= 0, got {days!r}")
    day = start
    left = days
    while left:
        day += timedelta(days=1)
        if is_business_day(day, holidays):
            left -= 1
    return day


def business_days_after(start: date, end: date, holidays: frozenset[date] = frozenset()) -> int:
    """How many business days fall after ``start`` up to and including ``end`` (0 if none)."""
    count = 0
    day = start
    while day < end:
        day += timedelta(days=1)
        count += is_business_day(day, holidays)
    return count


def _windows(value: Any) -> Mapping[str, int]:
    if not isinstance(value, Mapping):
        raise InvalidInputError(f"settlement days must be a mapping, got {type(value).__name__}")
    checked: dict[str, int] = {}
    for kind, days in value.items():
        if not isinstance(kind, str) or not kind:
            raise InvalidInputError(f"a payment method type must be a name, got {kind!r}")
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            raise InvalidInputError(
                f"settlement days for {kind} must be a whole number >= 0, got {days!r}"
            )
        checked[kind] = days
    return checked


def _days(_instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError(f"{attribute.name} must be a whole number >= 0, got {value!r}")


def _holidays(value: Any) -> frozenset[date]:
    days = frozenset(value)
    for day in days:
        if not isinstance(day, date):
            raise InvalidInputError(f"holidays must be dates, got {day!r}")
    return days


@attrs.frozen
class SettlementWindows:
    """How many business days a payment may stay ``processing``, per payment method type.

    ``days`` overrides or extends :data:`DEFAULT_SETTLEMENT_DAYS`; a type
    named in neither (or no type at all) gets ``unknown_days``, 0 by
    default: it is looked at by a person from the next business day on,
    rather than trusted for two weeks. ``holidays`` are days the banks do
    not count (none by default: weekends only).
    """

    days: Mapping[str, int] = attrs.field(factory=dict, converter=_windows)
    unknown_days: int = attrs.field(default=0, validator=_days)
    holidays: frozenset[date] = attrs.field(factory=frozenset, converter=_holidays)

    def for_method(self, method_type: str | None) -> int:
        """The window of ``method_type`` in business days."""
        if method_type is None:
            return self.unknown_days
        found = self.days.get(method_type, DEFAULT_SETTLEMENT_DAYS.get(method_type))
        return self.unknown_days if found is None else found

    def deadline(self, since: date, method_type: str | None) -> date:
        """The last day a payment processing since ``since`` may still settle on."""
        return add_business_days(since, self.for_method(method_type), self.holidays)

    def overdue(self, since: date, today: date, method_type: str | None) -> bool:
        """Whether a payment processing since ``since`` is still unsettled past its window."""
        return today > self.deadline(since, method_type)
