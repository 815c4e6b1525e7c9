"""Reading request bodies and query strings without ever making a float.

JSON numbers are parsed with ``parse_float=Decimal``: ``299.99`` in the body
becomes ``Decimal("299.99")``, exactly the digits the client sent, and
:meth:`enrollpay.Money.of` then refuses more decimals than the currency has.
A decimal string (``"299.99"``) is accepted too; ``NaN``/``Infinity``,
booleans and other types are refused. Unknown fields are refused, so a typo
such as ``refundAmount`` is an error rather than a silently default refund.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from fastapi import Request

__all__ = [
    "ApiError",
    "amount_field",
    "bool_field",
    "check_fields",
    "date_field",
    "int_param",
    "json_body",
    "optional_text",
    "parse_date",
    "text_field",
]


class ApiError(Exception):
    """A request the app refuses before it reaches the library."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _refuse_constant(name: str) -> Any:
    raise ApiError(400, "bad_json", f"{name} is not a valid amount or value")


async def json_body(request: Request) -> dict[str, Any]:
    """The body as a JSON object, numbers with a fraction as ``Decimal``; empty means ``{}``."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw, parse_float=Decimal, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise ApiError(400, "bad_json", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "bad_json", "the body must be a JSON object")
    return data


def check_fields(body: Mapping[str, Any], allowed: Collection[str]) -> None:
    """Refuse fields the endpoint does not know."""
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ApiError(422, "invalid_input", f"unknown field(s): {', '.join(unknown)}")


def optional_text(body: Mapping[str, Any], name: str) -> str | None:
    """A string field, or ``None`` when absent or null."""
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise ApiError(422, "invalid_input", f"{name} must be a string")
    return value


def text_field(body: Mapping[str, Any], name: str) -> str:
    """A required string field."""
    value = optional_text(body, name)
    if value is None:
        raise ApiError(422, "invalid_input", f"{name} is required")
    return value


def amount_field(body: Mapping[str, Any], name: str) -> Decimal | int | str | None:
    """An amount in major units: a JSON number (read as Decimal) or a decimal string."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, str)):
        raise ApiError(422, "invalid_input", f"{name} must be a number or a decimal string")
    return value


def bool_field(body: Mapping[str, Any], name: str, *, default: bool) -> bool:
    """A boolean field with a default."""
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise ApiError(422, "invalid_input", f"{name} must be true or false")
    return value


def parse_date(value: str, name: str) -> date:
    """An ISO date (``2027-04-15``)."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ApiError(422, "invalid_input", f"{name} must be a date (YYYY-MM-DD)") from None


def date_field(body: Mapping[str, Any], name: str) -> date:
    """A required ISO date field."""
    return parse_date(text_field(body, name), name)


def int_param(value: str | None, name: str, *, default: int) -> int:
    """A whole-number query parameter."""
    if value is None:
        return default
    if not value.isdigit():
        raise ApiError(422, "invalid_input", f"{name} must be a whole number")
    return int(value)
