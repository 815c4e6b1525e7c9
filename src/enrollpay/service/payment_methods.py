"""Saved cards: the card-update flow, and charging what waited for a new card."""

from __future__ import annotations

import re

import attrs

from enrollpay.domain.lifecycle import EnrollmentStatus, ItemStatus
from enrollpay.errors import InvalidInputError
from enrollpay.service.base import check_text
from enrollpay.service.collect import retry_now
from enrollpay.service.context import Context
from enrollpay.service.enroll import ensure_customer
from enrollpay.service.results import ItemOutcome
from enrollpay.service.trials import payment_method_saved

__all__ = ["check_payment_method_id", "start_payment_method_update", "update_payment_method"]

_CARD_LIKE = re.compile(r"^[\d\s-]{12,23}$")
_METHOD_ID = re.compile(r"^[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]{1,200}$")
#: Runs of digits, single spaces or dashes allowed between them (how card numbers are written).
_DIGIT_RUN = re.compile(r"\d(?:[ -]?\d)*")


def _luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _holds_card_number(value: str) -> bool:
    """True if ``value`` contains 13-19 digits (spaces or dashes between) passing Luhn."""
    for run in _DIGIT_RUN.findall(value):
        digits = re.sub(r"\D", "", run)
        if 13 <= len(digits) <= 19 and _luhn_valid(digits):
            return True
    return False


def check_payment_method_id(value: object) -> str:
    """A gateway payment-method id such as ``pm_1Nx...``; card numbers are refused."""
    if not isinstance(value, str):
        raise InvalidInputError("payment_method_id must be a string")
    digits = re.sub(r"[\s-]", "", value)
    if (_CARD_LIKE.match(value) and digits.isdigit()) or _holds_card_number(value):
        # Never echo it back: it may be a real card number.
        raise InvalidInputError(
            "payment_method_id looks like a card number; enrollpay never accepts card data, "
            "pass the gateway's payment method id"
        )
    if not _METHOD_ID.match(value):
        raise InvalidInputError("payment_method_id is not a gateway payment method id")
    return value


def start_payment_method_update(ctx: Context, user_id: str) -> str:
    """A client secret for the card-update form (a setup flow at the gateway)."""
    gateway = ctx.require_gateway()
    check_text(user_id, "user_id")
    customer = ensure_customer(ctx, gateway, user_id)
    # A setup flow moves no money, so each request may open a new one.
    return gateway.start_payment_method_update(
        customer_id=customer.gateway_customer_id,
        idempotency_key=f"setup:{user_id}:{ctx.new_id('set')}",
    )


def update_payment_method(
    ctx: Context, user_id: str, payment_method_id: str, *, actor: str = "customer"
) -> list[ItemOutcome]:
    """Make a new saved card the default and collect the arrears with it.

    The payer acting ends the dunning hold: every item still owed and due
    (waiting for a card, defaulted, failed, or scheduled and due) is
    charged once, oldest first, each with its own attempt and idempotency
    key. Within one enrollment a charge that does not succeed stops the
    rest: one retry cycle at a time, as collection does. A trial waiting
    for a card stops waiting, in the same transaction as the card is saved
    (see :func:`enrollpay.service.trials.payment_method_saved`).
    """
    check_text(user_id, "user_id")
    method = check_payment_method_id(payment_method_id)
    gateway = ctx.require_gateway()
    customer = ensure_customer(ctx, gateway, user_id)
    with ctx.unit() as tx:
        tx.put_customer(attrs.evolve(customer, payment_method_id=method))
        ctx.audit(
            tx,
            actor=actor,
            action="customer.payment_method_updated",
            entity_type="customer",
            entity_id=user_id,
        )
        listed = tx.enrollments_of(user_id)
        payment_method_saved(ctx, tx, user_id, actor=actor, enrollments=listed)
        today = ctx.today()
        arrears = sorted(
            (
                i
                for e in listed
                if e.status not in (EnrollmentStatus.CANCELLED, EnrollmentStatus.PAUSED)
                for i in tx.items_of(e.id)
                if i.status in _WAITING or (i.status in _DUE and i.due <= today)
            ),
            key=lambda i: (i.due, i.enrollment_id, i.seq),
        )
    outcomes: list[ItemOutcome] = []
    stopped: set[str] = set()
    for item in arrears:
        if item.enrollment_id in stopped:
            continue
        outcome = retry_now(ctx, item.id, actor=actor)
        outcomes.append(outcome)
        if outcome.result != "succeeded":
            stopped.add(item.enrollment_id)
    return outcomes


#: Items that wait for the payer (always collected when a card is saved).
_WAITING = frozenset({ItemStatus.REQUIRES_PAYMENT_METHOD, ItemStatus.DEFAULTED})
#: Items collected when a card is saved if they are due by today.
_DUE = frozenset({ItemStatus.FAILED, ItemStatus.SCHEDULED})
