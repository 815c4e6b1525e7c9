"""``create_app``: a small Flask shop whose payments live in the app's own database.

The payment system is built by :func:`enrollpay.integrations.flask.init_app`
from ``app.config``: the database is Flask-SQLAlchemy's
``SQLALCHEMY_DATABASE_URI`` (enrollpay's tables are all prefixed
``enrollpay_``, so they sit beside the app's), the Stripe keys come from
the config or the environment. Run it (``pip install "enrollpay[flask,sql]"``)::

    flask --app examples.flask_app.app run
    flask --app examples.flask_app.app collect-due     # from cron, for the worker
    flask --app examples.flask_app.app enrollpay-dispatch   # from cron: events to the LMS

Routes: ``POST /enrollments`` ({product_id, user_id}),
``GET /enrollments/<id>/payment`` and ``POST /webhooks/stripe``; and under
``/api`` the library's JSON API (``GET /api/enrollments/<id>/payment``,
``/api/receipts/<id>/pdf``, ``/api/payers/<id>/statement``, the seats, ...:
the list is in ``docs/howto/frameworks.md``). Neither checks who asks: a real
shop puts its login in front.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click
from flask import Flask, Response, jsonify, request
from flask.cli import with_appcontext

from enrollpay import Money, PaymentSystem
from enrollpay.domain.events import DomainEvent
from enrollpay.errors import (
    DuplicateEnrollmentError,
    InvalidInputError,
    InvalidStateError,
    NotFoundError,
)
from enrollpay.integrations.flask import EventRegistry, get_system, init_app
from examples.lms import Lms, on_access_restored, on_access_suspended

__all__ = ["create_app"]

JsonAnswer = tuple[Response, int]


def _money(value: Money) -> dict[str, Any]:
    return {
        "amount": f"{value.amount:.{value.exponent}f}",
        "currency": value.currency,
        "minor": value.minor,
    }


def _error(status: int, code: str, message: str, **extra: Any) -> JsonAnswer:
    return jsonify({"error": code, "message": message, **extra}), status


def enroll() -> JsonAnswer:
    """Enroll a user in a product; the answer carries the client secret to pay with."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return _error(400, "bad_json", "the body must be a JSON object")
    product_id, user_id = data.get("product_id"), data.get("user_id")
    if not isinstance(product_id, str) or not isinstance(user_id, str):
        return _error(422, "invalid_input", "product_id and user_id are required strings")
    result = get_system().enroll(user_id=user_id, product_id=product_id)
    return jsonify(
        {
            "enrollment_id": result.enrollment_id,
            "status": str(result.enrollment.status),
            "schedules": [
                {"id": i.id, "due_date": i.due.isoformat(), "amount": _money(i.amount)}
                for i in result.schedule
            ],
            "stripe_client_secret": result.client_secret,
            "requires_immediate_payment": result.requires_immediate_payment,
            "setup_client_secret": result.setup_client_secret,
        }
    ), 201


def payment(enrollment_id: str) -> JsonAnswer:
    """What an enrollment has paid and still owes."""
    details = get_system().payment_details(enrollment_id)
    return jsonify(
        {
            "status": str(details.enrollment.status),
            "has_access": details.has_access,
            "paid": _money(details.paid),
            "outstanding": _money(details.outstanding),
        }
    ), 200


def _on_library_error(exc: Exception) -> JsonAnswer:
    if isinstance(exc, DuplicateEnrollmentError):
        return _error(409, "duplicate_enrollment", str(exc), existing_enrollment_id=exc.existing_id)
    if isinstance(exc, NotFoundError):
        return _error(404, "not_found", str(exc))
    if isinstance(exc, InvalidStateError):
        return _error(409, "invalid_state", str(exc))
    return _error(422, "invalid_input", str(exc))


@click.command("collect-due")
@with_appcontext
def collect_due_command() -> None:
    """Charge what is due and settle unknown outcomes (run it from cron)."""
    system: PaymentSystem = get_system()
    if system.gateway is None:
        click.echo("no gateway configured: nothing to collect")
        return
    click.echo(f"collect: {system.collect_due().summary()}")
    click.echo(f"reconcile: {system.reconcile().summary()}")


def lms_events(lms: Lms) -> EventRegistry:
    """Revoke LMS access on ``access.suspended`` (and cancellation); grant it back on payment."""
    events = EventRegistry()

    @events.on("access.suspended", "access.revoked")
    def revoke(event: DomainEvent) -> None:
        on_access_suspended(get_system(), lms, event)

    @events.on("access.granted", "access.restored")
    def grant(event: DomainEvent) -> None:
        on_access_restored(get_system(), lms, event)

    return events


def create_app(
    config: Mapping[str, Any] | None = None,
    system: PaymentSystem | None = None,
    lms: Lms | None = None,
) -> Flask:
    """The shop; ``config`` is merged into ``app.config``; tests may pass their own ``system``.

    ``lms`` is the learning platform the events keep in step (``app.extensions["lms"]``).
    """
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///shop.db"
    app.config.update(config or {})
    app.extensions["lms"] = lms = lms if lms is not None else Lms()
    # Routes POST /webhooks/stripe and the JSON API under /api; adds
    # `flask enrollpay-dispatch` for the events.
    init_app(app, system, api_prefix="/api", events=lms_events(lms))
    app.add_url_rule("/enrollments", view_func=enroll, methods=["POST"])
    app.add_url_rule("/enrollments/<enrollment_id>/payment", view_func=payment)
    for error in (NotFoundError, InvalidInputError, InvalidStateError, DuplicateEnrollmentError):
        app.register_error_handler(error, _on_library_error)
    app.cli.add_command(collect_due_command)
    return app
