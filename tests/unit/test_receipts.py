"""Receipts in the domain (numbers, settings, content) and written out (HTML, PDF)."""

from __future__ import annotations

import zlib
from datetime import UTC, date, datetime
from pathlib import Path

import attrs
import pytest

from enrollpay import Money
from enrollpay.domain.receipts import (
    Receipt,
    ReceiptSettings,
    credit_note,
    format_number,
    issued_event,
    payment_receipt,
)
from enrollpay.domain.records import Payment, Refund, ScheduleItem
from enrollpay.domain.taxes import TaxLine
from enrollpay.errors import InvalidInputError
from enrollpay.errors_receipts import ReceiptFontError
from enrollpay.receipts import receipt_view, render_html, render_pdf

AT = datetime(2027, 3, 23, 22, 30, tzinfo=UTC)  # March 23 in Paris, March 24 in Tokyo
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def _item() -> ScheduleItem:
    return ScheduleItem(
        id="itm_2",
        enrollment_id="enr_1",
        seq=2,
        kind="installment",
        due=date(2027, 4, 15),
        amount=Money.of("1234.50", "EUR"),
        status="scheduled",
        amount_paid=Money.zero("EUR"),
    )


def _payment(**changes: object) -> Payment:
    fields: dict[str, object] = {
        "id": "pay_1",
        "enrollment_id": "enr_1",
        "item_id": "itm_2",
        "amount": Money.of("1234.50", "EUR"),
        "method": "gateway",
        "received_at": AT,
        "gateway_payment_id": "pi_123",
    }
    return Payment(**{**fields, **changes})  # type: ignore[arg-type]


def _receipt(settings: ReceiptSettings | None = None, sequence: int = 42) -> Receipt:
    return payment_receipt(
        receipt_id="rcp_1",
        settings=settings or ReceiptSettings(),
        sequence=sequence,
        payment=_payment(),
        item=_item(),
        user_id="u-1",
        product_id="prod_1",
        product_name="Data <Science> & Co",
        at=AT,
    )


def test_numbers_are_padded_and_never_cut() -> None:
    """R-000042 by default; a number wider than the padding keeps every digit; 0 is refused."""
    assert format_number("R-", 42) == "R-000042"
    assert format_number("", 1234567, 6) == "1234567"
    assert ReceiptSettings(prefix="INV/2027/", digits=3).number("receipt", 7) == "INV/2027/007"
    assert ReceiptSettings().number("credit_note", 7) == "CN-000007"
    with pytest.raises(ValueError, match="start at 1"):
        format_number("R-", 0)


@pytest.mark.parametrize(
    "changes",
    [{"issuer": ""}, {"issuer": "a\nb"}, {"prefix": "x" * 21}, {"digits": 0}, {"digits": 13}],
)
def test_bad_settings_are_refused(changes: dict[str, object]) -> None:
    """Empty or multi-line issuers, long prefixes, silly widths: InvalidInputError."""
    with pytest.raises(InvalidInputError):
        ReceiptSettings(**changes)  # type: ignore[arg-type]


def test_a_payment_receipt_holds_the_payment_and_its_item() -> None:
    """Number, total, one line for the item, the gateway id as reference."""
    receipt = _receipt(ReceiptSettings(issuer="north", name="North Academy"))
    assert (receipt.number, receipt.issuer, receipt.kind) == ("R-000042", "north", "receipt")
    assert receipt.total == Money.of("1234.50", "EUR")
    (line,) = receipt.lines
    assert (line.item_kind, line.item_seq, line.due) == ("installment", 2, date(2027, 4, 15))
    assert receipt.reference == "pi_123"


def test_a_receipt_for_another_items_payment_is_refused() -> None:
    """The item must be the payment's."""
    with pytest.raises(ValueError, match="not for item"):
        payment_receipt(
            receipt_id="r",
            settings=ReceiptSettings(),
            sequence=1,
            payment=_payment(item_id="itm_9"),
            item=_item(),
            user_id="u",
            product_id="p",
            product_name="P",
            at=AT,
        )


