"""The state machine: the only way any status of a stored record changes.

Seven machines, one per kind of record: :data:`ENROLLMENT`, :data:`ITEM` (a
scheduled payment), :data:`ATTEMPT` (one try at charging), :data:`REFUND`,
:data:`DISPUTE` (a cardholder's dispute of a payment), :data:`SEAT` (a seat
of a product with a seat limit) and :data:`WAITLIST` (a student waiting for
one), each a table of named transitions
(:class:`~enrollpay.domain.machine.Transition`). The functions here apply
them: each is a pure function of the current record and its inputs that
returns a :class:`~enrollpay.domain.machine.Change` (the new record and the
:class:`~enrollpay.domain.events.EventDraft` values it causes) or raises
:class:`~enrollpay.errors.IllegalTransitionError` naming the record, its
state and the transition. New records are made here too, in their initial
state. The service stores a change and its events in one transaction.

No other module constructs a record with a status or changes one
(``tests/unit/test_architecture.py`` enforces it).
"""

from enrollpay.domain.machine import Change, Machine, Transition
from enrollpay.domain.transitions.discounts import record_discount
from enrollpay.domain.transitions.disputes import open_dispute, report_dispute
from enrollpay.domain.transitions.enrollments import (
    cancel_enrollment,
    default_enrollment,
    hold_for_dispute,
    open_enrollment,
    pause_enrollment,
    resume_enrollment,
    save_payment_method,
    sync_enrollment,
)
from enrollpay.domain.transitions.items import (
    DeclineOutcome,
    cancel_item,
    decline_item,
    defer_retry,
    mark_item_paid,
    mark_overdue,
    new_item,
    no_card,
    pause_item,
    receive_on_item,
    release_item,
    remind_upcoming,
    requeue_item,
    require_action_on_item,
    reschedule_item,
    resume_item,
    start_processing,
    waive_item,
)
from enrollpay.domain.transitions.payments import (
    await_settlement,
    cancel_attempt,
    decline_attempt,
    lose_track,
    new_attempt,
    new_refund,
    require_action_on_attempt,
    resend_attempt,
    settle_refund,
    succeed_attempt,
)
from enrollpay.domain.transitions.plan_changes import apply_plan_change, supersede_item
from enrollpay.domain.transitions.seats import (
    accept_seat_offer,
    expire_seat_offer,
    hold_seat,
    join_waitlist,
    offer_seat,
    release_seat,
    reserve_seat,
)
from enrollpay.domain.transitions.subscriptions import link_subscription, record_subscription
from enrollpay.domain.transitions.table import (
    ATTEMPT,
    DISPUTE,
    ENROLLMENT,
    ITEM,
    MACHINES,
    REFUND,
    SEAT,
    WAITLIST,
)

__all__ = [
    "ATTEMPT",
    "DISPUTE",
    "ENROLLMENT",
    "ITEM",
    "MACHINES",
    "REFUND",
    "SEAT",
    "WAITLIST",
    "Change",
    "DeclineOutcome",
    "Machine",
    "Transition",
    "accept_seat_offer",
    "apply_plan_change",
    "await_settlement",
    "cancel_attempt",
    "cancel_enrollment",
    "cancel_item",
    "decline_attempt",
    "decline_item",
    "default_enrollment",
    "defer_retry",
    "expire_seat_offer",
    "hold_for_dispute",
    "hold_seat",
    "join_waitlist",
    "link_subscription",
    "lose_track",
    "mark_item_paid",
    "mark_overdue",
    "new_attempt",
    "new_item",
    "new_refund",
    "no_card",
    "offer_seat",
    "open_dispute",
    "open_enrollment",
    "pause_enrollment",
    "pause_item",
    "receive_on_item",
    "record_discount",
    "record_subscription",
    "release_item",
    "release_seat",
    "remind_upcoming",
    "report_dispute",
    "requeue_item",
    "require_action_on_attempt",
    "require_action_on_item",
    "reschedule_item",
    "resend_attempt",
    "reserve_seat",
    "resume_enrollment",
    "resume_item",
    "save_payment_method",
    "settle_refund",
    "start_processing",
    "succeed_attempt",
    "supersede_item",
    "sync_enrollment",
    "waive_item",
]
