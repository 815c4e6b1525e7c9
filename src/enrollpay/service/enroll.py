"""Enrolling: plan choice, schedule, the first attempt (or a trial's card setup), the customer.

A trial subscription enrolled with a gateway collects a card before the
trial starts: the enrollment opens ``awaiting_payment_method``
(``pending_payment``, no access) and a setup flow (a Stripe SetupIntent for
off-session use) is opened for the student's gateway customer, keyed by the
enrollment so that opening it again never makes a second one. A student
whose customer has a saved card already starts the trial at once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import date

import attrs

from enrollpay.domain import transitions
from enrollpay.domain.payers import PayerShare
from enrollpay.domain.plans import PaymentPlan
from enrollpay.domain.price_lists import plan_for
from enrollpay.domain.records import Customer, PaymentAttempt
from enrollpay.domain.taxes import TaxAddress
from enrollpay.errors import (
    DuplicateEnrollmentError,
    GatewayUnavailableError,
    ProductInactiveError,
    ProductNotFoundError,
)
from enrollpay.ports import Gateway, PaymentSession, StoreTransaction
from enrollpay.service.attempts import new_attempt
from enrollpay.service.base import check_text
from enrollpay.service.context import Context
from enrollpay.service.discounts import discounted_lines, redeem, settle_if_free
from enrollpay.service.enroll_input import (
    MAX_METADATA_KEYS,
    checked_metadata,
    start_date_of,
    trial_wait,
)
from enrollpay.service.payers import audit_split, first_due_by_payer, split_lines
from enrollpay.service.results import EnrollmentResult
from enrollpay.service.seats import take_seat
from enrollpay.service.taxes import quote_enrollment, taxed_items

__all__ = [
    "MAX_METADATA_KEYS",
    "customer_key",
    "enroll",
    "ensure_customer",
    "open_session",
    "open_setup",
    "setup_key",
]

# Logs enrollment, item and gateway payment ids; never client secrets or card data.
logger = logging.getLogger(__name__)


def customer_key(user_id: str) -> str:
    """The idempotency key that creates a user's gateway customer exactly once."""
    return f"customer:{user_id}"


def setup_key(enrollment_id: str) -> str:
    """The idempotency key of the setup flow that saves a trial's card (one per enrollment)."""
    return f"setup:enrollment:{enrollment_id}"


