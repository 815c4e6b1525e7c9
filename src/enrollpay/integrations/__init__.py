"""Web framework integrations: the webhook endpoint and a system built from settings.

The adapters :mod:`enrollpay.integrations.fastapi`,
:mod:`enrollpay.integrations.flask` and :mod:`enrollpay.integrations.django`
each import their own framework. This module imports none: it holds what
they share, so the three endpoints answer a webhook the same way.

Status codes of the webhook endpoint, and why:

- ``200`` with ``{"result": ..., "event_id": ...}`` for every outcome of
  :meth:`~enrollpay.PaymentSystem.handle_webhook` (``processed``,
  ``duplicate``, ``ignored``, ``stale``) but one: the event is dealt with,
  and a gateway that gets a 2xx stops redelivering it.
- ``409`` with ``{"result": "deferred", ...}`` when the event came before
  the payment it concerns was recorded (a refund or a dispute delivered
  ahead of the payment's own success): nothing was recorded, and the
  gateway's redelivery applies it once the success is in.
- ``400`` with a generic body when the signature is refused or the payload
  is malformed: redelivering the same bytes cannot succeed, and the body
  tells a forger nothing about why (the reason is logged).
- ``413`` when the body is larger than any genuine event
  (:data:`MAX_WEBHOOK_BODY`); it is refused before being read in full.
- ``503`` when the system runs without a gateway: nothing can verify the
  signature, so nothing is applied.
- ``500`` for anything else (a database outage, a lost race): the error is
  logged and the gateway redelivers later, which is safe because events are
  deduplicated in the same transaction as their effects.

Settings read by :func:`system_from_env` (the FastAPI and Flask helpers use
it; the Django one feeds it from ``settings``):

``ENROLLPAY_DATABASE_URL``
    SQLAlchemy URL of the store; default :data:`DEFAULT_DATABASE_URL`
    (``sqlite:///enrollpay.db``, created and migrated on first use).
``STRIPE_SECRET_KEY`` and ``STRIPE_WEBHOOK_SECRET``
    Both set: a :class:`~enrollpay.gateways.stripe.StripeGateway`. Neither
    set: no gateway, manual payments only (the seed's graceful degradation;
    the webhook endpoint answers 503). One without the other is a
    configuration error. The fake gateway is never chosen from settings:
    its webhook secret is public, so anyone could forge a payment.
``ENROLLPAY_TIMEZONE``
    The business time zone due dates are compared in; default ``UTC``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from enrollpay.errors import (
    GatewayNotConfiguredError,
    InvalidInputError,
    WebhookPayloadError,
    WebhookSignatureError,
)
from enrollpay.gateways.signing import MAX_BODY_BYTES
from enrollpay.ports import Clock, Gateway
from enrollpay.service.base import Authorizer, SystemConfig
from enrollpay.service.system import PaymentSystem

__all__ = [
    "DATABASE_URL_VAR",
    "DEFAULT_DATABASE_URL",
    "INVALID_WEBHOOK",
    "MAX_WEBHOOK_BODY",
    "STRIPE_SECRET_KEY_VAR",
    "STRIPE_WEBHOOK_SECRET_VAR",
    "TIMEZONE_VAR",
    "WEBHOOK_TOO_LARGE",
    "WebhookResponse",
    "body_too_large",
    "gateway_from_env",
    "system_from_env",
    "webhook_response",
]

DATABASE_URL_VAR: Final = "ENROLLPAY_DATABASE_URL"
DEFAULT_DATABASE_URL: Final = "sqlite:///enrollpay.db"
STRIPE_SECRET_KEY_VAR: Final = "STRIPE_SECRET_KEY"  # noqa: S105 - a variable name, not a secret
STRIPE_WEBHOOK_SECRET_VAR: Final = "STRIPE_WEBHOOK_SECRET"  # noqa: S105 - a variable name
TIMEZONE_VAR: Final = "ENROLLPAY_TIMEZONE"
#: No genuine event comes near this; the signature check refuses more anyway.
MAX_WEBHOOK_BODY: Final = MAX_BODY_BYTES

logger = logging.getLogger("enrollpay.integrations")

SystemSource = PaymentSystem | Callable[[], PaymentSystem]


@attrs.frozen
class WebhookResponse:
    """What a webhook endpoint answers: an HTTP status and a small JSON body."""

    status: int
    body: Mapping[str, str] = attrs.field(hash=False)


#: The body for every refused webhook: nothing that helps a forger.
INVALID_WEBHOOK: Final = WebhookResponse(400, {"error": "invalid webhook"})
#: The body for a webhook larger than :data:`MAX_WEBHOOK_BODY`.
WEBHOOK_TOO_LARGE: Final = WebhookResponse(413, {"error": "webhook body too large"})
_NOT_CONFIGURED: Final = WebhookResponse(503, {"error": "webhooks are not configured"})
_FAILED: Final = WebhookResponse(500, {"error": "internal error"})


def webhook_response(
    system: SystemSource, payload: bytes, headers: Mapping[str, str]
) -> WebhookResponse:
    """Hand a raw webhook to ``system.handle_webhook`` and choose the HTTP answer.

    ``system`` is the :class:`~enrollpay.PaymentSystem` or a zero-argument
    callable returning it (so a system that fails to build is a logged 500,
    like any other failure). ``payload`` must be the raw request body,
    untouched: the signature covers its exact bytes.
    """
    try:
        target = system if isinstance(system, PaymentSystem) else system()
        outcome = target.handle_webhook(payload, headers)
    except (WebhookSignatureError, WebhookPayloadError):
        # handle_webhook logs the reason (its messages never hold a secret);
        # the answer says nothing that would help a forger.
        return INVALID_WEBHOOK
    except GatewayNotConfiguredError:
        logger.error("webhook received, but the payment system runs without a gateway")
        return _NOT_CONFIGURED
    except Exception:
        logger.exception("webhook processing failed; answering 500 so the gateway redelivers")
        return _FAILED
    status = 409 if outcome.result == "deferred" else 200
    return WebhookResponse(status, {"result": outcome.result, "event_id": outcome.event_id})


def body_too_large(content_length: str | int | None) -> bool:
    """Whether a declared ``Content-Length`` exceeds :data:`MAX_WEBHOOK_BODY`."""
    if content_length is None or content_length == "":
        return False
    try:
        return int(content_length) > MAX_WEBHOOK_BODY
    except ValueError:
        return False  # the server rejects a garbled length; the signature check does the rest


def gateway_from_env(environ: Mapping[str, str]) -> Gateway | None:
    """A Stripe gateway when both Stripe keys are set, None when neither is.

    One key without the other raises
    :class:`~enrollpay.errors.InvalidInputError`: a half-configured gateway
    is a deployment mistake better found at start-up than at the first
    payment.
    """
    api_key = (environ.get(STRIPE_SECRET_KEY_VAR) or "").strip()
    webhook_secret = (environ.get(STRIPE_WEBHOOK_SECRET_VAR) or "").strip()
    if not api_key and not webhook_secret:
        logger.info("no Stripe keys configured: running without a gateway (manual payments only)")
        return None
    if not api_key or not webhook_secret:
        raise InvalidInputError(
            f"set both {STRIPE_SECRET_KEY_VAR} and {STRIPE_WEBHOOK_SECRET_VAR}, or neither "
            "(to run without a gateway)"
        )
    # Imported here: the stripe SDK is an optional extra.
    from enrollpay.gateways.stripe import StripeGateway  # noqa: PLC0415

    return StripeGateway.from_env(
        {STRIPE_SECRET_KEY_VAR: api_key, STRIPE_WEBHOOK_SECRET_VAR: webhook_secret}
    )


def system_from_env(
    environ: Mapping[str, str] = os.environ,
    *,
    clock: Clock | None = None,
    config: SystemConfig | None = None,
    authorize: Authorizer | None = None,
) -> PaymentSystem:
    """A :class:`~enrollpay.PaymentSystem` on the SQL store, configured from ``environ``.

    See the module documentation for the variables. ``config`` overrides
    the defaults of :class:`~enrollpay.SystemConfig`; ``ENROLLPAY_TIMEZONE``
    (when set) overrides its time zone. ``authorize`` is the admin
    authorisation policy.
    """
    url = (environ.get(DATABASE_URL_VAR) or "").strip() or DEFAULT_DATABASE_URL
    gateway = gateway_from_env(environ)
    settings = config or SystemConfig()
    zone = (environ.get(TIMEZONE_VAR) or "").strip()
    if zone:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInputError(f"{TIMEZONE_VAR} is not a time zone: {zone!r}") from None
        settings = attrs.evolve(settings, timezone=zone)
    # Imported here: SQLAlchemy is an optional extra.
    from enrollpay.storage.sql import SqlStore  # noqa: PLC0415

    store = SqlStore.from_url(url)
    return PaymentSystem(
        store=store, gateway=gateway, clock=clock, config=settings, authorize=authorize
    )
