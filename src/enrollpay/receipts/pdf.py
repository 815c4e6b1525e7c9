"""A receipt as a PDF, drawn with fpdf2 (``pip install 'enrollpay[receipts]'``).

fpdf2's built-in Helvetica writes Western European text (English, French,
German, ...: the Windows-1252 characters). Other scripts need a Unicode
TrueType font: pass its file as ``font_path`` (for Japanese, a CJK font
such as Noto Sans CJK or IPAex Gothic). Text the font cannot write is
refused with :class:`~enrollpay.errors_receipts.ReceiptFontError` before
anything is drawn, never printed as empty boxes.

The receipt's number is also the document's subject (in the PDF's
information dictionary, which is never compressed), so a mail filter or a
test finds it without a PDF parser.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from enrollpay.errors_receipts import ReceiptFontError, ReceiptRenderError
from enrollpay.receipts.view import ReceiptView

__all__ = ["render_pdf"]

_CORE_ENCODING = "windows-1252"
#: Spaces babel writes that Windows-1252 lacks, and the space it has instead.
_SPACES = str.maketrans({"\u202f": "\u00a0", "\u2009": "\u00a0", "\u2007": "\u00a0"})


#: Where fpdf2 goes after a cell that ends a line.
_NEXT_LINE: dict[str, Any] = {"new_x": "LMARGIN", "new_y": "NEXT"}


def _fpdf() -> Any:
    try:
        import fpdf  # noqa: PLC0415 - an optional extra, imported when a PDF is asked for
    except ImportError as error:  # pragma: no cover - the dev extra installs it
        raise ReceiptRenderError(
            "PDF receipts need fpdf2: pip install 'enrollpay[receipts]'"
        ) from error
    return fpdf


def _core_text(view: ReceiptView) -> ReceiptView:
    """The view with babel's narrow spaces made plain; ReceiptFontError if still unwritable."""
    import attrs  # noqa: PLC0415 - only this path rewrites the view

    def fix(text: str) -> str:
        fixed = text.translate(_SPACES)
        try:
            fixed.encode(_CORE_ENCODING)
        except UnicodeEncodeError as error:
            raise ReceiptFontError(
                f"the built-in PDF font cannot write {text!r} ({view.language}): "
                "give a Unicode TrueType font that has them (font_path; --font in the CLI)"
            ) from error
        return fixed

    return attrs.evolve(
        view,
        title=fix(view.title),
        number=fix(view.number),
        issuer=fix(view.issuer),
        fields=tuple((fix(a), fix(b)) for a, b in view.fields),
        lines=tuple((fix(a), fix(b)) for a, b in view.lines),
        amount_label=fix(view.amount_label),
        description_label=fix(view.description_label),
        total_label=fix(view.total_label),
        total=fix(view.total),
    )


def render_pdf(
    view: ReceiptView, *, font_path: str | Path | None = None, compress: bool = True
) -> bytes:
    """The PDF of a receipt written for its reader (one A4 page).

    ``font_path``: a TrueType font for scripts beyond Windows-1252 (see the
    module's notes). ``compress=False`` leaves the page's drawing commands
    readable (for debugging and tests).
    """
    fpdf = _fpdf()
    pdf = fpdf.FPDF(format="A4")
    pdf.set_compression(compress)
    if font_path is None:
        pdf.core_fonts_encoding = _CORE_ENCODING
        view = _core_text(view)
        family = "Helvetica"
        bold = "B"
    else:
        if not Path(font_path).is_file():
            raise ReceiptFontError(f"no font file at {str(font_path)!r}")
        pdf.add_font("receipt", fname=str(font_path))
        family, bold = "receipt", ""
    pdf.set_subject(view.number)
    pdf.set_creator("enrollpay")
    pdf.add_page()
    width = pdf.epw
    pdf.set_font(family, bold, 14)
    pdf.cell(width, 8, view.issuer, **_NEXT_LINE)
    pdf.set_font(family, bold, 18)
    pdf.cell(width, 12, f"{view.title} {view.number}", **_NEXT_LINE)
    pdf.ln(4)
    pdf.set_font(family, "", 10)
    for label, value in view.fields:
        pdf.cell(width * 0.35, 6, label)
        pdf.multi_cell(width * 0.65, 6, value, **_NEXT_LINE)
    pdf.ln(6)
    pdf.set_font(family, bold, 10)
    pdf.cell(width * 0.7, 7, view.description_label, border="B")
    pdf.cell(width * 0.3, 7, view.amount_label, border="B", align="R", **_NEXT_LINE)
    pdf.set_font(family, "", 10)
    for what, amount in view.lines:
        pdf.cell(width * 0.7, 7, what)
        pdf.cell(width * 0.3, 7, amount, align="R", **_NEXT_LINE)
    pdf.set_font(family, bold, 11)
    pdf.cell(width * 0.7, 8, view.total_label, border="T")
    pdf.cell(width * 0.3, 8, view.total, border="T", align="R", **_NEXT_LINE)
    return bytes(pdf.output())
