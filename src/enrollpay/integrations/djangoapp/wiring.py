"""What ``dispatch`` hands each event to, built from the ``ENROLLPAY`` setting.

Keys of ``settings.ENROLLPAY`` read here (the others are in
:mod:`enrollpay.integrations.django`):

``EVENT_HANDLERS``
    Dotted paths of more handlers, each a callable taking one
    :class:`~enrollpay.domain.events.DomainEvent` (for instance an
    :class:`~enrollpay.integrations.events.EventRegistry`), called after
    the signals, in this order.
``WEBHOOKS``
    Outgoing webhook endpoints: a list of ``{"name": ..., "url": ...,
    "secret": ..., "kinds": [...]}`` (``kinds`` optional); see
    :mod:`enrollpay.integrations.webhooks`. Called last.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from django.conf import settings as django_settings
from django.utils.module_loading import import_string

from enrollpay.errors import InvalidInputError
from enrollpay.integrations.django import SETTING, get_system
from enrollpay.integrations.djangoapp.signals import send_signals
from enrollpay.integrations.events import EventRegistry
from enrollpay.integrations.webhooks import WebhookEndpoint, WebhookSender
from enrollpay.service.system import PaymentSystem

__all__ = ["dispatch", "event_handler"]


def event_handler(system: PaymentSystem, settings: Any = None) -> EventRegistry:
    """The signals, then ``EVENT_HANDLERS``, then ``WEBHOOKS``, as one handler for ``system``."""
    chosen = django_settings if settings is None else settings
    conf: Mapping[str, Any] = getattr(chosen, SETTING, None) or {}
    registry = EventRegistry()
    registry.on_any(partial(send_signals, system=system))
    for path in conf.get("EVENT_HANDLERS") or ():
        try:
            function = import_string(path)
        except ImportError as error:
            raise InvalidInputError(
                f"{SETTING}['EVENT_HANDLERS']: cannot import {path!r}"
            ) from error
        if not callable(function):
            raise InvalidInputError(f"{SETTING}['EVENT_HANDLERS']: {path!r} is not callable")
        registry.add("*", function)
    endpoints = conf.get("WEBHOOKS") or ()
    if endpoints:
        if not all(isinstance(e, Mapping) for e in endpoints):
            raise InvalidInputError(f"{SETTING}['WEBHOOKS'] is a list of dicts")
        try:
            built = [WebhookEndpoint(**dict(e)) for e in endpoints]
        except TypeError as error:  # a key WebhookEndpoint does not take, or one missing
            raise InvalidInputError(f"{SETTING}['WEBHOOKS']: {error}") from error
        registry.add("*", WebhookSender(built, system=system))
    return registry


def dispatch(*, limit: int | None = None, system: PaymentSystem | None = None) -> int:
    """Dispatch the outbox through :func:`event_handler`; how many events were delivered.

    ``system`` defaults to :func:`~enrollpay.integrations.django.get_system`.
    Call it from a task (Celery, django-q, cron); 0 means nothing was
    pending or another dispatcher is running.
    """
    target = system if system is not None else get_system()
    return target.dispatch_events(event_handler(target), limit=limit)
