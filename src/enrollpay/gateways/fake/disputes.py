"""The fake's disputes: a cardholder disputes a payment, the bank decides, webhooks follow.

:class:`FakeDisputes` is reached as ``FakeGateway.disputes``. A test opens a
dispute on a succeeded payment (a chargeback, or an inquiry), moves it on
and closes it; each step emits the ``charge.dispute.*`` events Stripe
emits, each carrying the whole Dispute object as it stands, so the real
webhook path (duplicates, reordering) is what tests drive:

- a chargeback opens with ``charge.dispute.created`` and
  ``charge.dispute.funds_withdrawn`` (the disputed amount leaves the
  balance; its balance transaction is listed on the dispute);
- an inquiry opens with ``charge.dispute.created`` only; it may escalate
  into a chargeback (``charge.dispute.updated``, ``funds_withdrawn``);
- evidence moves it under review (``charge.dispute.updated``);
- closing emits ``charge.dispute.closed`` (``won``, ``lost``, or an
  inquiry's ``warning_closed``) and, when a chargeback is won,
  ``charge.dispute.funds_reinstated``.

While a chargeback is not won, the payment cannot be refunded (the fake's
``refund`` answers as Stripe does to a disputed charge).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

import attrs

from enrollpay.domain.money import Money
from enrollpay.errors import GatewayRequestError
from enrollpay.gateways.events import read_dispute
from enrollpay.gateways.fake.intents import Intent
from enrollpay.ports import Clock, GatewayRefund, LedgerDispute

__all__ = ["FakeDispute", "FakeDisputes"]

_UNDECIDED = ("warning_needs_response", "warning_under_review", "needs_response", "under_review")


@attrs.define
class FakeDispute:
    """A dispute inside the fake (mutable, like the gateway's own record)."""

    id: str
    intent: Intent
    amount: Money
    status: str
    reason: str
    created: datetime
    evidence_due_by: datetime
    #: The balance transactions: the withdrawal, then the reinstatement (signed amounts).
    movements: list[tuple[str, int]] = attrs.Factory(list)

    @property
    def inquiry(self) -> bool:
        """Still an inquiry (no money moved)."""
        return self.status.startswith("warning_")


class FakeDisputes:
    """Every dispute the fake made, and the verbs that move them.

    ``intent`` finds a succeeded payment intent by id, ``refunds`` lists its
    refunds; ``emit`` creates a webhook event; ``new_id`` makes the fake's
    ids; ``clock`` dates them.
    """

    def __init__(
        self,
        *,
        lock: threading.RLock,
        new_id: Callable[[str], str],
        emit: Callable[[str, Mapping[str, Any]], None],
        clock: Clock,
        intent: Callable[[str], Intent],
        refunds: Callable[[str], list[GatewayRefund]],
    ) -> None:
        self._lock = lock
        self._new_id = new_id
        self._emit = emit
        self._clock = clock
        self._intent = intent
        self._refunds = refunds
        self._disputes: dict[str, FakeDispute] = {}
        #: Whether dispute objects name their PaymentIntent (set False to leave it out).
        self.name_payment_intent = True

    def open(
        self,
        payment: str,
        *,
        amount: Money | None = None,
        inquiry: bool = False,
        reason: str = "fraudulent",
        evidence_due_by: datetime | None = None,
    ) -> str:
        """The cardholder disputes a succeeded payment (by intent id); return the dispute id.

        ``amount`` defaults to the whole payment; ``evidence_due_by`` to a
        week from now. A chargeback withdraws the amount at once. A payment
        refunded in full cannot be disputed (as at Stripe).
        """
        with self._lock:
            intent = self._intent(payment)
            refunded = sum(r.amount.minor for r in self._refunds(intent.id) if r.status != "failed")
            if refunded >= intent.amount.minor:
                raise GatewayRequestError("A charge refunded in full cannot be disputed")
            disputed = amount or intent.amount
            if disputed.currency != intent.amount.currency or not (
                0 < disputed.minor <= intent.amount.minor
            ):
                raise GatewayRequestError("Invalid dispute amount", param="amount")
            now = self._clock.now()
            dispute = FakeDispute(
                id=self._new_id("du"),
                intent=intent,
                amount=disputed,
                status="warning_needs_response" if inquiry else "needs_response",
                reason=reason,
                created=now,
                evidence_due_by=evidence_due_by or now + timedelta(days=7),
            )
            self._disputes[dispute.id] = dispute
            self._emit("charge.dispute.created", self.dispute_object(dispute))
            if not inquiry:
                self._withdraw(dispute)
            return dispute.id

    def escalate(self, dispute_id: str) -> None:
        """An inquiry becomes a chargeback: the amount is withdrawn."""
        with self._lock:
            dispute = self._get(dispute_id, "escalate", ("warning_needs_response",
                                                        "warning_under_review"))  # fmt: skip
            dispute.status = "needs_response"
            self._emit("charge.dispute.updated", self.dispute_object(dispute))
            self._withdraw(dispute)

    def submit_evidence(self, dispute_id: str) -> None:
        """The school answers: the dispute goes under review (``charge.dispute.updated``)."""
        with self._lock:
            dispute = self._get(dispute_id, "submit evidence to",
                                ("warning_needs_response", "needs_response"))  # fmt: skip
            dispute.status = "warning_under_review" if dispute.inquiry else "under_review"
            self._emit("charge.dispute.updated", self.dispute_object(dispute))

    def close(self, dispute_id: str, outcome: Literal["won", "lost"] = "won") -> None:
        """The bank decides (an inquiry just closes: ``warning_closed``).

        A won chargeback gives the withdrawn amount back
        (``charge.dispute.funds_reinstated`` after ``charge.dispute.closed``).
        An inquiry cannot be lost: escalate it first.
        """
        with self._lock:
            dispute = self._get(dispute_id, "close", _UNDECIDED)
            if dispute.inquiry:
                if outcome == "lost":
                    raise GatewayRequestError("An inquiry is not lost; escalate it first")
                dispute.status = "warning_closed"
            else:
                dispute.status = outcome
            self._emit("charge.dispute.closed", self.dispute_object(dispute))
            if dispute.status == "won" and dispute.movements:
                dispute.movements.append((self._new_id("txn"), dispute.amount.minor))
                self._emit("charge.dispute.funds_reinstated", self.dispute_object(dispute))

    def refuses_refund(self, intent_id: str) -> bool:
        """Whether a chargeback of the payment (not won) stands in the way of a refund."""
        with self._lock:
            return any(
                d.intent.id == intent_id and not d.inquiry and d.status != "won"
                for d in self._disputes.values()
            )

    def status_of(self, dispute_id: str) -> str:
        """The dispute's status in Stripe's words."""
        with self._lock:
            return self._get(dispute_id, "read", None).status

    def listed(self) -> list[LedgerDispute]:
        """Every dispute as the record lists it now (in no order), read as Stripe's would be."""
        with self._lock:
            return [
                LedgerDispute.of(read_dispute(self.dispute_object(d), Money), created=d.created)
                for d in self._disputes.values()
            ]

    def dispute_object(self, dispute: FakeDispute) -> dict[str, Any]:
        """The dispute as Stripe's ``dispute`` object."""
        intent = dispute.intent
        currency = dispute.amount.currency.lower()
        return {
            "id": dispute.id,
            "object": "dispute",
            "amount": dispute.amount.minor,
            "currency": currency,
            "charge": intent.id.replace("pi_", "ch_", 1),
            "payment_intent": intent.id if self.name_payment_intent else None,
            "status": dispute.status,
            "reason": dispute.reason,
            "created": int(dispute.created.timestamp()),
            "is_charge_refundable": dispute.inquiry,
            "evidence_details": {
                "due_by": int(dispute.evidence_due_by.timestamp()),
                "has_evidence": dispute.status.endswith("under_review"),
                "past_due": False,
                "submission_count": int(dispute.status.endswith("under_review")),
            },
            "balance_transactions": [
                {
                    "id": txn,
                    "object": "balance_transaction",
                    "amount": signed,
                    "currency": currency,
                    "type": "adjustment",
                    "reporting_category": "dispute",
                }
                for txn, signed in dispute.movements
            ],
            "metadata": {},
        }

    def _withdraw(self, dispute: FakeDispute) -> None:
        dispute.movements.append((self._new_id("txn"), -dispute.amount.minor))
        self._emit("charge.dispute.funds_withdrawn", self.dispute_object(dispute))

    def _get(self, dispute_id: str, verb: str, allowed: tuple[str, ...] | None) -> FakeDispute:
        dispute = self._disputes.get(dispute_id)
        if dispute is None:
            raise GatewayRequestError("No such dispute", param="dispute")
        if allowed is not None and dispute.status not in allowed:
            raise GatewayRequestError(f"Cannot {verb} a dispute that is {dispute.status}")
        return dispute
