"""Admin pages: sign in, dashboard and reports, all schedules, one enrollment and its actions.

Every page needs a signed-in admin (else a redirect to ``/admin/login``);
the admin's name is the ``actor`` of every action, so each lands in the
audit log as ``admin:<name>``. Every action is a form with a confirm
checkbox, validated on the server; errors are shown next to their field.
The cancel form shows the refund quote line by line before confirming.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, cast

import attrs
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from enrollpay import Money, PaymentSystem
from enrollpay.domain.lifecycle import ItemStatus
from enrollpay.domain.plans import describe_plan
from enrollpay.domain.records import ManualMethod, ScheduleItem
from enrollpay.errors import (
    AmountPrecisionError,
    EnrollpayError,
    InvalidInputError,
    NotFoundError,
    OverpaymentError,
    RefundExceedsPaidError,
    ScheduleItemNotFoundError,
)
from enrollpay.integrations.fastapi import get_system
from enrollpay.reports import (
    AgingRow,
    ForecastRow,
    ItemStatusRow,
    ProductRow,
    RecoveryRow,
    RevenueRow,
)

from .charts import revenue_svg
from .web import (
    flash,
    page,
    read_form,
    redirect,
    require_admin,
    safe_next,
    settings,
)

__all__ = ["REPORTS", "router"]

System = Annotated[PaymentSystem, Depends(get_system)]
Admin = Annotated[str, Depends(require_admin)]
Form = Annotated[dict[str, str], Depends(read_form)]

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
MANUAL_METHODS = {
    "bank_transfer": "Bank transfer",
    "cash": "Cash",
    "check": "Check",
    "other": "Other",
}
OPEN = {
    ItemStatus.SCHEDULED,
    ItemStatus.FAILED,
    ItemStatus.REQUIRES_ACTION,
    ItemStatus.REQUIRES_PAYMENT_METHOD,
    ItemStatus.DEFAULTED,
    ItemStatus.PAUSED,
    ItemStatus.PROCESSING,
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
def logout(request: Request) -> Response:
    """Sign the admin out."""
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


# -- all schedules ----------------------------------------------------------------------------


def _date_param(value: str | None, name: str, errors: dict[str, str]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors[name] = "Use a date like 2027-04-15."
        return None


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
    start = _date_param(due_from, "due_from", errors)
    end = _date_param(due_to, "due_to", errors)
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


# -- one enrollment --------------------------------------------------------------------------


@router.get("/enrollments/{enrollment_id}", response_class=HTMLResponse)
def enrollment_page(
    request: Request, system: System, _admin: Admin, enrollment_id: str
) -> Response:
    """The enrollment with its schedule, money, audit trail and the actions on it."""
    details = system.payment_details(enrollment_id)
    audit = system.audit_log(entity_type="enrollment", entity_id=enrollment_id)
    for item in details.items:
        audit += system.audit_log(entity_type="schedule_item", entity_id=item.id)
    audit.sort(key=lambda entry: entry.seq)
    return page(
        request,
        "enrollment.html",
        {
            "d": details,
            "plan": describe_plan(details.enrollment.plan),
            "audit": audit,
            "open": {i.id for i in details.items if i.status in OPEN},
        },
    )


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, system: System, _admin: Admin) -> Response:
    """The latest audit entries and whether the hash chain verifies."""
    entries = system.audit_log()[-200:]
    entries.reverse()
    return page(
        request, "audit.html", {"entries": entries, "verification": system.verify_audit_chain()}
    )


# -- actions ---------------------------------------------------------------------------------


@attrs.frozen
class Field:
    """One input of an action form."""

    name: str
    label: str
    kind: str = "text"  # text | date | select | textarea
    options: tuple[tuple[str, str], ...] = ()
    hint: str = ""


ITEM_ACTIONS: dict[str, tuple[str, tuple[Field, ...]]] = {
    "record-payment": (
        "Record a manual payment",
        (
            Field("method", "Method", "select", tuple(MANUAL_METHODS.items())),
            Field("reference", "Transaction reference", hint="e.g. TXN-12345"),
            Field("amount", "Amount", hint="blank: everything outstanding"),
            Field("notes", "Notes", "textarea"),
        ),
    ),
    "reschedule": ("Reschedule", (Field("due_date", "New due date", "date"),)),
    "waive": ("Waive (forgive) this payment", (Field("reason", "Reason"),)),
}
ENROLLMENT_ACTIONS: dict[str, tuple[str, tuple[Field, ...]]] = {
    "pause": ("Pause collection", (Field("reason", "Reason"),)),
    "resume": ("Resume collection", ()),
    "cancel": (
        "Cancel the enrollment",
        (
            Field("reason", "Reason"),
            Field("refund_amount", "Refund amount", hint="blank: the quoted refund"),
        ),
    ),
}


def _item(system: PaymentSystem, item_id: str) -> ScheduleItem:
    # The facade has no get_schedule_item(); read it through the store port (as routes.py does).
    with system.store.transaction() as tx:
        item = tx.get_item(item_id)
    if item is None:
        raise ScheduleItemNotFoundError(item_id)
    return item


def _amount(text: str, currency: str, field: str, errors: dict[str, str]) -> Money | None:
    if not text:
        return None
    try:
        value = Money.of(text, currency)
    except AmountPrecisionError:
        errors[field] = f"Too many decimals for {currency}."
        return None
    except (InvalidInputError, ArithmeticError, ValueError):
        errors[field] = "Enter an amount like 80.00."
        return None
    if value.minor <= 0:
        errors[field] = "The amount must be more than zero."
        return None
    return value


def _library_error(exc: EnrollpayError, errors: dict[str, str], fields: dict[type, str]) -> None:
    for kind, field in fields.items():
        if isinstance(exc, kind):
            errors[field] = str(exc)
            return
    errors["form"] = str(exc)


def _action_page(
    request: Request,
    *,
    title: str,
    fields: tuple[Field, ...],
    action: str,
    back: str,
    subject: str,
    values: dict[str, str],
    errors: dict[str, str],
    quote: Any = None,
    status: int = 200,
) -> Response:
    return page(
        request,
        "action.html",
        {
            "title": title,
            "fields": fields,
            "action": action,
            "back": back,
            "subject": subject,
            "values": values,
            "errors": errors,
            "quote": quote,
        },
        status=status,
    )


def _item_subject(system: PaymentSystem, item: ScheduleItem) -> str:
    enrollment = system.get_enrollment(item.enrollment_id)
    return (
        f"Payment {item.seq} of {enrollment.user_id}'s enrollment, due {item.due.isoformat()}, "
        f"status {item.status}, outstanding {item.outstanding.format('en_US')}"
    )


@router.get("/items/{item_id}/{action}", response_class=HTMLResponse)
def item_action_form(
    request: Request, system: System, _admin: Admin, item_id: str, action: str
) -> Response:
    """The form of an item action (record payment, reschedule, waive)."""
    if action not in ITEM_ACTIONS:
        raise NotFoundError(f"no action {action!r}")
    item = _item(system, item_id)
    title, fields = ITEM_ACTIONS[action]
    return _action_page(
        request,
        title=title,
        fields=fields,
        action=f"/admin/items/{item_id}/{action}",
        back=f"/admin/enrollments/{item.enrollment_id}",
        subject=_item_subject(system, item),
        values={"method": "bank_transfer"},
        errors={},
    )


def _record_payment(
    system: PaymentSystem, actor: str, item: ScheduleItem, form: dict[str, str]
) -> tuple[dict[str, str], str]:
    errors: dict[str, str] = {}
    method = form.get("method", "")
    if method not in MANUAL_METHODS:
        errors["method"] = "Choose a method."
    if method in ("bank_transfer", "check") and not form.get("reference"):
        errors["reference"] = "A bank transfer or check needs its reference."
    amount = _amount(form.get("amount", ""), item.amount.currency, "amount", errors)
    if errors:
        return errors, ""
    try:
        payment = system.record_manual_payment(
            item.id,
            method=cast("ManualMethod", method),
            reference=form.get("reference") or None,
            notes=form.get("notes") or None,
            actor=actor,
            amount=amount,
        )
    except EnrollpayError as exc:
        _library_error(exc, errors, {OverpaymentError: "amount"})
        return errors, ""
    return errors, f"Recorded {payment.amount.format('en_US')} ({MANUAL_METHODS[method]})."


def _reschedule(
    system: PaymentSystem, actor: str, item: ScheduleItem, form: dict[str, str]
) -> tuple[dict[str, str], str]:
    errors: dict[str, str] = {}
    new_due = _date_param(form.get("due_date"), "due_date", errors)
    if new_due is None:
        errors.setdefault("due_date", "Choose the new due date.")
        return errors, ""
    try:
        moved = system.reschedule(item.id, new_due, actor=actor)
    except EnrollpayError as exc:
        _library_error(exc, errors, {InvalidInputError: "due_date"})
        return errors, ""
    return errors, f"Payment {moved.seq} now due {moved.due.isoformat()}."


def _waive(
    system: PaymentSystem, actor: str, item: ScheduleItem, form: dict[str, str]
) -> tuple[dict[str, str], str]:
    errors: dict[str, str] = {}
    try:
        system.waive_item(item.id, actor=actor, reason=form.get("reason") or None)
    except EnrollpayError as exc:
        _library_error(exc, errors, {InvalidInputError: "reason"})
        return errors, ""
    return errors, f"Payment {item.seq} waived."


_ITEM_RUNNERS = {"record-payment": _record_payment, "reschedule": _reschedule, "waive": _waive}


def _run_item_action(
    system: PaymentSystem, actor: str, item: ScheduleItem, action: str, form: dict[str, str]
) -> tuple[dict[str, str], str]:
    """Validate and perform once confirmed; returns (errors by field, success message)."""
    if form.get("confirm") != "yes":
        return {"confirm": "Tick the box to confirm."}, ""
    return _ITEM_RUNNERS[action](system, actor, item, form)


@router.post("/items/{item_id}/{action}", response_class=HTMLResponse)
def item_action(
    request: Request, *, system: System, admin: Admin, form: Form, item_id: str, action: str
) -> Response:
    """Perform an item action once it validates and is confirmed."""
    if action not in ITEM_ACTIONS:
        raise NotFoundError(f"no action {action!r}")
    item = _item(system, item_id)
    errors, message = _run_item_action(system, admin, item, action, form)
    back = f"/admin/enrollments/{item.enrollment_id}"
    if not errors:
        flash(request, message)
        return redirect(back)
    title, fields = ITEM_ACTIONS[action]
    return _action_page(
        request,
        title=title,
        fields=fields,
        action=f"/admin/items/{item_id}/{action}",
        back=back,
        subject=_item_subject(system, item),
        values=form,
        errors=errors,
        status=422,
    )


def _enrollment_subject(system: PaymentSystem, enrollment_id: str) -> str:
    enrollment = system.get_enrollment(enrollment_id)
    product = system.get_product(enrollment.product_id)
    return f"{enrollment.user_id} in {product.name} ({enrollment.status})"


@router.get("/enrollments/{enrollment_id}/{action}", response_class=HTMLResponse)
def enrollment_action_form(
    request: Request, system: System, _admin: Admin, enrollment_id: str, action: str
) -> Response:
    """The form of an enrollment action; the cancel form shows the refund quote."""
    if action not in ENROLLMENT_ACTIONS:
        raise NotFoundError(f"no action {action!r}")
    title, fields = ENROLLMENT_ACTIONS[action]
    return _action_page(
        request,
        title=title,
        fields=fields,
        action=f"/admin/enrollments/{enrollment_id}/{action}",
        back=f"/admin/enrollments/{enrollment_id}",
        subject=_enrollment_subject(system, enrollment_id),
        values={},
        errors={},
        quote=system.quote_cancellation(enrollment_id) if action == "cancel" else None,
    )


def _run_enrollment_action(
    system: PaymentSystem, actor: str, enrollment_id: str, action: str, form: dict[str, str]
) -> tuple[dict[str, str], str]:
    errors: dict[str, str] = {}
    confirmed = form.get("confirm") == "yes"
    if not confirmed:
        errors["confirm"] = "Tick the box to confirm."
    reason = form.get("reason") or None
    if action == "cancel":
        if reason is None:
            errors["reason"] = "Say why the enrollment is cancelled."
        currency = system.get_enrollment(enrollment_id).price.currency
        refund = _amount(form.get("refund_amount", ""), currency, "refund_amount", errors)
        if errors:
            return errors, ""
        try:
            result = system.cancel_enrollment(
                enrollment_id, reason=reason or "", actor=actor, refund_amount=refund
            )
        except EnrollpayError as exc:
            _library_error(exc, errors, {RefundExceedsPaidError: "refund_amount"})
            return errors, ""
        return errors, f"Enrollment cancelled; refunded {result.refund_total.format('en_US')}."
    if errors:
        return errors, ""
    try:
        if action == "pause":
            system.pause(enrollment_id, actor=actor, reason=reason)
        else:
            system.resume(enrollment_id, actor=actor)
    except EnrollpayError as exc:
        _library_error(exc, errors, {})
        return errors, ""
    return errors, "Enrollment paused." if action == "pause" else "Enrollment resumed."


@router.post("/enrollments/{enrollment_id}/{action}", response_class=HTMLResponse)
def enrollment_action(
    request: Request,
    *,
    system: System,
    admin: Admin,
    form: Form,
    enrollment_id: str,
    action: str,
) -> Response:
    """Perform pause, resume or cancel once it validates and is confirmed."""
    if action not in ENROLLMENT_ACTIONS:
        raise NotFoundError(f"no action {action!r}")
    errors, message = _run_enrollment_action(system, admin, enrollment_id, action, form)
    back = f"/admin/enrollments/{enrollment_id}"
    if not errors:
        flash(request, message)
        return redirect(back)
    title, fields = ENROLLMENT_ACTIONS[action]
    return _action_page(
        request,
        title=title,
        fields=fields,
        action=f"/admin/enrollments/{enrollment_id}/{action}",
        back=back,
        subject=_enrollment_subject(system, enrollment_id),
        values=form,
        errors=errors,
        quote=system.quote_cancellation(enrollment_id) if action == "cancel" else None,
        status=422,
    )
