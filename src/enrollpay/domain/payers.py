"""Payers: who pays for an enrollment, when it is not (only) the student.

A :class:`Payer` (a parent, an employer, a sponsor, or the student as
``self``) owns a payment method and may pay for many enrollments. One
enrollment may be split between payers by :class:`PayerShare`: shares in
basis points (``7000`` is 70%) that add up to exactly ``10000``.

:func:`split_schedule` gives each payer a schedule of their own. Amounts
are integer minor units, every part a multiple of the gateway's
granularity ``g``:

1. each payer's part of the price: ``price.allocate`` over the shares,
   largest share first (ties: the first given), so the leftover of the
   flooring (less than one ``g`` per payer) goes to the largest shares;
2. line by line, each line is split pro rata over what each payer still
   has to pay (the same allocator, the same order); the last line takes
   exactly what is left, so every payer's lines add up to their part and
   all parts add up to the line amounts and to the price;
3. a payer's part of a line that would be below the gateway's minimum
   charge is not charged on its own: it is carried to that payer's next
   line (after the last line: added to their previous one). The payer's
   total never changes, only when it falls due. A payer whose whole part
   is below the minimum is refused (:class:`PayerSplitError`).

The split lines are numbered anew (``seq`` 1, 2, ... by line, then payer
order) and carry the payer's id (``ScheduleLine.payer_id``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Final, Literal, get_args

import attrs

from enrollpay.domain.money import Money
from enrollpay.domain.schedule import ScheduleLine
from enrollpay.errors import NaiveDatetimeError
from enrollpay.errors_payers import PayerError, PayerShareError, PayerSplitError

__all__ = [
    "PAYER_KINDS",
    "WHOLE",
    "Payer",
    "PayerKind",
    "PayerShare",
    "check_shares",
    "payer_parts",
    "split_schedule",
]

PayerKind = Literal["parent", "employer", "sponsor", "self"]
PAYER_KINDS: tuple[PayerKind, ...] = get_args(PayerKind)
#: 100% in basis points: the shares of one enrollment add up to this.
WHOLE: Final = 10_000
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _text(_instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise PayerError(f"a payer's {attribute.name} is 1-200 characters, got {value!r}")


def _optional_text(
    _instance: object, attribute: attrs.Attribute[str | None], value: object
) -> None:
    if value is not None:
        _text(_instance, attribute, value)  # type: ignore[arg-type]


def _kind(_instance: object, _attribute: attrs.Attribute[str], value: object) -> None:
    if value not in PAYER_KINDS:
        raise PayerError(f"a payer's kind is one of {PAYER_KINDS}, got {value!r}")


def _email(_instance: object, _attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or len(value) > 254 or not _EMAIL.fullmatch(value):
        raise PayerError(f"a payer's email must be an e-mail address, got {value!r}")


def _aware(_instance: object, _attribute: attrs.Attribute[datetime | None], value: object) -> None:
    if value is not None and (not isinstance(value, datetime) or value.utcoffset() is None):
        raise NaiveDatetimeError("a payer's created_at must be a time-zone aware datetime")


@attrs.frozen
class Payer:
    """Someone who pays: their kind, name, e-mail and (once known) gateway customer and method.

    ``gateway_customer_id`` and ``payment_method_id`` are the gateway's
    ids of the payer's customer and saved method; charges of the payer's
    items use them (off-session) instead of the student's.
    """

    id: str = attrs.field(validator=_text)
    kind: PayerKind = attrs.field(validator=_kind)
    name: str = attrs.field(validator=_text)
    email: str = attrs.field(validator=_email)
    gateway_customer_id: str | None = attrs.field(default=None, validator=_optional_text)
    payment_method_id: str | None = attrs.field(default=None, validator=_optional_text)
    created_at: datetime | None = attrs.field(default=None, validator=_aware)


def _share_bp(_instance: object, _attribute: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= WHOLE:
        raise PayerShareError(f"a share is an int of basis points in 1..{WHOLE}, got {value!r}")


@attrs.frozen
class PayerShare:
    """One payer's share of an enrollment, in basis points (``7000`` is 70%)."""

    payer_id: str = attrs.field(validator=_text)
    share_bp: int = attrs.field(validator=_share_bp)


def check_shares(shares: Iterable[PayerShare]) -> tuple[PayerShare, ...]:
    """The shares as given, if they name each payer once and add up to exactly 100%."""
    given = tuple(shares)
    if not given or not all(isinstance(s, PayerShare) for s in given):
        raise PayerShareError("payers must be a non-empty list of PayerShare")
    ids = [s.payer_id for s in given]
    if len(set(ids)) != len(ids):
        raise PayerShareError(f"a payer is named twice in {ids}")
    total = sum(s.share_bp for s in given)
    if total != WHOLE:
        raise PayerShareError(f"the shares add up to {total} basis points, not {WHOLE}")
    return given


def _order(shares: Sequence[PayerShare]) -> list[int]:
    """Indexes of ``shares``, largest share first (ties: the first given)."""
    return sorted(range(len(shares)), key=lambda i: -shares[i].share_bp)


def _allocate(whole: Money, ratios: Sequence[int], order: Sequence[int], g: int) -> list[int]:
    """``whole`` over ``ratios`` (minor units), the leftover to ``order``'s first."""
    parts = whole.allocate([ratios[i] for i in order], granularity=g)
    out = [0] * len(ratios)
    for position, index in enumerate(order):
        out[index] = parts[position].minor
    return out


def payer_parts(price: Money, shares: Sequence[PayerShare], *, granularity: int = 1) -> list[Money]:
    """Each payer's part of ``price``, in the order of ``shares`` (they add up to ``price``)."""
    given = check_shares(shares)
    ratios = [s.share_bp for s in given]
    minors = _allocate(price, ratios, _order(given), granularity)
    return [Money(m, price.currency) for m in minors]


def split_schedule(
    lines: Sequence[ScheduleLine],
    shares: Sequence[PayerShare],
    *,
    granularity: int = 1,
    minimum: Money | None = None,
) -> tuple[ScheduleLine, ...]:
    """Split every line of a schedule between payers (see the module for the rules)."""
    given = check_shares(shares)
    if not lines:
        raise PayerShareError("there is no payment to split between payers")
    currency = lines[0].amount.currency
    price = Money(sum(line.amount.minor for line in lines), currency)
    order = _order(given)
    left = [m.minor for m in payer_parts(price, given, granularity=granularity)]
    columns: list[list[int]] = []
    for line in lines:
        column = _allocate(line.amount, left, order, granularity)
        left = [have - part for have, part in zip(left, column, strict=True)]
        columns.append(column)
    floor = minimum.minor if minimum is not None else 1
    kept: list[tuple[int, int, int]] = []  # (line index, payer index, minor)
    for p, share in enumerate(given):
        own: list[list[int]] = []
        carry = 0
        for k, column in enumerate(columns):
            amount = column[p] + carry
            if amount >= floor:
                own.append([k, amount])
                carry = 0
            else:
                carry = amount
        if carry and not own:
            raise PayerSplitError(
                f"payer {share.payer_id!r}'s part {Money(carry, currency)} is below "
                f"the minimum charge {Money(floor, currency)}"
            )
        if carry:
            own[-1][1] += carry
        kept.extend((k, p, amount) for k, amount in own)
    kept.sort(key=lambda row: (row[0], row[1]))
    return tuple(
        attrs.evolve(lines[k], seq=seq, amount=Money(amount, currency), payer_id=given[p].payer_id)
        for seq, (k, p, amount) in enumerate(kept, start=1)
    )
