"""Payers: registering them, splitting an enrollment between them, and whose card pays an item.

A schedule item names the payer who owes it (``ScheduleItem.payer_id``;
None: the student, as before payers existed). Everything that charges an
item, or checks whose payment a gateway report is, asks
:func:`customer_for` / :func:`customer_of_attempt` here instead of
reading the student's customer: a payer's items are charged with the
payer's gateway customer and saved method, the student's with the
student's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol

import attrs

from enrollpay.domain.money import Money
from enrollpay.domain.payers import Payer, PayerKind, PayerShare, check_shares, split_schedule
from enrollpay.domain.plans import PaymentPlan, Subscription
from enrollpay.domain.records import Customer, Enrollment, Payment, PaymentAttempt, ScheduleItem
from enrollpay.domain.schedule import ScheduleLine
from enrollpay.errors import InvalidInputError
from enrollpay.errors_payers import PayerNotFoundError, PayerShareError
from enrollpay.ports import Gateway, StoreTransaction
from enrollpay.service.base import check_text
from enrollpay.service.context import Context

__all__ = [
    "add_payer",
    "audit_split",
    "customer_for",
    "customer_of_attempt",
    "ensure_payer_customer",
    "first_due_by_payer",
    "get_payer",
    "list_payers",
    "payer_customer_key",
    "refund_targets",
    "remember_method",
    "set_payer_method",
    "split_lines",
]


class _Lookups(Protocol):
    def get_customer(self, user_id: str) -> Customer | None: ...
    def get_payer(self, payer_id: str) -> Payer | None: ...
    def get_item(self, item_id: str) -> ScheduleItem | None: ...
    def get_enrollment(self, enrollment_id: str) -> Enrollment | None: ...


def payer_customer_key(payer_id: str) -> str:
    """The idempotency key that creates a payer's gateway customer exactly once."""
    return f"customer:payer:{payer_id}"


def add_payer(
    ctx: Context,
    *,
    kind: PayerKind,
    name: str,
    email: str,
    payer_id: str | None = None,
    gateway_customer_id: str | None = None,
    payment_method_id: str | None = None,
    actor: str = "system",
) -> Payer:
    """Register a payer (audited ``payer.created``); ``DuplicateError`` if the id is taken."""
    pid = ctx.new_id("payer") if payer_id is None else check_text(payer_id, "payer_id")
    payer = Payer(
        id=pid,
        kind=kind,
        name=check_text(name, "name", limit=200),
        email=email,
        gateway_customer_id=gateway_customer_id,
        payment_method_id=payment_method_id,
        created_at=ctx.now(),
    )
    if payment_method_id is not None and gateway_customer_id is None:
        raise InvalidInputError("a payment method belongs to a gateway customer: give both")
    ctx.authorize(actor, "add_payer", pid)
    with ctx.unit() as tx:
        tx.add_payer(payer)
        ctx.audit(
            tx,
            actor=actor,
            action="payer.created",
            entity_type="payer",
            entity_id=pid,
            data={"kind": kind, "gateway_customer_id": gateway_customer_id},
        )
    return payer


def get_payer(ctx: Context, payer_id: str) -> Payer:
    """The payer with this id; ``PayerNotFoundError`` if there is none."""
    with ctx.store.reader() as view:
        payer = view.get_payer(check_text(payer_id, "payer_id"))
    if payer is None:
        raise PayerNotFoundError(payer_id)
    return payer


def list_payers(ctx: Context) -> list[Payer]:
    """Every payer, by id."""
    with ctx.store.reader() as view:
        return view.list_payers()


def set_payer_method(
    ctx: Context,
    payer_id: str,
    *,
    gateway_customer_id: str,
    payment_method_id: str | None,
    actor: str = "system",
) -> Payer:
    """Record the payer's gateway customer and saved method (audited ``payer.method_saved``)."""
    check_text(gateway_customer_id, "gateway_customer_id")
    if payment_method_id is not None:
        check_text(payment_method_id, "payment_method_id")
    ctx.authorize(actor, "set_payer_method", payer_id)
    with ctx.unit() as tx:
        payer = tx.get_payer(check_text(payer_id, "payer_id"))
        if payer is None:
            raise PayerNotFoundError(payer_id)
        payer = attrs.evolve(
            payer, gateway_customer_id=gateway_customer_id, payment_method_id=payment_method_id
        )
        tx.update_payer(payer)
        ctx.audit(
            tx,
            actor=actor,
            action="payer.method_saved",
            entity_type="payer",
            entity_id=payer.id,
            data={"gateway_customer_id": gateway_customer_id},
        )
    return payer


def split_lines(
    ctx: Context,
    tx: StoreTransaction,
    lines: tuple[ScheduleLine, ...],
    payers: Sequence[PayerShare] | None,
    *,
    plan: PaymentPlan,
    free: bool,
) -> tuple[ScheduleLine, ...]:
    """The schedule split between ``payers`` (None: the lines as they are, the student's).

    Every payer must exist (``PayerNotFoundError``); a subscription is
    billed by the period and is not split (``PayerShareError``); a free
    enrollment has nothing to split. Amounts respect the gateway's
    granularity and minimum charge (see :mod:`enrollpay.domain.payers`).
    """
    if payers is None:
        return lines
    shares = check_shares(payers)
    for share in shares:
        if tx.get_payer(share.payer_id) is None:
            raise PayerNotFoundError(share.payer_id)
    if isinstance(plan, Subscription):
        raise PayerShareError("payers split full payment and installment plans, not subscriptions")
    if free:
        return lines
    gateway = ctx.gateway
    currency = lines[0].amount.currency
    return split_schedule(
        lines,
        shares,
        granularity=1 if gateway is None else gateway.amount_granularity(currency),
        minimum=None if gateway is None else gateway.minimum_charge(currency),
    )


