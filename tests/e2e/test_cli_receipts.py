"""``enrollpay receipt``: through click's runner and through the installed console script."""

from __future__ import annotations

import subprocess
from pathlib import Path

from enrollpay import PaymentSystem
from enrollpay.storage.sql import SqlStore

from .test_cli import ENROLLPAY, past_school, run, url_of


def _first_receipt(path: Path) -> tuple[str, str]:
    """(id, number) of the first student's first receipt."""
    store = SqlStore.from_url(url_of(path))
    try:
        system = PaymentSystem(store=store)
        enrollment = system.list_enrollments(user_id="u-0")[0]
        first = system.list_receipts(enrollment.id)[0]
        return first.id, first.number
    finally:
        store.close()


def test_receipt_prints_html_in_the_readers_locale(tmp_path: Path) -> None:
    """French words, babel's French dollars, the number; exit 0."""
    path = tmp_path / "school.db"
    past_school(path, students=2)
    receipt_id, number = _first_receipt(path)
    assert number == "R-000001"

    result = run(
        "receipt", receipt_id, "--url", url_of(path), "--locale", "fr_FR", "--school", "École 42"
    )

    assert result.exit_code == 0, result.stderr
    page = result.stdout
    assert page.startswith("<!DOCTYPE html>")
    assert '<html lang="fr">' in page
    assert "Reçu <span" in page
    assert "R-000001" in page
    assert "100,00\xa0$US" in page
    assert "École 42" in page


def test_receipt_writes_a_pdf_from_the_console_script(tmp_path: Path) -> None:
    """The real command writes %PDF with the number as subject and says so on stderr."""
    path = tmp_path / "school.db"
    past_school(path, students=1)
    receipt_id, number = _first_receipt(path)
    out = tmp_path / "quittung.pdf"

    done = subprocess.run(
        [str(ENROLLPAY), "receipt", receipt_id, "--url", url_of(path), "--locale", "de_DE",
         "--pdf", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert done.stderr == f"Quittung {number} written to {out}\n"
    pdf = out.read_bytes()
    assert pdf.startswith(b"%PDF-")
    assert f"/Subject ({number})".encode() in pdf


def test_an_unknown_receipt_or_an_unwritable_script_fails_in_one_line(tmp_path: Path) -> None:
    """Unknown id: exit 3; Japanese PDF without a font: exit 3 naming --font; nothing written."""
    path = tmp_path / "school.db"
    past_school(path, students=1)
    receipt_id, _ = _first_receipt(path)
    out = tmp_path / "r.pdf"

    unknown = subprocess.run(
        [str(ENROLLPAY), "receipt", "rcp_nope", "--url", url_of(path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    japanese = subprocess.run(
        [str(ENROLLPAY), "receipt", receipt_id, "--url", url_of(path), "--locale", "ja_JP",
         "--pdf", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert (unknown.returncode, unknown.stdout) == (3, "")
    assert unknown.stderr == "Error: receipt 'rcp_nope' not found\n"
    assert japanese.returncode == 3
    assert "--font" in japanese.stderr
    assert len(japanese.stderr.splitlines()) == 1
    assert not out.exists()