def test_a_credit_note_names_its_refund_and_the_original_receipt() -> None:
    """CN numbers, the refunded amount, the original's id and number; the event says so."""
    original = _receipt()
    refund = Refund(
        id="ref_1",
        payment_id="pay_1",
        enrollment_id="enr_1",
        amount=Money.of("200.00", "EUR"),
        method="gateway",
        created_at=AT,
        gateway_refund_id="re_9",
    )
    note = credit_note(
        receipt_id="rcp_2",
        settings=ReceiptSettings(),
        sequence=3,
        refund=refund,
        payment=_payment(),
        original=original,
        user_id="u-1",
        product_id="prod_1",
        product_name="P",
        at=AT,
    )
    assert (note.number, note.total, note.refund_id) == ("CN-000003", refund.amount, "ref_1")
    assert (note.original_receipt_id, note.original_number) == ("rcp_1", "R-000042")
    event = issued_event(note)
    assert (event.kind, event.enrollment_id) == ("receipt.issued", "enr_1")
    assert event.data["number"] == "CN-000003"
    assert event.data["original_number"] == "R-000042"
    assert event.data["amount"] == {"minor": 20000, "currency": "EUR"}


def _refund(payment_id: str = "pay_1") -> Refund:
    return Refund(
        id="ref_1",
        payment_id=payment_id,
        enrollment_id="enr_1",
        amount=Money.of("200.00", "EUR"),
        method="gateway",
        created_at=AT,
    )


@pytest.mark.parametrize(
    ("refund_of", "receipt_of", "message"),
    [
        ("pay_9", "pay_1", "refund ref_1 is not of payment pay_1"),
        ("pay_1", "pay_9", "receipt R-000042 is not the receipt of payment pay_1"),
    ],
)
def test_a_credit_note_of_another_payment_or_receipt_is_refused(
    refund_of: str, receipt_of: str, message: str
) -> None:
    """The refund and the original receipt must both be the payment's."""
    original = attrs.evolve(_receipt(), payment_id=receipt_of)
    with pytest.raises(ValueError, match=message):
        credit_note(
            receipt_id="rcp_2",
            settings=ReceiptSettings(),
            sequence=3,
            refund=_refund(refund_of),
            payment=_payment(),
            original=original,
            user_id="u-1",
            product_id="prod_1",
            product_name="P",
            at=AT,
        )


@pytest.mark.parametrize(
    ("locale", "zone", "expected"),
    [
        ("en_US", "UTC", ["Receipt", "€1,234.50", "March 23, 2027", "Installment 2", "Card"]),
        ("fr_FR", "Europe/Paris", ["Reçu", "1\u202f234,50\xa0€", "23 mars 2027", "Échéance 2"]),
        ("de_DE", "Europe/Berlin", ["Quittung", "1.234,50\xa0€", "23. März 2027", "Rate 2"]),
        ("ja_JP", "Asia/Tokyo", ["領収書", "€1,234.50", "2027年3月24日", "第2回分割払い"]),
    ],
)
def test_the_html_is_in_the_readers_language_money_and_days(
    locale: str, zone: str, expected: list[str]
) -> None:
    """Labels, babel amounts and long dates in the reader's locale and time zone; escaped."""
    page = render_html(receipt_view(_receipt(), locale=locale, timezone=zone))
    for text in expected:
        assert text in page, text
    assert f'<html lang="{locale[:2]}">' in page
    assert "R-000042" in page
    assert "Data &lt;Science&gt; &amp; Co" in page
    assert "<Science>" not in page


def test_an_unknown_locale_or_zone_is_refused() -> None:
    """A typed error, not babel's."""
    with pytest.raises(InvalidInputError, match="locale"):
        receipt_view(_receipt(), locale="xx_NOPE")
    with pytest.raises(InvalidInputError, match="time zone"):
        receipt_view(_receipt(), timezone="Mars/Olympus")


def _page_text(pdf: bytes) -> bytes:
    """Every content stream of a PDF, inflated when compressed."""
    out = b""
    for chunk in pdf.split(b"stream")[1::2]:
        body = chunk.strip(b"\r\n").removesuffix(b"end")
        try:
            out += zlib.decompress(body)
        except zlib.error:
            out += body
    return out


