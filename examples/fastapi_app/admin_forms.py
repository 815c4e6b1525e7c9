"""What the admin pages' forms share: the dependencies, the form fields, the error display.

Every admin action is a form with a confirm checkbox, validated on the
server; errors are shown next to their field (``errors[field]``) or above
the form (``errors["form"]``). A library error is shown as its message,
next to the field it is about when the action names one.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import attrs
from fastapi import Depends, Request
from fastapi.responses import Response

from enrollpay import Money, PaymentSystem
from enrollpay.errors import AmountPrecisionError, EnrollpayError, InvalidInputError
from enrollpay.integrations.fastapi import get_system

from .web import page, read_form, require_admin

__all__ = [
    "Admin",
    "Field",
    "Form",
    "System",
    "action_page",
    "date_param",
    "parse_amount",
    "show_library_error",
]

System = Annotated[PaymentSystem, Depends(get_system)]
Admin = Annotated[str, Depends(require_admin)]
Form = Annotated[dict[str, str], Depends(read_form)]


@attrs.frozen
class Field:
    """One input of an action form."""

    name: str
    label: str
    kind: str = "text"  # text | date | select | textarea
    options: tuple[tuple[str, str], ...] = ()
    hint: str = ""


def date_param(value: str | None, name: str, errors: dict[str, str]) -> date | None:
    """``value`` as a date (None when blank); a malformed one is an error on ``name``."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors[name] = "Use a date like 2027-04-15."
        return None


def parse_amount(text: str, currency: str, field: str, errors: dict[str, str]) -> Money | None:
    """``text`` as a positive amount of ``currency`` (None when blank), else an error."""
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


def show_library_error(
    exc: EnrollpayError, errors: dict[str, str], fields: dict[type, str]
) -> None:
    """Put ``exc``'s message next to the field its type is about, else above the form."""
    for kind, field in fields.items():
        if isinstance(exc, kind):
            errors[field] = str(exc)
            return
    errors["form"] = str(exc)


def action_page(
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
    """The page of an action form (``action.html``), the refund ``quote`` above it if any."""
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
