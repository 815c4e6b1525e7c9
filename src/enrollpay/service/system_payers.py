"""Payer methods of :class:`~enrollpay.PaymentSystem`: registering payers and their statements.

Each is a function of the system (``self``) that delegates to
:mod:`enrollpay.service.payers` or :mod:`enrollpay.service.payer_statements`;
:mod:`enrollpay.service.system` attaches them to the class by name.
``enroll(..., payers=[PayerShare(...), ...])`` splits an enrollment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from enrollpay.domain.payers import Payer, PayerKind
from enrollpay.service import payer_statements, payers
from enrollpay.service.payer_statements import PayerStatement

if TYPE_CHECKING:
    from enrollpay.service.system import PaymentSystem

__all__ = ["add_payer", "get_payer", "list_payers", "payer_statement", "set_payer_method"]


def add_payer(
    self: PaymentSystem,
    *,
    kind: PayerKind,
    name: str,
    email: str,
    payer_id: str | None = None,
    gateway_customer_id: str | None = None,
    payment_method_id: str | None = None,
    actor: str = "system",
) -> Payer:
    """Register a payer (audited): ``PayerError`` if malformed, ``DuplicateError`` if taken.

    ``gateway_customer_id`` and ``payment_method_id`` are the payer's
    customer and saved method at the gateway, when the host has them; else
    the payer's first checkout creates the customer and saves the method.
    """
    return payers.add_payer(
        self._ctx,
        kind=kind,
        name=name,
        email=email,
        payer_id=payer_id,
        gateway_customer_id=gateway_customer_id,
        payment_method_id=payment_method_id,
        actor=actor,
    )


def get_payer(self: PaymentSystem, payer_id: str) -> Payer:
    """The payer with this id (``PayerNotFoundError``)."""
    return payers.get_payer(self._ctx, payer_id)


def list_payers(self: PaymentSystem) -> list[Payer]:
    """Every payer, by id."""
    return payers.list_payers(self._ctx)


def set_payer_method(
    self: PaymentSystem,
    payer_id: str,
    *,
    gateway_customer_id: str,
    payment_method_id: str | None,
    actor: str = "system",
) -> Payer:
    """Record a payer's gateway customer and saved method: their items are charged with it."""
    return payers.set_payer_method(
        self._ctx,
        payer_id,
        gateway_customer_id=gateway_customer_id,
        payment_method_id=payment_method_id,
        actor=actor,
    )


def payer_statement(
    self: PaymentSystem, payer_id: str, *, currency: str | None = None
) -> PayerStatement:
    """Every enrollment ``payer_id`` pays for, with what is paid, due and overdue per currency."""
    return payer_statements.payer_statement(self._ctx, payer_id, currency=currency)
