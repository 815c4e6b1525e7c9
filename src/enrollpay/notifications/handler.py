"""The notifications handler: outbox events in, one message per notification out, once.

``system.dispatch_events(handler)`` hands every event to the handler in
order, at least once. For each event of a kind that notifies (see
:data:`~enrollpay.notifications.NOTIFICATION_KINDS`) the handler

1. looks in the store's log of sent notifications for (event id, kind) and
   stops if it was sent within the dedupe window: the event came again
   because a dispatcher died after the send and before the delivery mark;
2. composes the notification: the enrollment's user, the recipient the
   host application names for them, the template in their language and
   the values written in their locale;
3. hands it to the notifier, then records it in the log (and, once an
   hour, forgets the records older than the window) before returning, so
   that dispatch marks the event delivered only after the record exists.

The one gap left is a crash after the notifier's server accepted the
message and before the record is written: the event is delivered again
and the message goes out again, with the same Message-ID (see
:meth:`~enrollpay.ports.Notification.message_id`), by which mail systems
can tell the repeat. docs/howto/notifications.md says more.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from babel import Locale

from enrollpay.domain.calendar import ensure_aware
from enrollpay.domain.events import DomainEvent
from enrollpay.domain.records import Enrollment
from enrollpay.errors import (
    NotificationConfigError,
    NotificationDeliveryError,
    NotificationTemplateError,
)
from enrollpay.notifications.kinds import COMMON_VALUES, NOTIFICATION_KINDS, NotificationKind
from enrollpay.notifications.templates import Template, Templates, normal_locale
from enrollpay.notifications.values import VALUES, Writer
from enrollpay.ports.notifier import Notification, Notifier, Recipient
from enrollpay.service.system import PaymentSystem

__all__ = ["DEDUPE_WINDOW", "NOTIFICATION_FAULT_POINTS", "NotificationHandler"]

logger = logging.getLogger("enrollpay.notifications")

#: How long a sent notification is remembered, so that a redelivered event is not sent again.
DEDUPE_WINDOW = timedelta(days=7)
#: Where a test's fault hook is called: after the notifier accepted a message, before it is
#: recorded; after it is recorded, before the handler returns (and dispatch marks the event).
NOTIFICATION_FAULT_POINTS = ("notification_sent", "notification_recorded")
#: How often the records older than the window are forgotten (with a record, not apart).
PRUNE_EVERY = timedelta(hours=1)

TemplateSource = Templates | Mapping[str, Template] | str | os.PathLike[str] | None


class NotificationHandler:
    """Sends the notifications the outbox's events call for; pass it to ``dispatch_events``.

    ``templates``: None (the shipped ones), a mapping of kind to
    :class:`~enrollpay.notifications.Template` over the shipped ones (for
    every locale), a directory of ``<locale>.toml`` files, or a
    :class:`~enrollpay.notifications.Templates`. Keyword settings:

    ``system``
        the :class:`~enrollpay.PaymentSystem` whose outbox is dispatched:
        enrollments, products and items are read through it, and the log of
        sent notifications is kept in its store, with its clock.
    ``recipients``
        ``user_id -> Recipient | None``: the address, name, locale and time
        zone of a student (None: nobody to write to; nothing is sent).
    ``update_card_url``
        ``enrollment -> str``: the page where the student saves a new card.
        Required when a template links to it (the shipped ones for payment
        failures, suspensions and reminders do).
    ``kinds``
        the notification kinds to send (default: all).
    ``default_locale``
        the language for a student without a locale or one no template has.
    ``dedupe_window``
        how long a sent notification is remembered (default 7 days).
    ``extra``
        more values for your templates (``{"school": "Acme Academy"}``).
    ``faults``
        a test hook called at :data:`NOTIFICATION_FAULT_POINTS`.

    Wiring mistakes raise :class:`~enrollpay.errors.NotificationConfigError`
    here, not when a message is due.
    """

    def __init__(
        self,
        notifier: Notifier,
        templates: TemplateSource = None,
        *,
        system: PaymentSystem,
        recipients: Callable[[str], Recipient | None],
        update_card_url: Callable[[Enrollment], str] | None = None,
        kinds: Iterable[str] | None = None,
        default_locale: str = "en",
        dedupe_window: timedelta = DEDUPE_WINDOW,
        extra: Mapping[str, str] | None = None,
        faults: Callable[[str], None] | None = None,
    ) -> None:
        if not isinstance(notifier, Notifier):
            raise NotificationConfigError("notifier must have a send(notification) method")
        if not isinstance(system, PaymentSystem):
            raise NotificationConfigError("system must be the PaymentSystem whose events these are")
        if not callable(recipients):
            raise NotificationConfigError("recipients must map a user id to a Recipient or None")
        if not isinstance(dedupe_window, timedelta) or dedupe_window <= timedelta(0):
            raise NotificationConfigError(f"dedupe_window must be positive, got {dedupe_window!r}")
        try:
            self._default = normal_locale(default_locale)
        except ValueError as error:
            raise NotificationConfigError(str(error)) from error
        self._notifier = notifier
        self._system = system
        self._recipients = recipients
        self._update_card_url = update_card_url
        self._window = dedupe_window
        self._faults = faults
        self._pruned_at: datetime | None = None
        self._extra = _extra(extra)
        self._templates = _templates(templates)
        enabled = _enabled(kinds)
        self._by_event: dict[str, list[NotificationKind]] = {}
        for kind in enabled:
            self._by_event.setdefault(kind.event_kind, []).append(kind)
        self._check(enabled)

    # -- what dispatch calls ---------------------------------------------------------

    def __call__(self, event: DomainEvent) -> None:
        """Send the notifications ``event`` calls for, unless sent within the window."""
        for kind in self._by_event.get(event.kind, ()):
            self._notify(event, kind)

    def compose(self, event: DomainEvent) -> list[Notification]:
        """The notifications ``event`` calls for, rendered but neither sent nor recorded."""
        now = self._now()
        found = (self._compose(event, kind, now) for kind in self._by_event.get(event.kind, ()))
        return [n for n in found if n is not None]

    # -- one notification ---------------------------------------------------------------

    def _notify(self, event: DomainEvent, kind: NotificationKind) -> None:
        store = self._system.store
        now = self._now()
        with store.reader() as view:
            sent = view.notification_sent_at(event.id, kind.name)
        if sent is not None and sent > now - self._window:
            logger.info("%s of event %s was sent at %s: not again", kind.name, event.id, sent)
            return
        notification = self._compose(event, kind, now)
        if notification is None:
            return
        try:
            self._notifier.send(notification)
        except NotificationDeliveryError as error:
            if not error.permanent:
                raise
            logger.error(
                "%s of event %s to %s was refused for good: %s",
                kind.name,
                event.id,
                notification.recipient.address,
                error,
            )
        self._checkpoint("notification_sent")
        done = self._now()
        # A record older than the window (``sent``) must go before the new one is written.
        prune = sent is not None or self._pruned_at is None or done - self._pruned_at >= PRUNE_EVERY
        with store.transaction() as tx:
            if prune:
                tx.prune_notifications(before=done - self._window)
                self._pruned_at = done
            tx.record_notification(event.id, kind.name, sent_at=done)
        self._checkpoint("notification_recorded")

    def _compose(
        self, event: DomainEvent, kind: NotificationKind, now: datetime
    ) -> Notification | None:
        if event.enrollment_id is None:
            return None
        system = self._system
        enrollment = system.get_enrollment(event.enrollment_id)
        payer_id = event.data.get("payer_id") or self._payer_of_payment(event)
        recipient = (
            self._recipients(enrollment.user_id) if payer_id is None else self._payer(payer_id)
        )
        if recipient is None:
            logger.info("no recipient for user %s: %s not sent", enrollment.user_id, kind.name)
            return None
        if not isinstance(recipient, Recipient):
            raise NotificationConfigError(
                f"recipients({enrollment.user_id!r}) must return a Recipient or None, "
                f"got {type(recipient).__name__}"
            )
        locales = self._locales(recipient.locale)
        found = self._templates.find(kind.name, locales)
        if found is None:  # pragma: no cover - the default locale has every kind (checked)
            raise NotificationTemplateError(f"no template for {kind.name}")
        template, written_in = found
        # Money and dates as the most specific locale wanted in the text's language writes
        # them: fr_CA for a text in fr, the default de_AT for a pt_BR student without pt.
        language = Locale.parse(written_in).language
        writer = Writer(
            locale=next(loc for loc in locales if Locale.parse(loc).language == language),
            zone=ZoneInfo(recipient.timezone or system.config.timezone),
        )
        own = VALUES[kind.name](event, enrollment, system, writer)
        if own is None:
            logger.info("%s of event %s: no longer true, not sent", kind.name, event.id)
            return None
        values = {
            **self._extra,
            "greeting": self._templates.greeting(locales).render(recipient.name),
            "student_name": recipient.name or "",
            "product_name": system.get_product(enrollment.product_id).name,
            "enrollment_id": enrollment.id,
            **own,
        }
        if self._update_card_url is not None and "update_card_url" in kind.values:
            values["update_card_url"] = self._update_card_url(enrollment)
        rendered = template.render(values)
        return Notification(
            kind=kind.name,
            event_id=event.id,
            enrollment_id=enrollment.id,
            user_id=enrollment.user_id,
            recipient=recipient,
            locale=written_in,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            at=now,
            values=values,
        )

    # -- helpers -----------------------------------------------------------------------------

    def _payer_of_payment(self, event: DomainEvent) -> str | None:
        """The payer of the payment an event is about (a refund of it), if a payer paid it."""
        payment_id = event.data.get("payment_id")
        if payment_id is None or event.enrollment_id is None:
            return None
        details = self._system.payment_details(event.enrollment_id)
        paid = next((p.item_id for p in details.payments if p.id == payment_id), None)
        return next((i.payer_id for i in details.items if i.id == paid), None)

    def _payer(self, payer_id: str) -> Recipient:
        """A payer's address: payment news of the items a payer owes go to the payer."""
        payer = self._system.get_payer(payer_id)
        return Recipient(payer.email, name=payer.name)

    def _locales(self, wanted: str | None) -> list[str]:
        """Where to look for a template: the recipient's locale, its language, the default."""
        found = []
        if wanted is not None:
            try:
                found.append(normal_locale(wanted))
            except ValueError:
                logger.warning("unknown locale %r: writing in %s", wanted, self._default)
        found.append(self._default)
        languages = [Locale.parse(locale).language for locale in found]
        ordered = [found[0], languages[0], *found[1:], *languages[1:]]
        return list(dict.fromkeys(ordered))

    def _now(self) -> datetime:
        return ensure_aware(self._system.clock.now(), "clock.now()")

    def _checkpoint(self, name: str) -> None:
        if self._faults is not None:
            self._faults(name)

    def _check(self, enabled: list[NotificationKind]) -> None:
        """Every template uses only values its kind has; the default locale has every kind."""
        names = {kind.name for kind in enabled}
        linked = []
        for locale, name, template in self._templates.items():
            spec = NOTIFICATION_KINDS.get(name)
            if spec is None:
                raise NotificationTemplateError(
                    f"{locale}: there is no notification kind {name!r} "
                    f"(kinds: {', '.join(NOTIFICATION_KINDS)})"
                )
            unknown = template.names - spec.allowed - set(self._extra)
            if unknown:
                raise NotificationTemplateError(
                    f"{locale}/{name} uses {', '.join(sorted(unknown))}, which a {name} "
                    f"notification does not have (it has: {', '.join(sorted(spec.allowed))})"
                )
            if name in names and "update_card_url" in template.names:
                linked.append(f"{locale}/{name}")
        for kind in enabled:
            if self._templates.find(kind.name, self._locales(None)) is None:
                raise NotificationTemplateError(f"no {self._default} template for {kind.name}")
        if linked and self._update_card_url is None:
            raise NotificationConfigError(
                f"templates link to ${{update_card_url}} ({', '.join(linked[:3])}, ...): pass "
                "update_card_url=lambda enrollment: <your card page>, or leave those kinds out"
            )


