"""``enrollpay receipt ID``: a receipt or credit note as HTML (standard output) or PDF (a file)."""

from __future__ import annotations

from pathlib import Path

import attrs
import click

from enrollpay.cli.params import parse_locale, url_option
from enrollpay.cli.wiring import open_system
from enrollpay.receipts import render_html, render_pdf

__all__ = ["receipt"]


@click.command()
@click.argument("receipt_id")
@url_option
@click.option(
    "--locale",
    metavar="LOCALE",
    default="en_US",
    show_default=True,
    callback=parse_locale,
    help="The reader's locale: the language, amounts and dates (en_US, fr_FR, de_DE, ja_JP...).",
)
@click.option(
    "--timezone",
    metavar="ZONE",
    default="UTC",
    show_default=True,
    help="The reader's time zone: the day each instant is printed as.",
)
@click.option("--school", metavar="NAME", help="The name printed at the top (default: issuer).")
@click.option(
    "--pdf",
    "pdf_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write a PDF to this file instead of printing HTML (needs enrollpay[receipts]).",
)
@click.option(
    "--font",
    "font_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A TrueType font for the PDF (needed for Japanese and other non-Latin scripts).",
)
def receipt(
    *,
    receipt_id: str,
    url: str,
    locale: str,
    timezone: str,
    school: str | None,
    pdf_path: Path | None,
    font_path: Path | None,
) -> None:
    """Print receipt RECEIPT_ID as HTML, or write it as a PDF with --pdf.

    \b
    Examples:
      enrollpay receipt rcp_0190c4e2a1b3... --url sqlite:///enrollpay.db > receipt.html
      enrollpay receipt rcp_0190c4e2a1b3... --locale fr_FR --pdf recu.pdf
    """  # noqa: D301 - click needs a real \b to keep a block verbatim
    with open_system(url) as system:
        view = system.view_receipt(receipt_id, locale=locale, timezone=timezone)
    if school:
        view = attrs.evolve(view, issuer=school)
    if pdf_path is None:
        click.echo(render_html(view), nl=False)
        return
    pdf_path.write_bytes(render_pdf(view, font_path=font_path))
    click.echo(f"{view.title} {view.number} written to {pdf_path}", err=True)
