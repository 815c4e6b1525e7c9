"""Flask wiring: the system as an app extension, built from ``app.config``, and the webhook view.

>>> from flask import Flask
>>> from enrollpay.integrations.flask import init_app
>>> app = Flask("shop")
>>> app.config["ENROLLPAY_DATABASE_URL"] = "sqlite://"
>>> system = init_app(app, api_prefix="/api")  # POST /webhooks/stripe, GET /api/plans, ...

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
from collections.abc import Mapping
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
from enrollpay.integrations.api import ApiAnswer, payment_details_answer, plans_answer
from enrollpay.integrations.events import EventFunction, EventRegistry
from enrollpay.service.system import PaymentSystem

__all__ = [
    "EXTENSION_KEY",
    "SQLALCHEMY_URI_KEY",
    "EventRegistry",
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
    events: EventFunction | None = None,
) -> PaymentSystem:
    """Attach a system to ``app`` (built from its config when not given).

    Routes ``POST {webhook_path}`` to :func:`stripe_webhook_view` unless
    ``webhook_path`` is None (then route it yourself, e.g. in a blueprint).
    With ``api_prefix`` (``""`` for the root) also routes the read-only API
    of :mod:`enrollpay.integrations.api`: ``GET {api_prefix}/plans`` and
    ``GET {api_prefix}/enrollments/<id>/payment``. They check no identity;
    guard them as the app's other views are guarded.

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
        app.add_url_rule(f"{api_prefix}/plans", endpoint="enrollpay_plans",
                         view_func=plans_view, methods=["GET"])  # fmt: skip
        app.add_url_rule(f"{api_prefix}/enrollments/<enrollment_id>/payment",
                         endpoint="enrollpay_payment_details", view_func=payment_details_view,
                         methods=["GET"])  # fmt: skip
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


def plans_view() -> tuple[Response, int]:
    """``GET /plans?product=...``: the plans a checkout may offer, with their schedules."""
    return _answer(plans_answer(get_system(), request.args.to_dict()))


def payment_details_view(enrollment_id: str) -> tuple[Response, int]:
    """``GET /enrollments/<enrollment_id>/payment``: schedule, balances, access, paid-through."""
    return _answer(payment_details_answer(get_system(), enrollment_id))


def _answer(answer: ApiAnswer) -> tuple[Response, int]:
    return jsonify(dict(answer.body)), answer.status


def _add_dispatch_command(app: Flask, events: EventFunction) -> None:
    # Imported here: click comes with Flask, but only this command needs it.
    import click  # noqa: PLC0415

    @app.cli.command("enrollpay-dispatch")
    @click.option("--limit", type=click.IntRange(min=0), default=None, help="at most this many")
    def dispatch_command(limit: int | None) -> None:
        """Hand enrollpay's pending events to the app's event handlers, in order."""
        delivered = get_system(app).dispatch_events(events, limit=limit)
        click.echo(f"enrollpay: {delivered} event(s) delivered")
