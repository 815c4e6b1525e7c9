"""Collecting an item as a gateway invoice (``installment_collection="invoice"``).

The attempt is written and committed first, as for a direct charge; then
the item's invoice is issued and charged (:func:`charge_invoice`): the
first attempt issues it (its keys derived from the attempt's, so a
repeated call never issues a second one), and every retry pays the same
invoice again. :func:`link_invoice` records the invoice, its payment and
its page on the attempt and the item, in the transaction that settles the
attempt; the first link emits ``installment.invoiced``.

Stripe confirms one PaymentIntent per invoice again on each try: the
payment's id moves to the attempt of the newest try (an id belongs to one
attempt), so that its events settle the try that is running.
"""

from __future__ import annotations

import attrs

from enrollpay.domain.invoices import invoiced_event
from enrollpay.domain.lifecycle import AttemptStatus
from enrollpay.domain.records import PaymentAttempt
from enrollpay.gateways.ratelimit_invoices import item_invoices
from enrollpay.ports import (
    Gateway,
    GatewayEvent,
    InvoiceCharge,
    ItemInvoiceGateway,
    StoreTransaction,
)
from enrollpay.service.context import Context
from enrollpay.service.payers import customer_of_attempt

__all__ = [
    "charge_invoice",
    "current_try",
    "invoice_attempt",
    "invoicer",
    "link_invoice",
]


def invoicer(ctx: Context, gateway: Gateway) -> ItemInvoiceGateway | None:
    """The verbs to collect items with as invoices, or None to charge them directly."""
    if ctx.config.installment_collection != "invoice":
        return None
    return item_invoices(gateway)


def charge_invoice(
    ctx: Context, invoices: ItemInvoiceGateway, attempt: PaymentAttempt, customer_id: str
) -> InvoiceCharge:
    """Issue and charge the item's invoice, or pay again the one an earlier attempt issued."""
    with ctx.unit() as tx:
        item = tx.get_item(attempt.item_id)
    method = attempt.payment_method_id or ""
    if item is not None and item.gateway_invoice_id is not None:
        return invoices.pay_invoice(
            item.gateway_invoice_id,
            payment_method_id=method,
            idempotency_key=f"{attempt.idempotency_key}:pay",
        )
    return invoices.invoice_item(
        customer_id=customer_id,
        payment_method_id=method,
        amount=attempt.amount,
        idempotency_key=attempt.idempotency_key,
        description=f"Installment {item.seq if item else ''} of {attempt.enrollment_id}".strip(),
        metadata={
            "enrollment_id": attempt.enrollment_id,
            "item_id": attempt.item_id,
            "attempt_id": attempt.id,
        },
        due_date=None if item is None else item.due,
    )


def link_invoice(
    ctx: Context,
    tx: StoreTransaction,
    attempt_id: str,
    *,
    invoice_id: str,
    payment_intent_id: str | None,
    hosted_invoice_url: str | None,
) -> None:
    """Record the invoice, its payment and page on the attempt and its item (once each).

    The enrollment is locked by the caller. A payment id held by an earlier
    attempt (Stripe's same PaymentIntent, tried again) moves to this one.
    """
    attempt = ctx.lock_attempt(tx, attempt_id)
    if attempt.gateway_payment_id is not None:
        payment_intent_id = None  # it has its payment: an older try's event moves nothing
    if payment_intent_id is not None:
        holder = tx.find_attempt_by_gateway_id(payment_intent_id)
        if holder is not None and holder.id != attempt.id:
            if holder.item_id != attempt.item_id:
                payment_intent_id = None  # not this item's payment: never taken over
            else:
                tx.update_attempt(attrs.evolve(holder, gateway_payment_id=None))
    changes: dict[str, object] = {}
    if attempt.gateway_invoice_id != invoice_id:
        changes["gateway_invoice_id"] = invoice_id
    if hosted_invoice_url and attempt.hosted_invoice_url != hosted_invoice_url:
        changes["hosted_invoice_url"] = hosted_invoice_url
    if payment_intent_id is not None and attempt.gateway_payment_id is None:
        changes["gateway_payment_id"] = payment_intent_id
    if changes:
        attempt = attrs.evolve(attempt, **changes)  # type: ignore[arg-type]
        tx.update_attempt(attempt)
    item = ctx.lock_item(tx, attempt.item_id)
    assert item is not None  # noqa: S101 - an attempt's item exists
    if item.gateway_invoice_id == invoice_id and (
        not hosted_invoice_url or item.hosted_invoice_url == hosted_invoice_url
    ):
        return
    first = item.gateway_invoice_id != invoice_id
    page = hosted_invoice_url or item.hosted_invoice_url
    item = attrs.evolve(item, gateway_invoice_id=invoice_id, hosted_invoice_url=page)
    tx.update_item(item)
    if first:
        ctx.emit(tx, [invoiced_event(item, attempt_id=attempt.id, invoice_id=invoice_id,
                                     payment_intent_id=payment_intent_id,
                                     hosted_invoice_url=item.hosted_invoice_url,
                                     at=ctx.now())])  # fmt: skip
        ctx.audit(
            tx,
            actor="system",
            action="installment.invoiced",
            entity_type="schedule_item",
            entity_id=item.id,
            data={"attempt_id": attempt.id, "invoice_id": invoice_id},
        )


def invoice_attempt(tx: StoreTransaction, event: GatewayEvent) -> PaymentAttempt | None:
    """The attempt an item invoice's event settles: the item's newest try at that invoice.

    None when the event is not for an item invoice of ours (no ``item_id``
    in the invoice's metadata, an item linked to another invoice, another
    customer's): the caller then looks further (a subscription's invoice).
    """
    item_id = event.metadata.get("item_id")
    if event.invoice_id is None or not item_id:
        return None
    item = tx.get_item(item_id)
    if item is None or item.gateway_invoice_id not in (None, event.invoice_id):
        return None
    attempts = tx.attempts_of(item_id)
    if not attempts:
        return None
    last = attempts[-1]
    if last.gateway_invoice_id not in (None, event.invoice_id):
        return None
    unlinked = last.gateway_invoice_id is None and item.gateway_invoice_id is None
    if unlinked and last.id != event.metadata.get("attempt_id"):
        return None  # not linked yet: only the attempt that issued it (its metadata names it)
    tries = [a for a in attempts if a.gateway_invoice_id == event.invoice_id]
    if last.gateway_invoice_id is None:
        tries.append(last)  # the try in flight, not linked yet
    number = event.invoice_attempt
    if number is not None and 1 <= number < len(tries):
        last = tries[number - 1]  # an older try's report (Stripe's attempt_count)
    customer = customer_of_attempt(tx, last)  # the item's payer's, or the student's
    if customer is None or customer.gateway_customer_id != event.customer_id:
        return None
    return last


def current_try(
    tx: StoreTransaction, attempt: PaymentAttempt, event: GatewayEvent
) -> PaymentAttempt:
    """For an invoice's payment that succeeded on an earlier try's record, the try now running.

    Stripe confirms one PaymentIntent per invoice on every try: its success
    reported while a newer try waits for its answer pays that try. Any
    other event stays with the attempt it was found on (a late failure of
    an older try never fails the newer one).
    """
    if attempt.gateway_invoice_id is None or event.kind not in (
        "payment_succeeded",
        "invoice_paid",
    ):
        return attempt
    last = tx.attempts_of(attempt.item_id)[-1]
    if (
        last.id != attempt.id
        and last.status == AttemptStatus.PENDING
        and (last.gateway_invoice_id in (None, attempt.gateway_invoice_id))
    ):
        return last
    return attempt