def first_due_by_payer(items: Sequence[ScheduleItem], today: date) -> dict[str, str]:
    """Each payer's first item due by ``today``, by payer id (the student's are not named)."""
    due = (item for item in sorted(items, key=lambda i: i.seq) if item.due <= today)
    found: dict[str, str] = {}
    for item in due:
        if item.payer_id is not None:
            found.setdefault(item.payer_id, item.id)
    return found


def audit_split(
    ctx: Context,
    tx: StoreTransaction,
    enrollment_id: str,
    payers: Sequence[PayerShare] | None,
    items: Sequence[ScheduleItem],
    *,
    actor: str,
) -> None:
    """Write ``enrollment.split``: who pays which share, and how many items each owes."""
    if not payers:
        return
    ctx.audit(
        tx,
        actor=actor,
        action="enrollment.split",
        entity_type="enrollment",
        entity_id=enrollment_id,
        data={
            "shares": {s.payer_id: s.share_bp for s in payers},
            "items": {s.payer_id: sum(i.payer_id == s.payer_id for i in items) for s in payers},
        },
    )


def refund_targets(
    tx: StoreTransaction, available: Sequence[tuple[Payment, Money]], total: Money
) -> dict[str, list[int]]:
    """How much of ``total`` each payment's payer gets back, as a counter shared by their payments.

    ``available`` is every payment with what may still be refunded of it.
    Payments are grouped by their item's payer (None: the student); with
    one group the whole total is that group's, as before payers. With
    several, ``total`` is allocated over the groups in proportion to what
    each may still have refunded (the leftover of the flooring to the
    group met first), which never exceeds it. The returned lists are
    shared by the payments of one group: the caller takes from them.
    """
    group_of: dict[str, str | None] = {}
    room: dict[str | None, int] = {}
    for payment, left in available:
        item = tx.get_item(payment.item_id)
        payer = None if item is None else item.payer_id
        group_of[payment.id] = payer
        room[payer] = room.get(payer, 0) + left.minor
    groups = list(room)
    parts = total.allocate([room[g] for g in groups]) if len(groups) > 1 else (total,) * len(groups)
    counters = {g: [part.minor] for g, part in zip(groups, parts, strict=True)}
    return {pid: counters[group] for pid, group in group_of.items()}


def customer_for(view: _Lookups, user_id: str, item: ScheduleItem) -> Customer | None:
    """Whose gateway customer pays ``item``: its payer's, or (no payer) the student's.

    A payer is given as a :class:`~enrollpay.domain.records.Customer`
    whose ``user_id`` is the payer's id; None when the payer has no
    gateway customer yet.
    """
    if item.payer_id is None:
        return view.get_customer(user_id)
    payer = view.get_payer(item.payer_id)
    if payer is None or payer.gateway_customer_id is None:
        return None
    return Customer(payer.id, payer.gateway_customer_id, payer.payment_method_id)


def customer_of_attempt(view: _Lookups, attempt: PaymentAttempt) -> Customer | None:
    """The customer whose payment ``attempt`` is (its item's payer's, or the student's)."""
    enrollment = view.get_enrollment(attempt.enrollment_id)
    item = view.get_item(attempt.item_id)
    if enrollment is None or item is None:
        return None
    return customer_for(view, enrollment.user_id, item)


def remember_method(
    ctx: Context,
    tx: StoreTransaction,
    enrollment: Enrollment,
    item: ScheduleItem,
    payment_method_id: str,
    *,
    actor: str,
) -> None:
    """Keep the method an on-session payment was made with, for the one who paid.

    The student's customer (``customer.payment_method_saved``) or the
    item's payer (``payer.method_saved``), so that later items of the same
    payer are charged with it off-session.
    """
    if item.payer_id is not None:
        payer = tx.get_payer(item.payer_id)
        if payer is None or payer.payment_method_id == payment_method_id:
            return
        tx.update_payer(attrs.evolve(payer, payment_method_id=payment_method_id))
        ctx.audit(
            tx, actor=actor, action="payer.method_saved", entity_type="payer", entity_id=payer.id,
            data={"gateway_customer_id": payer.gateway_customer_id},
        )  # fmt: skip
        return
    customer = tx.get_customer(enrollment.user_id)
    if customer is not None and customer.payment_method_id != payment_method_id:
        tx.put_customer(attrs.evolve(customer, payment_method_id=payment_method_id))
        ctx.audit(
            tx,
            actor=actor,
            action="customer.payment_method_saved",
            entity_type="customer",
            entity_id=enrollment.user_id,
        )


def ensure_payer_customer(ctx: Context, gateway: Gateway, payer_id: str) -> Customer:
    """The payer's gateway customer, created once (by the payer's key) and stored on the payer."""
    with ctx.unit() as tx:
        payer = tx.get_payer(payer_id)
    if payer is None:
        raise PayerNotFoundError(payer_id)
    if payer.gateway_customer_id is None:
        customer_id = gateway.ensure_customer(
            f"payer:{payer.id}", idempotency_key=payer_customer_key(payer.id)
        )
        with ctx.unit() as tx:
            current = tx.get_payer(payer_id)
            assert current is not None  # noqa: S101 - payers are never deleted
            if current.gateway_customer_id is None:
                current = attrs.evolve(current, gateway_customer_id=customer_id)
                tx.update_payer(current)
                ctx.audit(
                    tx,
                    actor="system",
                    action="payer.customer_created",
                    entity_type="payer",
                    entity_id=payer_id,
                    data={"gateway_customer_id": customer_id},
                )
            payer = current
    assert payer.gateway_customer_id is not None  # noqa: S101
    return Customer(payer.id, payer.gateway_customer_id, payer.payment_method_id)