def _templates(source: TemplateSource) -> Templates:
    if source is None:
        return Templates.shipped()
    if isinstance(source, Templates):
        return source
    if isinstance(source, (str, os.PathLike)):
        return Templates.from_directory(source)
    if isinstance(source, Mapping):
        for kind, template in source.items():
            if not isinstance(template, Template):
                raise NotificationTemplateError(f"the template for {kind!r} is not a Template")
        return Templates.shipped().with_overrides(source)
    raise NotificationConfigError(
        f"templates must be None, Templates, a mapping or a directory, got {source!r}"
    )


def _enabled(kinds: Iterable[str] | None) -> list[NotificationKind]:
    if kinds is None:
        return list(NOTIFICATION_KINDS.values())
    wanted = [kinds] if isinstance(kinds, str) else list(kinds)
    unknown = [k for k in wanted if k not in NOTIFICATION_KINDS]
    if unknown:
        raise NotificationConfigError(
            f"unknown notification kinds {unknown} (kinds: {', '.join(NOTIFICATION_KINDS)})"
        )
    return [NOTIFICATION_KINDS[k] for k in dict.fromkeys(wanted)]


def _extra(extra: Mapping[str, str] | None) -> dict[str, str]:
    taken = set(COMMON_VALUES).union(*(k.values for k in NOTIFICATION_KINDS.values()))
    found = dict(extra or {})
    for key, value in found.items():
        if not isinstance(key, str) or not key.isidentifier() or key in taken:
            raise NotificationConfigError(f"extra value {key!r}: not a free identifier")
        if not isinstance(value, str):
            raise NotificationConfigError(f"extra value {key!r} must be a string")
    return found
