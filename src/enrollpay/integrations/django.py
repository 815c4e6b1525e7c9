"""Django wiring: a system on Django's database settings and a webhook view.

In ``urls.py``::

    from django.urls import include, path
    from enrollpay.integrations.django import api_urls, plan_change_urls, stripe_webhook_view

    urlpatterns = [
        path("api/webhooks/stripe", stripe_webhook_view),
        path("api/", include(api_urls())),  # GET api/plans, api/payers/<id>, ...
        path("staff/api/", include(plan_change_urls(decorator=staff_member_required))),
    ]

:func:`api_urls` serves the JSON API FastAPI's ``api_router`` serves
(plans, payment details, receipts, payers, seats) and
:func:`plan_change_urls` the staff's plan changes, from the same route
table (:mod:`enrollpay.integrations.routes`), with the same statuses and
bodies.

and in your views, ``get_system()`` returns the process's
:class:`~enrollpay.PaymentSystem`. It is built on first use from
``settings.DATABASES`` (the ``sqlite3`` and ``postgresql`` engines; the
payment tables are all prefixed ``enrollpay_``) and an optional
``ENROLLPAY`` dict setting:

``DATABASE``
    The alias in ``DATABASES`` to use (default ``"default"``).
``DATABASE_URL``
    A SQLAlchemy URL that overrides ``DATABASES`` altogether.
``STRIPE_SECRET_KEY``, ``STRIPE_WEBHOOK_SECRET``
    The Stripe keys; when absent, the environment variables of the same
    names. Neither set: no gateway, manual payments only.
``TIMEZONE``
    The business time zone (default UTC; ``TIME_ZONE`` is not used, because
    Django's global default for it is America/Chicago).
``EVENT_HANDLERS``, ``WEBHOOKS``
    What the outbox's events go to besides signals: see
    :mod:`enrollpay.integrations.djangoapp.wiring`.

The store opens its own SQLAlchemy connection pool on the same database.
SQLite databases are migrated on first use; on PostgreSQL, run
``enrollpay.storage.sql.migrate(url)`` as a deployment step, next to
``manage.py migrate``. Needs the ``django`` and ``sql`` extras.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from pathlib import PurePath
from typing import Any, Final, cast

from django.conf import settings as django_settings
from django.core.signals import setting_changed
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.urls import URLPattern, path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from enrollpay.errors import InvalidInputError
from enrollpay.integrations import (
    DATABASE_URL_VAR,
    STRIPE_SECRET_KEY_VAR,
    STRIPE_WEBHOOK_SECRET_VAR,
    TIMEZONE_VAR,
    WEBHOOK_TOO_LARGE,
    WebhookResponse,
    body_too_large,
    system_from_env,
    webhook_response,
)
from enrollpay.integrations.routes import (
    API_ROUTES,
    PLAN_CHANGE_ROUTES,
    ROUTES_BY_NAME,
    Route,
    django_path,
    serve,
)
from enrollpay.service.system import PaymentSystem

__all__ = [
    "SETTING",
    "api_urls",
    "database_url",
    "get_system",
    "make_api_views",
    "make_webhook_view",
    "payment_details_view",
    "plan_change_urls",
    "plans_view",
    "reset_system",
    "settings_env",
    "stripe_webhook_view",
    "system_from_settings",
]

#: The name of the optional dict setting.
SETTING: Final = "ENROLLPAY"
_SQLITE_ENGINES: Final = frozenset({"django.db.backends.sqlite3"})
_POSTGRES_ENGINES: Final = frozenset(
    {"django.db.backends.postgresql", "django.contrib.gis.db.backends.postgis"}
)
# Django passes OPTIONS to the driver as connection parameters; these are the
# libpq ones that mean the same in a URL. Django-only keys (pool,
# isolation_level, server_side_binding, ...) have no URL form and are left out.
_LIBPQ_OPTIONS: Final = frozenset(
    {
        "application_name",
        "connect_timeout",
        "gssencmode",
        "keepalives",
        "keepalives_idle",
        "options",
        "passfile",
        "service",
        "sslcert",
        "sslcrl",
        "sslkey",
        "sslmode",
        "sslrootcert",
        "target_session_attrs",
    }
)
_SETTING_KEYS: Final = {
    "DATABASE": None,
    "DATABASE_URL": None,
    "STRIPE_SECRET_KEY": STRIPE_SECRET_KEY_VAR,
    "STRIPE_WEBHOOK_SECRET": STRIPE_WEBHOOK_SECRET_VAR,
    "TIMEZONE": TIMEZONE_VAR,
    # Read by enrollpay.integrations.djangoapp (the outbox's dispatch), not by the system.
    "EVENT_HANDLERS": None,
    "WEBHOOKS": None,
}

View = Callable[[HttpRequest], HttpResponse]


def database_url(database: Mapping[str, Any]) -> str:
    """The SQLAlchemy URL of one ``DATABASES`` entry (SQLite or PostgreSQL).

    An in-memory SQLite entry gives ``sqlite://``: a separate in-memory
    database, since SQLite's memory databases are private to a connection.
    """
    engine = str(database.get("ENGINE", ""))
    name = database.get("NAME") or ""
    if isinstance(name, PurePath):
        name = str(name)
    if engine in _SQLITE_ENGINES:
        if name in ("", ":memory:") or "mode=memory" in name:
            return "sqlite://"
        if name.startswith("file:"):
            return f"sqlite:///{name}{'&' if '?' in name else '?'}uri=true"
        return f"sqlite:///{name}"
    if engine in _POSTGRES_ENGINES:
        # Imported here: SQLAlchemy is an optional extra.
        import sqlalchemy as sa  # noqa: PLC0415

        options = database.get("OPTIONS") or {}
        query = {k: str(v) for k, v in options.items() if k in _LIBPQ_OPTIONS}
        host = str(database.get("HOST") or "") or None
        if host is not None and host.startswith("/"):
            query["host"] = host  # a Unix socket directory
            host = None
        port = str(database.get("PORT") or "")
        return sa.URL.create(
            "postgresql+psycopg",
            username=database.get("USER") or None,
            password=database.get("PASSWORD") or None,
            host=host,
            port=int(port) if port else None,
            database=name or None,
            query=query,
        ).render_as_string(hide_password=False)
    raise InvalidInputError(
        f"enrollpay stores payments in SQLite or PostgreSQL; database engine {engine!r} "
        f"is neither (set {SETTING}['DATABASE_URL'] to another database)"
    )


def settings_env(settings: Any = None, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The settings of :func:`enrollpay.integrations.system_from_env`, from Django's."""
    chosen = django_settings if settings is None else settings
    conf: Mapping[str, Any] = getattr(chosen, SETTING, None) or {}
    unknown = sorted(set(conf) - set(_SETTING_KEYS))
    if unknown:
        raise InvalidInputError(f"unknown {SETTING} setting(s): {', '.join(unknown)}")
    url = conf.get("DATABASE_URL")
    if not url:
        alias = conf.get("DATABASE", "default")
        databases: Mapping[str, Mapping[str, Any]] = chosen.DATABASES
        if alias not in databases:
            raise InvalidInputError(f"{SETTING}['DATABASE'] names no database: {alias!r}")
        url = database_url(databases[alias])
    env = {DATABASE_URL_VAR: str(url)}
    for key, var in _SETTING_KEYS.items():
        if var is not None:
            value = conf.get(key) or environ.get(var)
            if value:
                env[var] = str(value)
    return env


