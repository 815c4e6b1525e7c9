"""Secrets and card data never show up in logs, reprs or error messages.

Representative flows (enrollment, on-session payment, card update,
collection with declines, authentication and timeouts, reconciliation,
refunds, cancellation, genuine and forged webhooks) run with every
``enrollpay`` logger at DEBUG. Everything a host could end up printing or
shipping to a log service is collected: every log record (message,
arguments, formatted text with tracebacks), the ``repr`` of every result,
record, the system and the gateway, the audit trail's data, and the message
of every exception raised on the way. None of it may contain the webhook
secret, any client secret handed to a browser, or anything that looks like
a card number (13 to 19 digits, spaces or dashes allowed, passing Luhn).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from datetime import timedelta

import attrs
import pytest

from enrollpay import FullPayment, Installments
from enrollpay.errors import EnrollpayError
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway
from tests.adversarial.support import World, make_world, usd

WEBHOOK_SECRET = "whsec_fake_secret"
ATTACKER_SECRET = "whsec_attacker_secret"
CARD = "4242 4242 4242 4242"
_DIGIT_RUN = re.compile(r"\d(?:[ -]?\d)*")


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum card numbers carry."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def card_numbers_in(text: str) -> list[str]:
    """Every card-number-like run of digits in ``text``."""
    found: list[str] = []
    for run in _DIGIT_RUN.findall(text):
        digits = re.sub(r"\D", "", run)
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            found.append(run)
    return found


class Capture(logging.Handler):
    """A root handler that keeps every record, formatted with its traceback."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.records: list[logging.LogRecord] = []
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record and its formatted text."""
        self.records.append(record)
        self.texts.append(f"{self.format(record)} {record.args!r}")


@attrs.define
class Exposure:
    """Everything a host might print or log, and the secrets that must not be in it."""

    texts: list[str] = attrs.Factory(list)
    secrets: set[str] = attrs.Factory(lambda: {WEBHOOK_SECRET, ATTACKER_SECRET})
    errors: list[BaseException] = attrs.Factory(list)

    def show(self, *values: object) -> None:
        """The host prints these (their repr and str)."""
        for value in values:
            self.texts.append(repr(value))
            self.texts.append(str(value))

    def secret(self, value: str | None) -> None:
        """A secret that was handed out and must never be shown."""
        assert value, "the flow should have produced this secret"
        self.secrets.add(value)

    def attempt(self, call: Callable[[], object]) -> object:
        """Run ``call``; a library error is kept (its message is shown by the host)."""
        try:
            result = call()
        except EnrollpayError as error:
            self.errors.append(error)
            self.texts.append(f"{error!s} {error!r} {error.args!r}")
            return None
        self.show(result)
        return result


@pytest.fixture
def capture(caplog: pytest.LogCaptureFixture) -> Iterator[Capture]:
    """DEBUG logging for everything, captured by caplog and by a root handler."""
    caplog.set_level(logging.DEBUG)
    handler = Capture()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def run_flows(world: World, seen: Exposure) -> None:
    """Enroll, pay, update cards, collect, reconcile, refund, cancel, receive webhooks."""
    system, fake, clock = world.system, world.fake, world.clock
    plan = system.register_product(
        product_type="course",
        product_id="plan",
        name="Plan",
        price=usd("300.00"),
        payment_plan=Installments(3),
    )
    full = system.register_product(
        product_type="course",
        product_id="full",
        name="Full",
        price=usd("120.00"),
        payment_plan=FullPayment(),
    )
    seen.show(plan, full)

    users = ("ana", "ben", "chloe", "dev")
    results = {}
    for user in users:
        result = system.enroll(user_id=user, product_id=plan.id, metadata={"source": "ads"})
        seen.show(result)
        seen.secret(result.client_secret)
        results[user] = result
    for user in ("ana", "ben", "chloe"):
        client_secret = results[user].client_secret
        assert client_secret is not None
        seen.show(fake.complete_payment(client_secret))
    declined = results["dev"].client_secret
    assert declined is not None
    seen.show(fake.complete_payment(declined, fake.decline("insufficient_funds")))
    seen.show(*fake.deliver(system, times=2))

    # The declined customer tries again on the same checkout, then succeeds.
    session = system.start_payment(results["dev"].schedule[0].id)
    seen.show(session)
    seen.secret(session.client_secret)
    seen.show(fake.complete_payment(session.client_secret))
    seen.show(*fake.deliver(system))

    # A card update through the setup flow, and a card number where an id belongs.
    setup = system.start_payment_method_update("chloe")
    seen.secret(setup)
    fake.complete_setup(setup, payment_method="pm_card_chloe")
    seen.attempt(lambda: system.update_payment_method("chloe", "pm_card_chloe"))
    seen.attempt(lambda: system.update_payment_method("ana", CARD))
    seen.attempt(lambda: system.update_payment_method("ana", "pm_4242424242424242"))
    seen.show(*fake.deliver(system))

    # Collection a month later: a decline, an authentication, a lost answer, a success.
    clock.advance(days=31)
    fake.script(
        fake.decline("insufficient_funds"),
        "requires_action",
        "timeout_after",
        "succeed",
    )
    seen.show(system.collect_due())
    fake.clear_scripts()
    seen.show(system.reconcile())
    seen.show(*fake.deliver(system, reverse=True))
    for item in system.list_schedule_items(status="requires_action"):
        authentication = system.start_payment(item.id)
        seen.show(authentication)
        seen.secret(authentication.client_secret)
        seen.show(fake.settle(authentication.client_secret))
    seen.show(*fake.deliver(system))
    clock.advance(days=1, hours=1)
    seen.show(system.collect_due(), *fake.deliver(system))

    # Refunds: partial, through a timeout, and a cancellation with the policy's refund.
    payments = [p for e in system.list_enrollments() for p in system.payment_details(e.id).payments]
    seen.show(system.refund_payment(payments[0].id, usd("10.00"), actor="admin", reason="sorry"))
    fake.script("timeout_before", verb="refund")
    seen.show(system.refund_payment(payments[1].id, usd("5.00"), actor="admin"))
    fake.clear_scripts()
    seen.show(system.reconcile())
    seen.show(
        system.cancel_enrollment(results["ben"].enrollment_id, reason="moving", actor="admin")
    )
    seen.attempt(
        lambda: system.cancel_enrollment(results["ben"].enrollment_id, reason="again", actor="a")
    )
    seen.show(*fake.deliver(system))

    # Forged, stale and malformed webhooks.
    genuine = fake.webhook("customer.created", {"id": "cus_x", "object": "customer"})
    forged = FakeGateway(webhook_secret=ATTACKER_SECRET, clock=clock).webhook(
        "customer.created", {"id": "cus_y", "object": "customer"}
    )
    seen.attempt(lambda: system.handle_webhook(forged.payload, forged.headers))
    seen.attempt(lambda: system.handle_webhook(genuine.payload + b" ", genuine.headers))
    seen.attempt(lambda: system.handle_webhook(b"not json", fake.sign(b"not json")))
    clock.advance(timedelta(minutes=10))
    seen.attempt(lambda: system.handle_webhook(genuine.payload, genuine.headers))

    # Everything the host can look at afterwards.
    for enrollment in system.list_enrollments():
        seen.show(system.payment_details(enrollment.id))
    seen.show(system.stats(), system, fake, world.store, clock)
    for entry in system.audit_log():
        seen.texts.append(repr((entry.actor, entry.action, entry.entity_id, dict(entry.data))))


def leaks(texts: list[str], secrets: set[str]) -> list[str]:
    """Secrets and card numbers found in ``texts`` (empty when nothing leaked)."""
    found: list[str] = []
    for text in texts:
        found.extend(f"secret in {text[:80]!r}" for s in secrets if s in text)
        found.extend(f"card number {c!r} in {text[:80]!r}" for c in card_numbers_in(text))
    return found


def test_flows_leak_no_secret_or_card_number(capture: Capture) -> None:
    """Logs, reprs, audit data and error messages of every flow hold no secret or card number."""
    world = make_world(InMemoryStore())
    seen = Exposure()

    run_flows(world, seen)

    assert leaks(capture.texts, seen.secrets) == []
    assert leaks(seen.texts, seen.secrets) == []
    # The flows did what they claim, and the library logged them.
    assert len(seen.secrets) >= 7
    assert len(seen.errors) == 7
    messages = " ".join(capture.texts)
    for expected in ("collect_due:", "reconcile:", "webhook refused", "refund ", "cancelled"):
        assert expected in messages, expected
    names = {r.name for r in capture.records}
    assert {"enrollpay.service.collect", "enrollpay.service.webhooks"} <= names
    # And the capture would have caught a leak through a library logger.
    logging.getLogger("enrollpay.service").debug("oops %s", sorted(seen.secrets)[-1])
    assert len(leaks(capture.texts, seen.secrets)) == 1


def test_the_detector_finds_what_it_looks_for() -> None:
    """The leak check itself works: it finds card numbers and secrets, and not ids or amounts."""
    texts = [f"charging {CARD} now", "the secret is pi_1_secret_2", "item itm_000012: 300.00 USD"]

    found = leaks(texts, {"pi_1_secret_2"})

    assert len(found) == 2
    assert card_numbers_in("4000056655665556 and 1234567812345678 and 1773565200") == [
        "4000056655665556"
    ]


def test_no_logger_of_the_library_has_a_handler_of_its_own() -> None:
    """The library only emits records; where they go is the host's choice."""
    names = [n for n in logging.root.manager.loggerDict if n.startswith("enrollpay")]
    loggers = [logging.getLogger(n) for n in names]
    assert loggers, "the service modules log under enrollpay.*"
    assert all(not logger.handlers for logger in loggers)


def test_repr_of_values_carrying_client_secrets_hides_them() -> None:
    """Results, sessions and charge results hold client secrets but never show them."""
    world = make_world(InMemoryStore())
    product = world.system.register_product(
        product_type="c", product_id="p", name="P", price=usd("10.00")
    )
    result = world.system.enroll(user_id="u", product_id=product.id)
    assert result.client_secret is not None
    session = world.system.start_payment(result.schedule[0].id)
    charge = world.fake.complete_payment(result.client_secret)
    shown = " ".join(repr(v) for v in (result, session, charge, world.system, world.fake))

    assert session.client_secret == charge.client_secret == result.client_secret
    assert result.client_secret not in shown