@pytest.mark.parametrize("locale", ["en", "fr", "de"])
def test_a_pdf_in_western_languages_uses_the_built_in_font(locale: str) -> None:
    """%PDF, the number on the page and as the subject; the title word in Windows-1252."""
    view = receipt_view(_receipt(), locale=locale)
    pdf = render_pdf(view, compress=False)
    assert pdf.startswith(b"%PDF-")
    assert b"R-000042" in _page_text(pdf)
    assert b"/Subject (R-000042)" in pdf
    assert view.title.encode("windows-1252") in pdf


def test_a_compressed_pdf_still_carries_its_number() -> None:
    """Compressed page streams inflate to the same text; the subject is never compressed."""
    pdf = render_pdf(receipt_view(_receipt(), locale="de"))
    assert pdf.startswith(b"%PDF-")
    assert b"/Subject (R-000042)" in pdf
    assert "Quittung".encode("windows-1252") in _page_text(pdf)


def test_japanese_needs_a_unicode_font() -> None:
    """The built-in font cannot write Japanese: a typed error naming the fix."""
    with pytest.raises(ReceiptFontError, match="font_path"):
        render_pdf(receipt_view(_receipt(), locale="ja"))
    with pytest.raises(ReceiptFontError, match="no font file"):
        render_pdf(receipt_view(_receipt(), locale="ja"), font_path="/nope.ttf")


@pytest.mark.skipif(not DEJAVU.is_file(), reason="needs the DejaVu Sans font (fonts-dejavu-core)")
def test_a_truetype_font_writes_what_the_built_in_one_cannot() -> None:
    """With DejaVu Sans, French with babel's narrow spaces is embedded as a font subset."""
    pdf = render_pdf(receipt_view(_receipt(), locale="fr"), font_path=DEJAVU)
    assert pdf.startswith(b"%PDF-")
    assert b"/Subject (R-000042)" in pdf
    assert b"DejaVuSans" in pdf


def test_a_taxed_item_receipt_and_credit_note_show_net_rate_and_tax() -> None:
    """A receipt line of a taxed item carries its tax; the view adds Net and Tax rows under it."""
    gross = Money.of("1234.50", "EUR")
    line_tax = TaxLine(Money.of("1037.39", "EUR"), Money.of("197.11", "EUR"), 190_000, "DE",
                       "inclusive")  # fmt: skip
    item = attrs.evolve(_item(), tax=line_tax)
    receipt = payment_receipt(
        receipt_id="rcp_1",
        settings=ReceiptSettings(),
        sequence=1,
        payment=_payment(),
        item=item,
        user_id="u-1",
        product_id="prod_1",
        product_name="P",
        at=AT,
        tax=line_tax.tax,
    )
    [line] = receipt.lines
    assert (line.amount, line.net, line.tax) == (gross, line_tax.net, line_tax.tax)
    assert (line.tax_rate_ppm, line.tax_jurisdiction) == (190_000, "DE")
    view = receipt_view(receipt, locale="de_DE")
    assert [amount for _, amount in view.lines] == ["1.234,50\xa0€", "1.037,39\xa0€", "197,11\xa0€"]
    assert [what.strip() for what, _ in view.lines][1:] == ["Nettobetrag", "Steuer DE 19%"]
    untaxed = payment_receipt(
        receipt_id="rcp_2",
        settings=ReceiptSettings(),
        sequence=2,
        payment=_payment(),
        item=item,
        user_id="u-1",
        product_id="prod_1",
        product_name="P",
        at=AT,
    )
    assert untaxed.lines[0].tax is None
    note = credit_note(
        receipt_id="rcp_3",
        settings=ReceiptSettings(),
        sequence=1,
        refund=_refund(),
        payment=_payment(),
        original=receipt,
        user_id="u-1",
        product_id="prod_1",
        product_name="P",
        at=AT,
        tax=(line_tax, Money.of("31.93", "EUR")),
    )
    [back] = note.lines
    assert (back.item_kind, back.amount, back.tax, back.net) == (
        "refund",
        Money.of("200.00", "EUR"),
        Money.of("31.93", "EUR"),
        Money.of("168.07", "EUR"),
    )
    assert "Tax DE 19%  €31.93" in receipt_view(note).text()
    page = _page_text(render_pdf(view, compress=False))
    assert b"Steuer DE 19%" in page
    assert b"Nettobetrag" in page
    assert "Steuer DE 19%" in render_html(view)