def system_from_settings(
    settings: Any = None, environ: Mapping[str, str] = os.environ
) -> PaymentSystem:
    """A new system configured from Django's settings (then the environment)."""
    return system_from_env(settings_env(settings, environ))


# Django's settings are process-wide, so the system built from them is too:
# one per process, built on first use (not at import, when settings may not
# be configured yet), and rebuilt if a test overrides the settings it reads.
_lock = threading.Lock()
_systems: dict[str, PaymentSystem] = {}


def get_system() -> PaymentSystem:
    """The process's system, built from the settings on first use."""
    with _lock:
        system = _systems.get("default")
        if system is None:
            system = _systems["default"] = system_from_settings()
        return system


def reset_system() -> None:
    """Forget the process's system (closing its store); the next use rebuilds it."""
    with _lock:
        system = _systems.pop("default", None)
    close = getattr(system.store, "close", None) if system is not None else None
    if callable(close):
        close()


def _on_setting_changed(*, setting: str, **_: Any) -> None:
    if setting in (SETTING, "DATABASES"):
        reset_system()


setting_changed.connect(_on_setting_changed, dispatch_uid="enrollpay.integrations.django")


def _json(answer: WebhookResponse) -> HttpResponse:
    return JsonResponse(dict(answer.body), status=answer.status)


def make_webhook_view(system: PaymentSystem | Callable[[], PaymentSystem] = get_system) -> View:
    """A webhook view for ``system`` (or a callable giving it; default :func:`get_system`).

    The view is CSRF-exempt (the signature authenticates the sender) and
    answers 405 to anything but POST.
    """

    def view(request: HttpRequest) -> HttpResponse:
        if body_too_large(request.headers.get("Content-Length")):
            return _json(WEBHOOK_TOO_LARGE)
        # request.body is the raw bytes, never parsed: the signature covers them exactly.
        return _json(webhook_response(system, request.body, dict(request.headers.items())))

    # Django's decorators are untyped; applied as calls, their result is cast back.
    return cast("View", csrf_exempt(require_POST(view)))


