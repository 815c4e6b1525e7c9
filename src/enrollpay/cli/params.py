"""Options and value parsers shared by the commands.

Amounts are read as text and turned into :class:`Money` with
``Money.of(text, currency)``, so a float never exists and an amount with
more decimals than its currency has is refused, not rounded.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

import click
from babel import Locale, UnknownLocaleError

from enrollpay.domain.money import Money
from enrollpay.errors import InvalidInputError

__all__ = [
    "currency_code",
    "date_option",
    "gateway_option",
    "locale_option",
    "money",
    "parse_date",
    "parse_locale",
    "url_option",
]

F = TypeVar("F", bound=Callable[..., Any])


def parse_date(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    """Click callback: a calendar date written ``YYYY-MM-DD`` (or nothing)."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (use YYYY-MM-DD)", ctx, param) from None


def parse_locale(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Click callback: a locale babel knows, normalised (``fr-ch`` -> ``fr_CH``)."""
    try:
        return str(Locale.parse(value.replace("-", "_")))
    except (ValueError, TypeError, UnknownLocaleError):
        raise click.BadParameter(
            f"unknown locale {value!r} (try en_US, de_DE, fr_FR, ja_JP)", ctx, param
        ) from None


def currency_code(value: str, option: str = "--currency") -> str:
    """An ISO 4217 code babel knows, upper-cased; else a usage error naming ``option``."""
    try:
        return Money.zero(value).currency
    except InvalidInputError as exc:
        raise click.BadParameter(str(exc), param_hint=f"'{option}'") from None


def money(value: str, currency: str, option: str) -> Money:
    """``Money.of(value, currency)``; a bad amount is a usage error naming ``option``."""
    try:
        return Money.of(value, currency)
    except InvalidInputError as exc:
        raise click.BadParameter(str(exc), param_hint=f"'{option}'") from None


def url_option(function: F) -> F:
    """``--url``: the database (also read from ``ENROLLPAY_DATABASE_URL``)."""
    return click.option(
        "--url",
        envvar="ENROLLPAY_DATABASE_URL",
        show_envvar=True,
        required=True,
        metavar="URL",
        help="Database URL: sqlite:///enrollpay.db or postgresql+psycopg://user:pw@host/db.",
    )(function)


def gateway_option(function: F) -> F:
    """``--gateway``: which payment gateway charges (also ``ENROLLPAY_GATEWAY``)."""
    return click.option(
        "--gateway",
        type=click.Choice(["fake", "stripe"]),
        envvar="ENROLLPAY_GATEWAY",
        show_envvar=True,
        default="stripe",
        show_default=True,
        help="stripe reads STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET; "
        "fake is the in-memory test gateway (every charge succeeds).",
    )(function)


def date_option(*names: str, required: bool = False, help_text: str) -> Callable[[F], F]:
    """An option holding a ``YYYY-MM-DD`` date."""
    return click.option(
        *names, metavar="YYYY-MM-DD", required=required, callback=parse_date, help=help_text
    )


def locale_option(function: F) -> F:
    """``--locale``: how amounts are written for people (babel)."""
    return click.option(
        "--locale",
        metavar="LOCALE",
        default="en_US",
        show_default=True,
        callback=parse_locale,
        help="How amounts are written in tables (a babel locale: en_US, de_DE, ja_JP, ...).",
    )(function)
