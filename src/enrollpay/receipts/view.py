"""A receipt written out for one reader: every label and value as the text to print.

:func:`receipt_view` is what both renderers (:mod:`.html`, :mod:`.pdf`)
print: the words in the reader's language (:mod:`.labels`), amounts with
babel's ``format_currency`` and days with ``format_date`` in the reader's
locale, instants as the day they fall on in the reader's time zone.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs
from babel import Locale, UnknownLocaleError
from babel.dates import format_date

from enrollpay.domain.receipts import Receipt, ReceiptLine
from enrollpay.domain.taxes import format_rate
from enrollpay.errors import InvalidInputError
from enrollpay.receipts.labels import labels_for

__all__ = ["ReceiptView", "receipt_view"]


@attrs.frozen
class ReceiptView:
    """The text of a receipt for one reader (``fields``: label and value, in order)."""

    language: str
    title: str
    number: str
    issuer: str
    fields: tuple[tuple[str, str], ...]
    lines: tuple[tuple[str, str], ...]
    amount_label: str
    description_label: str
    total_label: str
    total: str

    def text(self) -> str:
        """Every string of the view, in reading order (for checks and plain-text mail)."""
        parts = [self.issuer, self.title, self.number]
        parts += [f"{label}: {value}" for label, value in self.fields]
        parts += [f"{what}  {amount}" for what, amount in self.lines]
        parts.append(f"{self.total_label}: {self.total}")
        return "\n".join(parts)


def _locale(locale: str) -> Locale:
    try:
        return Locale.parse(locale.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError) as error:
        raise InvalidInputError(f"unknown locale {locale!r}") from error


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidInputError(f"unknown time zone {timezone!r}") from error


def receipt_view(
    receipt: Receipt,
    *,
    locale: str = "en",
    timezone: str = "UTC",
    issuer_name: str | None = None,
    student_name: str | None = None,
) -> ReceiptView:
    """``receipt`` written for a reader in ``locale`` and ``timezone``.

    ``issuer_name`` heads the receipt (default: its issuer); ``student_name``
    names the payer (default: their user id).
    """
    loc = _locale(locale)
    zone = _zone(timezone)
    words = labels_for(loc.language)

    def day(at: datetime) -> str:
        return str(format_date(at.astimezone(zone).date(), format="long", locale=loc))

    def line_text(line: ReceiptLine) -> str:
        what = words.get(line.item_kind, line.item_kind).format(seq=line.item_seq or "")
        if line.due is None:
            return what
        return f"{what} ({words['due'].format(date=format_date(line.due, 'long', locale=loc))})"

    def rows(line: ReceiptLine) -> list[tuple[str, str]]:
        """The line, then (when taxed) its net and its tax, so the gross reads as their sum."""
        shown = [(line_text(line), line.amount.format(str(loc)))]
        if line.tax is not None:
            rate = format_rate(line.tax_rate_ppm or 0)
            tax = words["tax"].format(jurisdiction=line.tax_jurisdiction or "", rate=rate)
            shown.append((f"  {words['net']}", line.net.format(str(loc))))
            shown.append((f"  {tax}", line.tax.format(str(loc))))
        return shown

    credit = receipt.kind == "credit_note"
    fields: list[tuple[str, str]] = [
        (words["issued"], day(receipt.issued_at)),
        (words["refunded_on" if credit else "paid_on"], day(receipt.paid_at)),
        (words["student"], student_name or receipt.user_id),
        *([(words["payer"], receipt.payer_name or "")] if receipt.payer_id else []),
        (words["product"], receipt.product_name),
        (words["method"], words.get(receipt.method, receipt.method)),
    ]
    if receipt.reference:
        fields.append((words["reference"], receipt.reference))
    if credit and receipt.original_number:
        fields.append((words["refers_to"], receipt.original_number))
    return ReceiptView(
        language=loc.language,
        title=words["credit_note" if credit else "receipt"],
        number=receipt.number,
        issuer=issuer_name or receipt.issuer,
        fields=tuple(fields),
        lines=tuple(row for x in receipt.lines for row in rows(x)),
        amount_label=words["amount"],
        description_label=words["description"],
        total_label=words["total_credit" if credit else "total"],
        total=receipt.total.format(str(loc)),
    )