def enroll(
    ctx: Context,
    *,
    user_id: str,
    product_id: str,
    plan: PaymentPlan | None = None,
    start: date | None = None,
    metadata: Mapping[str, str] | None = None,
    coupon: str | None = None,
    scholarship: str | None = None,
    seat_offer: str | None = None,
    currency: str | None = None,
    tax_address: TaxAddress | None = None,
    payers: Sequence[PayerShare] | None = None,
) -> EnrollmentResult:
    """Enroll ``user_id`` in a product; open the first payment if one is due, or a trial's setup.

    A product with a seat limit gets a seat in the same transaction
    (:func:`enrollpay.service.seats.take_seat`: the offered one with
    ``seat_offer``, a waitlist entry's id) or ``SeatsFullError``.

    ``currency`` is the student's: the product's explicit price in it is
    charged (None: its default price); see
    :mod:`enrollpay.domain.price_lists`. Plan detection and discounts judge
    that price; ``CurrencyNotOffered`` or ``PlanCurrencyError`` when it
    cannot be sold so.

    ``coupon`` (a code) and ``scholarship`` (an id granted to the user)
    reduce the price (see :mod:`enrollpay.service.discounts`); the
    redemption is taken in the enrollment's transaction. A free enrollment
    (100% off) charges nothing: its one zero item is waived and it opens
    completed. ``tax_address`` taxes the schedule where the buyer is (see
    :mod:`enrollpay.service.taxes`; the tax is quoted before the
    transaction opens). ``payers`` split it (see :mod:`enrollpay.service.payers`):
    no checkout is opened then; each payer pays their first item
    (``result.payer_items``) with ``start_payment``; a split schedule is
    not taxed yet (``TaxError``).
    """
    check_text(user_id, "user_id")
    check_text(product_id, "product_id")
    meta = checked_metadata(metadata)
    now = ctx.now()
    today = ctx.today(now)
    start_date = start_date_of(start, today)
    gateway = ctx.gateway
    quote = quote_enrollment(
        ctx,
        tax_address,
        product_id=product_id,
        user_id=user_id,
        plan=plan,
        coupon=coupon,
        scholarship=scholarship,
        start=start_date,
        currency=currency,
        split=bool(payers),
    )
    with ctx.unit() as tx:
        product = tx.get_product(product_id)
        if product is None:
            raise ProductNotFoundError(product_id)
        if not product.active:
            raise ProductInactiveError(product_id)
        existing = tx.find_open_enrollment(user_id, product.id)
        if existing is not None:
            raise DuplicateEnrollmentError(user_id, product.id, existing.id)
        view, chosen = plan_for(product, tx.list_plan_rules(), currency=currency, requested=plan)
        applied, lines = discounted_lines(
            ctx,
            tx,
            product=view,
            plan=chosen,
            user_id=user_id,
            coupon=coupon,
            scholarship=scholarship,
            start=start_date,
            at=now,
        )
        lines = split_lines(ctx, tx, lines, payers, plan=chosen, free=applied.free)
        enrollment_id = ctx.new_id("enr")
        items = taxed_items(ctx, enrollment_id, lines, quote, at=now)
        first = items[0] if items[0].due <= today and not applied.free and not payers else None
        customer, awaiting = trial_wait(tx, gateway, chosen, first, user_id)
        attempt: PaymentAttempt | None = None
        if first is not None and gateway is not None:
            attempt = new_attempt(ctx, first, number=1, mode="on_session")
            # The lease is the checkout window: once it runs out, collection
            # cancels the abandoned payment and charges a saved card.
            items[0] = transitions.start_processing(
                first, at=now, lease_until=now + ctx.config.checkout_window
            ).record
        opened = transitions.open_enrollment(
            enrollment_id=enrollment_id,
            user_id=user_id,
            product_id=product.id,
            plan=chosen,
            price=applied.price,
            start_date=start_date,
            items=items,
            today=today,
            at=now,
            metadata=meta,
            past_due_access=ctx.config.past_due_access,
            awaiting_payment_method=awaiting,
        )
        opened = transitions.record_discount(opened, applied, at=now)
        opened, items = settle_if_free(ctx, opened, items, applied, today=today, at=now)
        redeem(tx, applied, user_id=user_id, enrollment_id=enrollment_id, at=now)
        enrollment = opened.record
        tx.add_enrollment(enrollment)
        tx.add_items(items)
        ctx.emit(tx, opened.events)
        if attempt is not None:
            tx.add_attempt(attempt)
            customer = tx.get_customer(user_id)
        ctx.audit(
            tx,
            actor=user_id,
            action="enrollment.created",
            entity_type="enrollment",
            entity_id=enrollment_id,
            data={
                "product_id": product.id,
                "plan": chosen.kind,
                "price": applied.price,
                "list_price": view.price,
                "coupon": applied.coupon_code,
                "scholarship": applied.scholarship_id,
                "items": len(items),
                "first_attempt": None if attempt is None else attempt.id,
                "awaiting_payment_method": awaiting,
            }
            | ({} if quote is None else {"tax": quote.total_tax, "tax_mode": quote.mode}),
        )
        audit_split(ctx, tx, enrollment_id, payers, items, actor=user_id)
        if seat_offer is not None or product.seat_limit is not None:
            # Last, so the product's seat lock is held for the shortest time.
            take_seat(ctx, tx, product, enrollment_id=enrollment_id, user_id=user_id,
                      paid=first is None, offer_id=seat_offer, at=now)  # fmt: skip
    result = EnrollmentResult(
        enrollment_id=enrollment_id,
        enrollment=enrollment,
        payment_plan=chosen,
        schedule=tuple(items),
        requires_immediate_payment=items[0].due <= today and not applied.free,
        payment_item_id=None if first is None else first.id,
        payer_items=first_due_by_payer(items, today),
    )
    logger.info(
        "enrollment %s created in product %s (%s, %d item(s))",
        enrollment_id,
        product.id,
        chosen.kind,
        len(items),
    )
    if gateway is None:
        return result
    return _first_gateway_step(ctx, gateway, result, attempt=attempt, customer=customer)


def _first_gateway_step(
    ctx: Context,
    gateway: Gateway,
    result: EnrollmentResult,
    *,
    attempt: PaymentAttempt | None,
    customer: Customer | None,
) -> EnrollmentResult:
    """After the commit: open the first payment, or the setup a trial's card is saved in.

    A gateway that cannot be reached loses nothing: the result says so
    (``payment_error``) and ``start_payment`` (or, for a trial,
    ``start_setup``) opens the same payment or setup flow later, by the
    same key.
    """
    user_id = result.enrollment.user_id
    try:
        if result.enrollment.awaiting_payment_method:
            secret = open_setup(
                ctx, gateway, enrollment_id=result.enrollment_id, user_id=user_id, customer=customer
            )
            return attrs.evolve(result, setup_client_secret=secret)
        if attempt is None:
            return result
        ctx.checkpoint("after_attempt_written")
        session = open_session(
            ctx, gateway, tx_user=user_id, attempt=attempt, customer=customer, customer_read=True
        )
    except GatewayUnavailableError as exc:
        return attrs.evolve(result, payment_error=f"gateway unavailable: {exc}")
    return attrs.evolve(result, client_secret=session.client_secret)


