"""The receipt routes of the JSON API, over FastAPI, Flask and Django: JSON, HTML, PDF, errors."""

from __future__ import annotations

from enrollpay.integrations.receipts_api import receipt

from .conftest import Paid
from .route_clients import Framework, RouteClient, route_client


def _client(framework: Framework, paid: Paid) -> tuple[RouteClient, str]:
    """A client of an app with the API under /api, and the paid enrollment's receipt id."""
    paid.system.handle_webhook(paid.hook.payload, paid.hook.headers)
    (first,) = paid.system.list_receipts(paid.enrollment_id)
    return route_client(framework, paid.system), first.id


def test_the_receipt_is_served_as_json(framework: Framework, paid: Paid) -> None:
    """Every field, money as amount/currency/minor."""
    client, receipt_id = _client(framework, paid)
    with client:
        answer = client.get(f"/api/receipts/{receipt_id}")
    assert answer.status_code == 200
    body = answer.json()
    assert body == receipt(paid.system.get_receipt(receipt_id))
    assert (body["number"], body["kind"], body["user_id"]) == ("R-000001", "receipt", "u-1")
    assert body["total"]["minor"] == body["lines"][0]["amount"]["minor"] > 0


def test_the_receipt_is_served_as_html_and_pdf_for_the_reader(
    framework: Framework, paid: Paid
) -> None:
    """HTML in the asked locale; a PDF download named after the number."""
    client, receipt_id = _client(framework, paid)
    with client:
        page = client.get(f"/api/receipts/{receipt_id}/html", params={"locale": "ja_JP"})
        pdf = client.get(f"/api/receipts/{receipt_id}/pdf", params={"locale": "fr_FR"})
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "領収書" in page.text
    assert "R-000001" in page.text
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == 'attachment; filename="R-000001.pdf"'
    assert pdf.content.startswith(b"%PDF-")
    assert b"/Subject (R-000001)" in pdf.content


def test_unknown_receipts_bad_locales_and_missing_fonts_are_json_errors(
    framework: Framework, paid: Paid
) -> None:
    """404, 422 and 500, each with an error code and message."""
    client, receipt_id = _client(framework, paid)
    with client:
        missing = client.get("/api/receipts/rcp_nope")
        missing_pdf = client.get("/api/receipts/rcp_nope/pdf")
        bad_locale = client.get(f"/api/receipts/{receipt_id}/html", params={"locale": "zz_QQ"})
        no_font = client.get(f"/api/receipts/{receipt_id}/pdf", params={"locale": "ja"})
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
    assert (missing_pdf.status_code, missing_pdf.json()["error"]) == (404, "not_found")
    assert (bad_locale.status_code, bad_locale.json()["error"]) == (422, "invalid_input")
    assert (no_font.status_code, no_font.json()["error"]) == (500, "not_renderable")
    assert "font" in no_font.json()["message"]
