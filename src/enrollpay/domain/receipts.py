"""Receipts and credit notes: what a student is given for money received or returned.

Pure: the service hands in the records and the next number of the series
(the store keeps the sequence), and gets back the :class:`Receipt` to store
with the ``receipt.issued`` event it causes. A receipt is issued in the
unit of work that records its payment, a credit note in the one whose
refund gives the money back, so a number exists exactly when its payment
or refund does: a rolled-back unit of work takes its number with it, and
the numbers of a series have no gaps.

Numbers are kept per *issuer* (the school that receives the money: the
library has no tenants, so one system is one issuer unless the host
names another in :class:`ReceiptSettings`) and per series: receipts and
credit notes are counted apart (``R-000042``, ``CN-000007``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Final, Literal

import attrs

from enrollpay.domain.events import EventDraft
from enrollpay.domain.money import Money
from enrollpay.domain.records import Payment, Refund, ScheduleItem
from enrollpay.domain.taxes import TaxLine
from enrollpay.domain.transitions.items import money_data
from enrollpay.errors import InvalidInputError

__all__ = [
    "RECEIPT_KINDS",
    "Receipt",
    "ReceiptKind",
    "ReceiptLine",
    "ReceiptSettings",
    "credit_note",
    "format_number",
    "issued_event",
    "payment_receipt",
]

ReceiptKind = Literal["receipt", "credit_note"]
#: The two series every issuer numbers.
RECEIPT_KINDS: Final[tuple[ReceiptKind, ...]] = ("receipt", "credit_note")
_MAX_DIGITS = 12


def _check_prefix(_instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or len(value) > 20 or not value.isprintable():
        raise InvalidInputError(f"{attribute.name} must be printable text of at most 20 characters")


def _check_issuer(_instance: object, _attribute: object, value: object) -> None:
    if not isinstance(value, str) or not value.strip() or len(value) > 100:
        raise InvalidInputError("issuer and name must be non-empty text of at most 100 characters")
    if not value.isprintable():
        raise InvalidInputError("issuer and name must not contain control characters")


def _check_digits(_instance: object, _attribute: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_DIGITS:
        raise InvalidInputError(
            f"digits must be a whole number from 1 to {_MAX_DIGITS}, got {value!r}"
        )


@attrs.frozen
class ReceiptSettings:
    """Who issues receipts and how their numbers read.

    ``issuer`` names the school the numbers belong to (one gap-free series
    of each kind per issuer); ``name`` is printed at the top of each
    receipt (default: the issuer). ``prefix`` and ``credit_prefix`` start
    the numbers of receipts and credit notes, ``digits`` pads them:
    ``R-000042``. Changing a prefix changes how new numbers read, never
    the sequence.

    ``font_path``: see :func:`enrollpay.receipts.render_pdf`.

    ``announce``: put a ``receipt.issued`` event in the outbox with each
    receipt and credit note (so a notification handler mails the
    ``receipt_issued`` message). Off by default: an application that
    upgrades gets receipts without a new kind of event reaching its
    handlers, and its students no new mail, until it opts in.
    """

    issuer: str = attrs.field(default="default", validator=_check_issuer)
    name: str | None = attrs.field(default=None)
    prefix: str = attrs.field(default="R-", validator=_check_prefix)
    credit_prefix: str = attrs.field(default="CN-", validator=_check_prefix)
    digits: int = attrs.field(default=6, validator=_check_digits)
    announce: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    #: A TrueType font for PDF receipts in scripts beyond Western European
    #: (Japanese needs a CJK font); None: fpdf2's built-in Helvetica.
    font_path: str | None = None

    @name.validator
    def _check_name(self, _attribute: attrs.Attribute[str | None], value: object) -> None:
        if value is not None:
            _check_issuer(self, _attribute, value)

    @property
    def display_name(self) -> str:
        """The name printed on receipts."""
        return self.name or self.issuer

    def number(self, kind: ReceiptKind, sequence: int) -> str:
        """``R-000042``: the number ``sequence`` of the ``kind`` series, as printed."""
        prefix = self.prefix if kind == "receipt" else self.credit_prefix
        return format_number(prefix, sequence, self.digits)


def format_number(prefix: str, sequence: int, digits: int = 6) -> str:
    """``format_number("R-", 42) == "R-000042"`` (wider numbers are never cut)."""
    if sequence < 1:
        raise ValueError(f"receipt sequences start at 1, got {sequence}")
    return f"{prefix}{sequence:0{digits}d}"


@attrs.frozen
class ReceiptLine:
    """One line of a receipt: what the money was for.

    ``item_kind`` (``deposit``, ``installment``, ``full``, ``period``) and
    ``item_seq``/``due`` describe the schedule item paid; a renderer words
    them in the reader's language. On a credit note, ``item_kind`` is
    ``refund`` and the amount is what went back.

    A taxed item's line says how much of ``amount`` (the gross) is ``tax``,
    at which rate (parts per million) of which jurisdiction; the net is the
    rest (:attr:`net`). Untaxed: all three are None.
    """

    item_kind: str
    amount: Money
    item_seq: int | None = None
    due: date | None = None
    tax: Money | None = None
    tax_rate_ppm: int | None = None
    tax_jurisdiction: str | None = None

    @property
    def net(self) -> Money:
        """The amount without its tax (the whole amount when untaxed)."""
        return self.amount if self.tax is None else self.amount - self.tax


def _taxed(line: ReceiptLine, rate: TaxLine | None, tax: Money | None) -> ReceiptLine:
    """``line`` with the tax it carries at ``rate`` (unchanged when either is None)."""
    if rate is None or tax is None:
        return line
    return attrs.evolve(line, tax=tax, tax_rate_ppm=rate.ppm, tax_jurisdiction=rate.jurisdiction)


@attrs.frozen
class Receipt:
    """A numbered receipt for a payment, or a credit note for a refund of one.

    ``sequence`` is the number in the issuer's series of ``kind``, and
    ``number`` how it is printed. A credit note names its refund and the
    receipt of the payment it gives money back from (``original_*``: None
    when that payment was recorded before receipts existed). ``total`` is
    always positive: a credit note's is the amount given back.
    """

    id: str
    issuer: str
    kind: ReceiptKind
    sequence: int
    number: str
    enrollment_id: str
    user_id: str
    product_id: str
    product_name: str
    payment_id: str
    method: str
    lines: tuple[ReceiptLine, ...]
    total: Money
    #: When the money was received (a receipt) or given back (a credit note).
    paid_at: datetime
    issued_at: datetime
    reference: str | None = None
    refund_id: str | None = None
    original_receipt_id: str | None = None
    original_number: str | None = None
    #: Who paid (a credit note: who is given the money back), when not the
    #: student: the payer's id and their name as it was when it was issued.
    payer_id: str | None = None
    payer_name: str | None = None


def payment_receipt(
    *,
    receipt_id: str,
    settings: ReceiptSettings,
    sequence: int,
    payment: Payment,
    item: ScheduleItem,
    user_id: str,
    product_id: str,
    product_name: str,
    at: datetime,
    tax: Money | None = None,
    payer: tuple[str, str] | None = None,
) -> Receipt:
    """The receipt of ``payment`` (on ``item``), numbered ``sequence``.

    ``tax``: the tax in the payment, for a taxed item (see
    :func:`~enrollpay.domain.taxes.tax_of_part`). ``payer`` (id, name): the
    payer who owes the item and paid it.
    """
    if item.id != payment.item_id:
        raise ValueError(f"payment {payment.id} is not for item {item.id}")
    line = ReceiptLine(item.kind, payment.amount, item_seq=item.seq, due=item.due)
    line = _taxed(line, item.tax, tax)
    return Receipt(
        id=receipt_id,
        issuer=settings.issuer,
        kind="receipt",
        sequence=sequence,
        number=settings.number("receipt", sequence),
        enrollment_id=payment.enrollment_id,
        user_id=user_id,
        product_id=product_id,
        product_name=product_name,
        payment_id=payment.id,
        method=payment.method,
        lines=(line,),
        total=payment.amount,
        paid_at=payment.received_at,
        issued_at=at,
        reference=payment.reference or payment.gateway_payment_id,
        payer_id=None if payer is None else payer[0],
        payer_name=None if payer is None else payer[1],
    )


def credit_note(
    *,
    receipt_id: str,
    settings: ReceiptSettings,
    sequence: int,
    refund: Refund,
    payment: Payment,
    original: Receipt | None,
    user_id: str,
    product_id: str,
    product_name: str,
    at: datetime,
    tax: tuple[TaxLine, Money] | None = None,
    payer: tuple[str, str] | None = None,
) -> Receipt:
    """The credit note of ``refund`` (of ``payment``, receipted as ``original``), to ``payer``.

    ``tax``: the paid item's tax line and the tax the refund gives back.
    """
    if refund.payment_id != payment.id:
        raise ValueError(f"refund {refund.id} is not of payment {payment.id}")
    if original is not None and original.payment_id != payment.id:
        raise ValueError(f"receipt {original.number} is not the receipt of payment {payment.id}")
    return Receipt(
        id=receipt_id,
        issuer=settings.issuer,
        kind="credit_note",
        sequence=sequence,
        number=settings.number("credit_note", sequence),
        enrollment_id=refund.enrollment_id,
        user_id=user_id,
        product_id=product_id,
        product_name=product_name,
        payment_id=payment.id,
        method=refund.method,
        lines=(_taxed(ReceiptLine("refund", refund.amount), *(tax or (None, None))),),
        total=refund.amount,
        paid_at=at,
        issued_at=at,
        reference=refund.gateway_refund_id,
        refund_id=refund.id,
        payer_id=None if payer is None else payer[0],
        payer_name=None if payer is None else payer[1],
        original_receipt_id=None if original is None else original.id,
        original_number=None if original is None else original.number,
    )


def issued_event(receipt: Receipt) -> EventDraft:
    """``receipt.issued``: the receipt's id, number, kind, amount and what it is for."""
    return EventDraft(
        "receipt.issued",
        receipt.enrollment_id,
        receipt.issued_at,
        {
            "receipt_id": receipt.id,
            "number": receipt.number,
            "kind": receipt.kind,
            "payment_id": receipt.payment_id,
            "refund_id": receipt.refund_id,
            "original_number": receipt.original_number,
            "amount": money_data(receipt.total),
            # To whom it is addressed, when not the student (then its notification goes there).
            **({"payer_id": receipt.payer_id} if receipt.payer_id else {}),
        },
    )
