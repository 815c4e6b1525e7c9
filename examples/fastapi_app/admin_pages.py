"""Admin pages: sign in, dashboard and reports, all schedules, the audit log.

Every page needs a signed-in admin (else a redirect to ``/admin/login``);
the admin's name is the ``actor`` of every action, so each lands in the
audit log as ``admin:<name>``. One enrollment's screen and its actions are
in :mod:`.admin_enrollment_pages`, :mod:`.admin_enrollment_actions` and
:mod:`.admin_plan_change_pages`; the actions on one schedule item in
:mod:`.admin_item_pages`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal
from typing import Any

import attrs
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from enrollpay import Money, PaymentSystem
from enrollpay.domain.lifecycle import ItemStatus
from enrollpay.domain.records import ScheduleItem
from enrollpay.errors import NotFoundError
from enrollpay.reports import (
    AgingRow,
    ForecastRow,
    ItemStatusRow,
    ProductRow,
    RecoveryRow,
    RevenueRow,
)

from .admin_forms import Admin, Form, System, date_param
from .charts import revenue_svg
from .web import page, redirect, safe_next, settings

__all__ = ["REPORTS", "router"]

REPORTS = {
    "revenue": "Revenue by month",
    "status": "Schedule items by status",
    "products": "Product performance",
    "aging": "Receivables aging",
    "forecast": "Cash forecast (12 months)",
    "recovery": "Failed-payment recovery",
}
REPORT_ROWS: dict[str, type] = {
    "revenue": RevenueRow,
    "status": ItemStatusRow,
    "products": ProductRow,
    "aging": AgingRow,
    "forecast": ForecastRow,
    "recovery": RecoveryRow,
}

router = APIRouter(prefix="/admin")


# -- sign in ----------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    """The admin sign-in form."""
    target = safe_next(next, "/admin")
    return page(request, "admin_login.html", {"next": target, "values": {}, "errors": {}})


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, form: Form) -> Response:
    """Check the demo password; remember the admin's name in the signed session."""
    name = form.get("username", "")
    errors: dict[str, str] = {}
    if not name.isidentifier() or len(name) > 40:
        errors["username"] = "Enter your name (letters, digits and underscores)."
    if not settings(request).password_ok(form.get("password", "")):
        errors["password"] = "Wrong password."  # noqa: S105 - a message, not a secret
    target = safe_next(form.get("next"), "/admin")
    if errors:
        values = {"username": name}
        return page(
            request,
            "admin_login.html",
            {"next": target, "values": values, "errors": errors},
            status=401,
        )
    request.session["admin"] = name
    return redirect(target)


@router.post("/logout")
def logout(request: Request, _form: Form) -> Response:
    """Sign the admin out (the form's token checked: another site cannot)."""
    request.session.pop("admin", None)
    return redirect("/admin/login")


# -- dashboard and reports -------------------------------------------------------------------


def _cell(value: Any, money: Callable[[Money], str], *, csv_cell: bool) -> str:
    if isinstance(value, Money):
        return money(value)
    if isinstance(value, Decimal):
        return str(value) if csv_cell else f"{value * 100:.2f}%"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict) or hasattr(value, "items"):
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def _table(
    name: str, rows: Iterable[Any], money: Callable[[Money], str], *, csv_cell: bool = False
) -> tuple[list[str], list[list[str]]]:
    """Header and cells of a report's rows (frozen attrs classes), field by field."""
    header = [f.name for f in attrs.fields(REPORT_ROWS[name])]
    cells = [
        [_cell(getattr(row, field), money, csv_cell=csv_cell) for field in header] for row in rows
    ]
    return header, cells


def _report_rows(system: PaymentSystem, name: str) -> list[Any]:
    if name == "revenue":
        return list(system.revenue_report(by="month"))
    if name == "status":
        return list(system.status_report().items)
    if name == "products":
        return list(system.product_report())
    if name == "aging":
        return list(system.aging_report())
    if name == "forecast":
        return list(system.forecast_report(months=12))
    if name == "recovery":
        return list(system.recovery_report())
    raise NotFoundError(f"no report {name!r}")


def _csv_money(value: Money) -> str:
    return f"{value.amount:.{value.exponent}f}"


@router.get("", response_class=HTMLResponse)
def dashboard(request: Request, system: System, _admin: Admin) -> Response:
    """Figures per currency, revenue over time, and links to every report."""
    stats = system.stats()
    revenue = system.revenue_report(by="month")
    currencies = sorted({r.currency for r in revenue} | set(stats.collected))

    def chart(currency: str, money: Callable[[Money], str]) -> Markup:
        svg = revenue_svg(
            revenue,
            currency,
            label=lambda row: row.period.strftime("%Y-%m"),
            money=money,
        )
        return Markup(svg)  # noqa: S704 - built by charts.revenue_svg, which escapes every text

    return page(
        request,
        "dashboard.html",
        {"stats": stats, "currencies": currencies, "chart": chart, "reports": REPORTS},
    )


@router.get("/reports/{name}", response_class=HTMLResponse)
def report(
    request: Request,
    system: System,
    _admin: Admin,
    name: str,
    format: str | None = None,
) -> Response:
    """One report as a table, or as CSV with ``?format=csv``."""
    if name not in REPORTS:
        raise NotFoundError(f"no report {name!r}")
    rows = _report_rows(system, name)
    if format == "csv":
        header, cells = _table(name, rows, _csv_money, csv_cell=True)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(cells)
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    extra = system.status_report().enrollments if name == "status" else None
    return page(
        request,
        "report.html",
        {"name": name, "title": REPORTS[name], "rows": rows, "table": _table, "extra": extra},
    )


# -- all schedules and the audit log ---------------------------------------------------------


@router.get("/schedules", response_class=HTMLResponse)
def schedules(
    request: Request,
    system: System,
    _admin: Admin,
    *,
    status: str | None = None,
    due_from: str | None = None,
    due_to: str | None = None,
    product_id: str | None = None,
    student: str | None = None,
) -> Response:
    """Every schedule item, filtered by status, due range, product and student."""
    errors: dict[str, str] = {}
    statuses = [s.value for s in ItemStatus]
    if status and status not in statuses:
        errors["status"] = "Unknown status."
    start = date_param(due_from, "due_from", errors)
    end = date_param(due_to, "due_to", errors)
    if start and end and start > end:
        errors["due_to"] = "The end of the range is before its start."
    products = {p.id: p for p in system.list_products()}
    if product_id and product_id not in products:
        errors["product_id"] = "Unknown product."
    items: list[ScheduleItem] = []
    if not errors:
        items = system.list_schedule_items(
            status=status or None,
            due_from=start,
            due_to=end,
            product_id=product_id or None,
            user_id=student or None,
        )
    enrollments = {e.id: e for e in system.list_enrollments()}
    return page(
        request,
        "schedules.html",
        {
            "items": items,
            "errors": errors,
            "statuses": statuses,
            "products": products,
            "enrollments": enrollments,
            "values": {
                "status": status or "",
                "due_from": due_from or "",
                "due_to": due_to or "",
                "product_id": product_id or "",
                "student": student or "",
            },
        },
        status=422 if errors else 200,
    )


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, system: System, _admin: Admin) -> Response:
    """The latest audit entries and whether the hash chain verifies."""
    entries = system.audit_log()[-200:]
    entries.reverse()
    return page(
        request, "audit.html", {"entries": entries, "verification": system.verify_audit_chain()}
    )
