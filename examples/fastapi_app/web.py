"""Shared plumbing of the server-rendered pages: templates, sessions, forms, locale.

The pages are plain HTML from Jinja2 templates in ``templates/`` (inline
CSS, no scripts or fonts from elsewhere: they work offline). Forms are read
as ``application/x-www-form-urlencoded`` with the standard library, so the
example needs no multipart parser. Who is signed in lives in Starlette's
signed session cookie (``SessionMiddleware``, which uses itsdangerous):
``admin`` for the admin's name, ``student`` for the student id, ``csrf``
for the session's form token. Every POST form carries that token in a
hidden ``csrf`` field, and :func:`read_form` refuses a form without it
(:class:`FormTokenError`), before the page does anything: a form posted
from another site cannot sign anyone in or out, enroll, pay or move money.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from enrollpay import Money, PaymentSystem
from enrollpay.gateways.fake import FakeGateway
from enrollpay.integrations.fastapi import get_system

__all__ = [
    "CSRF_FIELD",
    "DEFAULT_LOCALE",
    "FormTokenError",
    "LoginRequiredError",
    "PageSettings",
    "fake_gateway",
    "flash",
    "form_token",
    "page",
    "read_form",
    "redirect",
    "request_locale",
    "require_admin",
    "require_student",
]

TEMPLATES = Path(__file__).resolve().parent / "templates"
#: The hidden field of every POST form, and the session key of its token.
CSRF_FIELD = "csrf"
DEFAULT_LOCALE = "en_US"
#: Where the app keeps its page settings on ``app.state``.
SETTINGS_KEY = "enrollpay_pages"

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(("html",)),
    trim_blocks=True,
    lstrip_blocks=True,
)


class PageSettings:
    """What the pages need besides the system: the demo admin password."""

    def __init__(self, *, admin_password: str) -> None:
        self._password = admin_password

    def password_ok(self, candidate: str) -> bool:
        """Compare in constant time (the demo password is still a secret)."""
        return hmac.compare_digest(candidate.encode(), self._password.encode())


class LoginRequiredError(Exception):
    """Raised by a page that needs a signed-in admin or student; answered with a redirect."""

    def __init__(self, login_url: str) -> None:
        super().__init__(login_url)
        self.login_url = login_url


def settings(request: Request) -> PageSettings:
    """The app's :class:`PageSettings`."""
    value = getattr(request.app.state, SETTINGS_KEY, None)
    assert isinstance(value, PageSettings)
    return value


def _next_param(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return quote(target, safe="")


def require_admin(request: Request) -> str:
    """The signed-in admin as an audit actor (``admin:<name>``), else a redirect to login."""
    name = request.session.get("admin")
    if not isinstance(name, str) or not name:
        raise LoginRequiredError(f"/admin/login?next={_next_param(request)}")
    return f"admin:{name}"


def require_student(request: Request) -> str:
    """The signed-in student id, else a redirect to the student sign-in page."""
    student = request.session.get("student")
    if not isinstance(student, str) or not student:
        raise LoginRequiredError(f"/login?next={_next_param(request)}")
    return student


def safe_next(value: str | None, default: str) -> str:
    """A local path to go back to (never another site)."""
    if value and value.startswith("/") and not value.startswith("//"):
        return value
    return default


class FormTokenError(Exception):
    """A POSTed form without this session's token: another site's form, or a lost session."""


def form_token(request: Request) -> str:
    """The session's form token, made on the first page that needs one."""
    token = request.session.get(CSRF_FIELD)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session[CSRF_FIELD] = token
    return token


async def read_form(request: Request) -> dict[str, str]:
    """The urlencoded body as ``{name: last value}`` (empty strings kept), token checked.

    The ``csrf`` field must equal the session's token (compared in constant
    time), else :class:`FormTokenError`; it is not among the fields returned.
    """
    raw = (await request.body()).decode("utf-8", errors="replace")
    parsed = parse_qs(raw, keep_blank_values=True, max_num_fields=100)
    form = {name: values[-1].strip() for name, values in parsed.items()}
    sent = form.pop(CSRF_FIELD, "")
    expected = request.session.get(CSRF_FIELD)
    if (
        not isinstance(expected, str)
        or not expected
        or not hmac.compare_digest(sent.encode(), expected.encode())
    ):
        raise FormTokenError
    return form


def request_locale(request: Request) -> str:
    """``?lang=`` if it names a locale babel knows, else the best Accept-Language entry."""
    candidates: list[str] = []
    lang = request.query_params.get("lang")
    if lang:
        candidates.append(lang)
    header = request.headers.get("accept-language", "")
    weighted: list[tuple[float, str]] = []
    for part in header.split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and tag != "*":
            weighted.append((quality, tag))
    candidates += [tag for _, tag in sorted(weighted, key=lambda pair: -pair[0])]
    for tag in candidates:
        try:
            locale = Locale.parse(tag.replace("-", "_"))
        except (ValueError, TypeError, UnknownLocaleError):
            continue
        return str(locale)
    return DEFAULT_LOCALE


def fake_gateway(system: PaymentSystem) -> FakeGateway | None:
    """The fake gateway when the app runs on it (the TEST-MODE card form), else None."""
    gateway = system.gateway
    return gateway if isinstance(gateway, FakeGateway) else None


def flash(request: Request, message: str) -> None:
    """A one-time message for the next page."""
    request.session["flash"] = message


def redirect(url: str) -> RedirectResponse:
    """303 See Other: a POST answered with a page to GET."""
    return RedirectResponse(url, status_code=303)


def page(
    request: Request, template: str, context: Mapping[str, Any], *, status: int = 200
) -> HTMLResponse:
    """Render ``template`` with helpers for money and dates in the request's locale."""
    locale = request_locale(request)

    def money(value: Money) -> str:
        return value.format(locale)

    def day(value: date | None) -> str:
        return "" if value is None else format_date(value, format="medium", locale=locale)

    def moment(value: datetime | None) -> str:
        return "" if value is None else format_datetime(value, format="short", locale=locale)

    message = request.session.pop("flash", None)
    html = _env.get_template(template).render(
        {
            **context,
            "request": request,
            "csrf_token": form_token(request),
            "locale": locale,
            "money": money,
            "day": day,
            "moment": moment,
            "flash": message,
            "admin": request.session.get("admin"),
            "student": request.session.get("student"),
        }
    )
    return HTMLResponse(html, status_code=status)


def system_of(request: Request) -> PaymentSystem:
    """The system attached to the app."""
    return get_system(request)