def open_setup(
    ctx: Context, gateway: Gateway, *, enrollment_id: str, user_id: str, customer: Customer | None
) -> str:
    """Open (or open again) the setup flow a trial's card is saved in; its client secret.

    ``customer`` is the user's stored customer as the caller read it (None:
    none yet, so it is created at the gateway, idempotently by the user's
    key, and stored). The flow's key comes from the enrollment,
    so a retry (after a timeout, or a later ``start_setup``) finds the same
    flow instead of opening a second one; its metadata names the
    enrollment, which comes back in ``setup_intent.succeeded``.
    """
    if customer is None:
        customer_id = gateway.ensure_customer(user_id, idempotency_key=customer_key(user_id))
        # Stored before the setup call, so a gateway outage there loses nothing.
        with ctx.unit() as tx:
            customer = _record_customer(ctx, tx, user_id, customer_id)
    return gateway.start_payment_method_update(
        customer_id=customer.gateway_customer_id,
        idempotency_key=setup_key(enrollment_id),
        metadata={"enrollment_id": enrollment_id},
    )


def ensure_customer(ctx: Context, gateway: Gateway, user_id: str) -> Customer:
    """The user's gateway customer, created once (the key makes it idempotent)."""
    with ctx.unit() as tx:
        customer = tx.get_customer(user_id)
    if customer is not None:
        return customer
    customer_id = gateway.ensure_customer(user_id, idempotency_key=customer_key(user_id))
    with ctx.unit() as tx:
        return _record_customer(ctx, tx, user_id, customer_id)


def _record_customer(
    ctx: Context, tx: StoreTransaction, user_id: str, customer_id: str
) -> Customer:
    """Store the gateway customer just created for a user (unless it was stored meanwhile)."""
    existing = tx.get_customer(user_id)
    if existing is not None:
        return existing
    customer = Customer(user_id, customer_id)
    tx.put_customer(customer)
    ctx.audit(
        tx,
        actor="system",
        action="customer.created",
        entity_type="customer",
        entity_id=user_id,
        data={"gateway_customer_id": customer_id},
    )
    return customer


def open_session(
    ctx: Context,
    gateway: Gateway,
    *,
    tx_user: str,
    attempt: PaymentAttempt,
    customer: Customer | None = None,
    customer_read: bool = False,
) -> PaymentSession:
    """Start the on-session payment of ``attempt`` and record its gateway id.

    ``customer`` is the user's stored customer when the caller read it
    (``customer_read``: the caller read it, and None means the user has
    none yet). Without one the gateway customer is created (idempotently,
    by the user's key) and stored in the same transaction as the
    session, so a new student's first payment costs one transaction
    after the gateway calls, not three.
    """
    if customer is None and not customer_read:
        with ctx.unit() as tx:
            customer = tx.get_customer(tx_user)
    new_customer_id: str | None = None
    if customer is not None:
        customer_id = customer.gateway_customer_id
    else:
        customer_id = new_customer_id = gateway.ensure_customer(
            tx_user, idempotency_key=customer_key(tx_user)
        )
    session = gateway.start_payment(
        customer_id=customer_id,
        amount=attempt.amount,
        idempotency_key=attempt.idempotency_key,
        metadata={
            "enrollment_id": attempt.enrollment_id,
            "item_id": attempt.item_id,
            "attempt_id": attempt.id,
        },
        description=f"enrollment {attempt.enrollment_id}",
    )
    with ctx.unit() as tx:
        if new_customer_id is not None:
            _record_customer(ctx, tx, tx_user, new_customer_id)
        current = tx.get_attempt(attempt.id)
        assert current is not None  # noqa: S101
        if current.gateway_payment_id != session.gateway_payment_id:
            tx.update_attempt(
                attrs.evolve(
                    current,
                    gateway_payment_id=session.gateway_payment_id,
                    updated_at=ctx.now(),
                )
            )
            ctx.audit(
                tx,
                actor="system",
                action="payment.session_opened",
                entity_type="schedule_item",
                entity_id=attempt.item_id,
                data={
                    "attempt_id": attempt.id,
                    "gateway_payment_id": session.gateway_payment_id,
                },
            )
    return session
