"""Disputes for the local Stripe stand-in (:class:`~tests.support.stripe_server.FakeStripe`).

A test plays the cardholder and the bank through :meth:`StripeDisputes.create_dispute`,
:meth:`~StripeDisputes.submit_evidence` and :meth:`~StripeDisputes.decide_dispute`;
each emits the ``charge.dispute.*`` events Stripe sends, with the whole
Dispute object. The API answers ``GET /v1/disputes/{id}``,
``POST /v1/disputes/{id}/close`` (accepting the dispute: lost) and
``GET /v1/charges/{id}``, and refuses to refund a charged-back charge
(``charge_disputed``).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Literal

__all__ = ["StripeDisputes"]

_UNDECIDED = ("warning_needs_response", "warning_under_review", "needs_response", "under_review")


class StripeDisputes:
    """The disputes half of the stand-in; :class:`FakeStripe` provides the rest."""

    lock: threading.RLock
    charges: dict[str, dict[str, Any]]
    intents: dict[str, dict[str, Any]]
    disputes: dict[str, dict[str, Any]]
    #: Whether dispute objects name their PaymentIntent (False: only the charge, as
    #: for charges made without one).
    disputes_name_intents: bool

    def new_id(self, prefix: str) -> str:  # pragma: no cover - FakeStripe's
        raise NotImplementedError

    def now(self) -> int:  # pragma: no cover - FakeStripe's
        raise NotImplementedError

    def _emit(self, event_type: str, obj: Mapping[str, Any]) -> None:  # pragma: no cover
        raise NotImplementedError

    @staticmethod
    def _page(  # pragma: no cover - FakeStripe's
        objects: list[dict[str, Any]], params: dict[str, Any], url: str
    ) -> dict[str, Any]:
        raise NotImplementedError

    def _not_found(self, kind: str, ident: str, param: str) -> Exception:  # pragma: no cover
        raise NotImplementedError

    # -- the cardholder and the bank ---------------------------------------------------

    def create_dispute(
        self,
        intent_id: str,
        *,
        inquiry: bool = False,
        amount: int | None = None,
        reason: str = "fraudulent",
    ) -> str:
        """The cardholder disputes a succeeded intent's charge; a chargeback withdraws at once."""
        with self.lock:
            intent = self.intents[intent_id]
            charge = self.charges[intent["latest_charge"]]
            dispute = {
                "id": self.new_id("du"),
                "object": "dispute",
                "amount": charge["amount"] if amount is None else amount,
                "currency": charge["currency"],
                "charge": charge["id"],
                "payment_intent": intent_id if self.disputes_name_intents else None,
                "status": "warning_needs_response" if inquiry else "needs_response",
                "reason": reason,
                "created": self.now(),
                "is_charge_refundable": inquiry,
                "evidence_details": {"due_by": self.now() + 7 * 86400, "has_evidence": False,
                                     "past_due": False, "submission_count": 0},
                "balance_transactions": [],
                "livemode": False,
                "metadata": {},
            }  # fmt: skip
            self.disputes[dispute["id"]] = dispute
            charge["disputed"] = True
            self._emit("charge.dispute.created", dispute)
            if not inquiry:
                self._move_funds(dispute, -dispute["amount"], "charge.dispute.funds_withdrawn")
            return str(dispute["id"])

    def submit_evidence(self, dispute_id: str) -> None:
        """The school answers: under review (``charge.dispute.updated``)."""
        with self.lock:
            dispute = self.disputes[dispute_id]
            inquiry = dispute["status"].startswith("warning_")
            dispute["status"] = "warning_under_review" if inquiry else "under_review"
            dispute["evidence_details"].update(has_evidence=True, submission_count=1)
            self._emit("charge.dispute.updated", dispute)

    def decide_dispute(self, dispute_id: str, outcome: Literal["won", "lost"]) -> None:
        """The bank decides: ``charge.dispute.closed`` (then the funds back if won)."""
        with self.lock:
            dispute = self.disputes[dispute_id]
            assert dispute["status"] in _UNDECIDED, dispute["status"]
            inquiry = dispute["status"].startswith("warning_")
            dispute["status"] = "warning_closed" if inquiry else outcome
            self._emit("charge.dispute.closed", dispute)
            if dispute["status"] == "won":
                self._move_funds(dispute, dispute["amount"], "charge.dispute.funds_reinstated")

    def charge_disputed(self, charge_id: str) -> bool:
        """Whether a chargeback of the charge (not won) refuses refunds."""
        return any(
            d["charge"] == charge_id and d["status"] in ("needs_response", "under_review", "lost")
            for d in self.disputes.values()
        )

    def _move_funds(self, dispute: dict[str, Any], amount: int, event_type: str) -> None:
        dispute["balance_transactions"].append(
            {"id": self.new_id("txn"), "object": "balance_transaction", "amount": amount,
             "currency": dispute["currency"], "type": "adjustment",
             "reporting_category": "dispute" if amount < 0 else "dispute_reversal"}
        )  # fmt: skip
        self._emit(event_type, dispute)

    # -- the API ------------------------------------------------------------------------

    def _get_charge(self, params: dict[str, Any], charge_id: str) -> dict[str, Any]:
        charge = self.charges.get(charge_id)
        if charge is None:
            raise self._not_found("charge", charge_id, "id")
        return charge

    def _list_disputes(self, params: dict[str, Any]) -> dict[str, Any]:
        intent = params.get("payment_intent")
        disputes = [d for d in self.disputes.values() if intent in (None, d["payment_intent"])]
        return self._page(disputes, params, "/v1/disputes")

    def _get_dispute(self, params: dict[str, Any], dispute_id: str) -> dict[str, Any]:
        dispute = self.disputes.get(dispute_id)
        if dispute is None:
            raise self._not_found("dispute", dispute_id, "dispute")
        return dispute

    def _close_dispute(self, params: dict[str, Any], dispute_id: str) -> dict[str, Any]:
        """Accept the dispute: it is lost (Stripe's ``POST /v1/disputes/{id}/close``)."""
        dispute = self._get_dispute(params, dispute_id)
        self.decide_dispute(dispute_id, "lost")
        return dispute