#: The webhook view on :func:`get_system`.
stripe_webhook_view: View = make_webhook_view()


DetailsView = Callable[[HttpRequest, str], HttpResponse]
SystemSource = PaymentSystem | Callable[[], PaymentSystem]
RouteView = Callable[..., HttpResponse]
#: What wraps each API view (``login_required``, ``staff_member_required``, ...).
Decorator = Callable[[RouteView], RouteView]


def _resolve(system: SystemSource) -> PaymentSystem:
    return system if isinstance(system, PaymentSystem) else system()


def _respond(
    request: HttpRequest, route: Route, system: SystemSource, parameters: Mapping[str, str]
) -> HttpResponse:
    raw = request.body if route.method == "POST" else b""
    answer = serve(route, _resolve(system), parameters, request.GET.dict(), raw)
    return HttpResponse(
        answer.body,
        status=answer.status,
        content_type=answer.content_type,
        headers=dict(answer.headers),
    )


def _path_view(routes: Mapping[str, Route], system: SystemSource) -> RouteView:
    """One view for the routes of one path, by method (405 for any other method)."""

    def view(request: HttpRequest, **parameters: str) -> HttpResponse:
        route = routes.get(request.method or "")
        if route is None:
            return HttpResponseNotAllowed(sorted(routes))
        return _respond(request, route, system, parameters)

    return view


def _urls(
    routes: tuple[Route, ...], system: SystemSource, decorator: Decorator | None
) -> list[URLPattern]:
    by_path: dict[str, dict[str, Route]] = {}
    for route in routes:
        by_path.setdefault(route.path, {})[route.method] = route
    patterns = []
    for template, methods in by_path.items():
        view = _path_view(methods, system)
        if decorator is not None:
            view = decorator(view)
        name = next(iter(methods.values())).name  # the first route's, for reverse()
        patterns.append(path(django_path(template), view, name=name))
    return patterns


def api_urls(
    system: SystemSource = get_system, *, decorator: Decorator | None = None
) -> list[URLPattern]:
    """URL patterns for the JSON API of :data:`~enrollpay.integrations.routes.API_ROUTES`.

    ``include()`` them under a prefix: ``path("api/", include(api_urls()))``
    serves ``GET api/plans``, ``api/enrollments/<id>/payment``,
    ``api/receipts/<id>`` (and ``/html``, ``/pdf``), ``api/payers``,
    ``api/payers/<id>``, ``api/payers/<id>/statement``,
    ``api/products/<id>/seats``, and ``POST api/products/<id>/waitlist``
    and ``api/seat-offers/<id>/accept``, as FastAPI's ``api_router`` does.
    Each pattern's name is its route's (``reverse("enrollpay_payer",
    kwargs={"payer_id": ...})``). Another method is 405. The views check no
    identity (``decorator``, e.g. ``login_required``, wraps every view), and
    the POST ones are not CSRF-exempt: the project's CSRF middleware applies
    to them as to its other views.
    """
    return _urls(API_ROUTES, system, decorator)


def plan_change_urls(
    system: SystemSource = get_system, *, decorator: Decorator | None = None
) -> list[URLPattern]:
    """URL patterns for the staff's plan changes (:data:`~.routes.PLAN_CHANGE_ROUTES`).

    ``POST <id>/plan-change/preview`` and ``POST <id>/plan-change`` under
    ``enrollments/``. They write: ``include()`` them only behind the staff's
    authentication (``decorator=staff_member_required``, or your own), and
    pass who asks as ``actor`` in the body.
    """
    return _urls(PLAN_CHANGE_ROUTES, system, decorator)


def make_api_views(system: SystemSource = get_system) -> tuple[View, DetailsView]:
    """The plans and payment-details views of the API, for ``system``.

    Returns ``(plans, payment_details)``: ``GET ?product=...`` and ``GET``
    with an ``enrollment_id`` URL argument. Both answer 405 to anything but
    GET and check no identity: wrap them as the project's other views are.
    :func:`api_urls` routes these and the rest of the API at once.
    """
    plans_route = ROUTES_BY_NAME["enrollpay_plans"]
    details_route = ROUTES_BY_NAME["enrollpay_payment_details"]

    def plans(request: HttpRequest) -> HttpResponse:
        return _respond(request, plans_route, system, {})

    def payment_details(request: HttpRequest, enrollment_id: str) -> HttpResponse:
        return _respond(request, details_route, system, {"enrollment_id": enrollment_id})

    # Django's decorators are untyped; applied as calls, their result is cast back.
    return cast("View", require_GET(plans)), cast("DetailsView", require_GET(payment_details))


#: ``GET /plans?product=...`` and ``GET /enrollments/<id>/payment`` on :func:`get_system`.
plans_view, payment_details_view = make_api_views()
