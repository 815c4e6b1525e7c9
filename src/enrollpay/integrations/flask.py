"""Flask wiring: the system as an app extension, built from ``app.config``, and the webhook view.

>>> from flask import Flask
>>> from enrollpay.integrations.flask import init_app
>>> app = Flask("shop")
>>> app.config["ENROLLPAY_DATABASE_URL"] = "sqlite://"
>>> system = init_app(app, api_prefix="/api")  # POST /webhooks/stripe, GET /api/plans, ...

With ``api_prefix`` the app serves the whole JSON API FastAPI's
``api_router`` serves (plans, payment details, receipts, payers, seats),
from the same route table (:mod:`enrollpay.integrations.routes`), with the
same statuses and bodies; ``plan_change_prefix`` adds the staff's plan
changes.

Settings are read from ``app.config`` first, then from the environment
(the names of :mod:`enrollpay.integrations`). The database URL falls back
to Flask-SQLAlchemy's ``SQLALCHEMY_DATABASE_URI``, so the payment tables
live in the application's own database (they are all prefixed
``enrollpay_``). An app that already has a SQLAlchemy engine can pass
``init_app(app, PaymentSystem(store=SqlStore(engine), ...))`` to share its
pool. Needs the ``flask`` extra.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, Final

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from enrollpay.integrations import (
    DATABASE_URL_VAR,
    MAX_WEBHOOK_BODY,
    STRIPE_SECRET_KEY_VAR,
    STRIPE_WEBHOOK_SECRET_VAR,
    TIMEZONE_VAR,
    WEBHOOK_TOO_LARGE,
    WebhookResponse,
    webhook_response,
)
from enrollpay.integrations import system_from_env as _system_from_env
from enrollpay.integrations.events import EventFunction, EventRegistry
from enrollpay.integrations.routes import (
    API_ROUTES,
    PLAN_CHANGE_ROUTES,
    ROUTES_BY_NAME,
    Route,
    flask_path,
    serve,
)
from enrollpay.service.system import PaymentSystem

__all__ = [
    "EXTENSION_KEY",
    "SQLALCHEMY_URI_KEY",
    "EventRegistry",
    "api_view",
    "get_system",
    "init_app",
    "payment_details_view",
    "plans_view",
    "stripe_webhook_view",
    "system_from_config",
]

#: The key of ``app.extensions`` that holds the system.
EXTENSION_KEY: Final = "enrollpay"
#: Flask-SQLAlchemy's setting, used when ``ENROLLPAY_DATABASE_URL`` is not set.
SQLALCHEMY_URI_KEY: Final = "SQLALCHEMY_DATABASE_URI"
_KEYS: Final = (DATABASE_URL_VAR, STRIPE_SECRET_KEY_VAR, STRIPE_WEBHOOK_SECRET_VAR, TIMEZONE_VAR)


def settings_from_config(
    config: Mapping[str, Any], environ: Mapping[str, str] = os.environ
) -> dict[str, str]:
    """The enrollpay settings from a Flask config, falling back to ``environ``."""
    settings = {key: str(environ[key]) for key in _KEYS if environ.get(key)}
    settings.update({key: str(config[key]) for key in _KEYS if config.get(key)})
    if DATABASE_URL_VAR not in settings and config.get(SQLALCHEMY_URI_KEY):
        settings[DATABASE_URL_VAR] = str(config[SQLALCHEMY_URI_KEY])
    return settings


def system_from_config(
    config: Mapping[str, Any], environ: Mapping[str, str] = os.environ
) -> PaymentSystem:
    """A system configured from ``app.config`` (then the environment)."""
    return _system_from_env(settings_from_config(config, environ))


def init_app(
    app: Flask,
    system: PaymentSystem | None = None,
    *,
    webhook_path: str | None = "/webhooks/stripe",
    api_prefix: str | None = None,
    plan_change_prefix: str | None = None,
    events: EventFunction | None = None,
) -> PaymentSystem:
    """Attach a system to ``app`` (built from its config when not given).

    Routes ``POST {webhook_path}`` to :func:`stripe_webhook_view` unless
    ``webhook_path`` is None (then route it yourself, e.g. in a blueprint).
    With ``api_prefix`` (``""`` for the root) also routes the JSON API of
    :data:`~enrollpay.integrations.routes.API_ROUTES`, the routes FastAPI's
    :func:`~enrollpay.integrations.fastapi.api_router` serves:
    ``GET {api_prefix}/plans``, ``/enrollments/<id>/payment``,
    ``/receipts/<id>`` (and ``/html``, ``/pdf``), ``/payers``,
    ``/payers/<id>``, ``/payers/<id>/statement``, ``/products/<id>/seats``,
    and ``POST {api_prefix}/products/<id>/waitlist`` and
    ``/seat-offers/<id>/accept``. With ``plan_change_prefix`` also the
    staff's ``POST {plan_change_prefix}/enrollments/<id>/plan-change`` and
    ``.../plan-change/preview`` (they write: give them a prefix only the
    staff's authentication reaches). The routes check no identity; guard
    them as the app's other views are guarded. Each route's endpoint is
    its :class:`~enrollpay.integrations.routes.Route` name
    (``url_for("enrollpay_payer", payer_id=...)``).

    With ``events`` (an :class:`~enrollpay.integrations.events.EventRegistry`
    or any handler), adds the command ``flask enrollpay-dispatch`` that
    dispatches the outbox to it: run it from cron or a worker.
    """
    chosen = system if system is not None else system_from_config(app.config)
    if events is not None:
        _add_dispatch_command(app, events)
    app.extensions[EXTENSION_KEY] = chosen
    if webhook_path is not None:
        app.add_url_rule(
            webhook_path,
            endpoint="enrollpay_stripe_webhook",
            view_func=stripe_webhook_view,
            methods=["POST"],
        )
    if api_prefix is not None:
        _add_routes(app, API_ROUTES, api_prefix)
    if plan_change_prefix is not None:
        _add_routes(app, PLAN_CHANGE_ROUTES, plan_change_prefix)
    return chosen


def get_system(app: Flask | None = None) -> PaymentSystem:
    """The system attached to ``app`` (default: the current app)."""
    target = app if app is not None else current_app
    system = target.extensions.get(EXTENSION_KEY)
    if not isinstance(system, PaymentSystem):
        raise RuntimeError("no PaymentSystem attached: call init_app(app) first")
    return system


def stripe_webhook_view() -> tuple[Response, int]:
    """Verify, deduplicate and apply a gateway webhook (route it for POST only).

    Flask has no CSRF protection of its own; with Flask-WTF's
    ``CSRFProtect``, exempt this view: the signature authenticates it.
    """
    # Werkzeug refuses a longer body before reading it.
    request.max_content_length = MAX_WEBHOOK_BODY
    try:
        # The raw bytes, never parsed as JSON first: the signature covers them exactly.
        body = request.get_data(cache=False)
    except RequestEntityTooLarge:
        return _json(WEBHOOK_TOO_LARGE)
    return _json(webhook_response(get_system, body, dict(request.headers.items())))


def _json(answer: WebhookResponse) -> tuple[Response, int]:
    return jsonify(dict(answer.body)), answer.status


def api_view(route: Route, system: PaymentSystem | None = None) -> Callable[..., Response]:
    """A view serving ``route`` on ``system`` (default: the current app's).

    Route it yourself (e.g. in a blueprint) at ``flask_path(route.path)``
    for ``route.method``; its keyword arguments are the path parameters.
    """

    def view(**parameters: str) -> Response:
        target = system if system is not None else get_system()
        raw = request.get_data(cache=False) if route.method == "POST" else b""
        # The last of a repeated query parameter wins, as in FastAPI and Django.
        query = dict(request.args.items(multi=True))
        answer = serve(route, target, parameters, query, raw)
        return Response(
            answer.body,
            status=answer.status,
            headers=dict(answer.headers),
            content_type=answer.content_type,
        )

    view.__name__ = route.name
    view.__doc__ = f"``{route.method} {route.path}``: {route.summary}"
    return view


def _add_routes(app: Flask, routes: tuple[Route, ...], prefix: str) -> None:
    for route in routes:
        app.add_url_rule(
            prefix + flask_path(route.path),
            endpoint=route.name,
            view_func=api_view(route),
            methods=[route.method],
        )


#: ``GET /plans?product=...``: the plans a checkout may offer, with their schedules.
plans_view = api_view(ROUTES_BY_NAME["enrollpay_plans"])
#: ``GET /enrollments/<enrollment_id>/payment``: schedule, balances, access, paid-through.
payment_details_view = api_view(ROUTES_BY_NAME["enrollpay_payment_details"])


def _add_dispatch_command(app: Flask, events: EventFunction) -> None:
    # Imported here: click comes with Flask, but only this command needs it.
    import click  # noqa: PLC0415

    @app.cli.command("enrollpay-dispatch")
    @click.option("--limit", type=click.IntRange(min=0), default=None, help="at most this many")
    def dispatch_command(limit: int | None) -> None:
        """Hand enrollpay's pending events to the app's event handlers, in order."""
        delivered = get_system(app).dispatch_events(events, limit=limit)
        click.echo(f"enrollpay: {delivered} event(s) delivered")
