"""A unit of work writes its audit entries and receipts last.

The audit chain and a receipt series admit one writer at a time, held
until commit; the service asks for them at the end of each unit of work
(``Context.unit``), after every other write and every row lock. These
tests record the store calls of each committed transaction through the
whole life of an enrollment and check that order, on every store.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import pytest

from enrollpay import Installments, PaymentSystem
from enrollpay.domain.records import Product
from enrollpay.ports import Store, StoreTransaction
from enrollpay.service.context import Context
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds
from tests.service.conftest import usd
from tests.support.stores import WrappedStore

#: The writes that wait for the chain or a receipt series, and what comes with them.
SERIALISED = frozenset({"append_audit", "next_receipt_sequence"})
WITH_THEM = SERIALISED | {"add_receipt", "add_events"}
#: Store calls that write or lock (every other call reads).
WRITE_PREFIXES = (
    "add_", "update_", "put_", "replace_", "set_", "lock_", "reserve_", "redeem_", "claim_",
    "record_", "mark_", "advance_", "acquire_", "release_", "prune_",
)  # fmt: skip


class _Recording:
    """A transaction that notes the name of every store method called on it."""

    def __init__(self, tx: StoreTransaction, calls: list[str]) -> None:
        self._tx = tx
        self._calls = calls

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._tx, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self._calls.append(name)
            return method(*args, **kwargs)

        return call


class RecordingStore(WrappedStore):
    """A store that keeps the calls of each transaction it committed."""

    def __init__(self, inner: Store) -> None:
        super().__init__(inner)
        self.committed_calls: list[list[str]] = []
        #: The calls of the transaction in progress.
        self.open: list[str] = []

    def wrap(self, tx: StoreTransaction) -> StoreTransaction:
        """The transaction, its calls noted in a new list."""
        self.open = []
        return cast("StoreTransaction", _Recording(tx, self.open))

    def committed(self) -> None:
        """Keep the committed transaction's calls."""
        self.committed_calls.append(self.open)


def _late_writes(calls: list[str]) -> list[str]:
    """The writes a transaction made after its first serialised one, other than theirs."""
    first = next((n for n, name in enumerate(calls) if name in SERIALISED), len(calls))
    return [c for c in calls[first:] if c.startswith(WRITE_PREFIXES) and c not in WITH_THEM]


def test_each_unit_of_work_audits_and_numbers_receipts_after_all_its_other_writes(
    store: Store, fake: FakeGateway, clock: FrozenClock
) -> None:
    """Enroll, pay by webhook, collect, pay by hand, refund, cancel: the chain's part comes last."""
    recording = RecordingStore(store)
    system = PaymentSystem(store=recording, gateway=fake, clock=clock, ids=SequentialIds())
    course: Product = system.register_product(
        product_type="course",
        product_id="c-1",
        name="Course",
        price=usd("300.00"),
        payment_plan=Installments(3),
    )
    enrolled = system.enroll(user_id="u-1", product_id=course.id)
    assert enrolled.client_secret is not None
    fake.complete_payment(enrolled.client_secret)
    fake.deliver(system)  # first installment, by webhook
    clock.advance(timedelta(days=31))
    (collected,) = system.collect_due().outcomes  # second, off-session
    assert collected.result == "succeeded"
    third = system.list_schedule_items(enrollment_id=enrolled.enrollment_id)[2]
    system.record_manual_payment(third.id, method="cash", actor="registrar")
    first_payment = system.payment_details(enrolled.enrollment_id).payments[0]
    system.refund_payment(first_payment.id, amount=usd("40.00"), reason="goodwill", actor="admin")
    fake.deliver(system)
    system.cancel_enrollment(enrolled.enrollment_id, actor="admin", reason="moved away")
    fake.deliver(system)

    numbering = [calls for calls in recording.committed_calls if "next_receipt_sequence" in calls]
    auditing = [calls for calls in recording.committed_calls if "append_audit" in calls]
    assert len(numbering) >= 4  # three receipts and a credit note at least
    assert len(auditing) >= len(numbering)
    assert [_late_writes(calls) for calls in recording.committed_calls] == [
        [] for _ in recording.committed_calls
    ]
    assert system.verify_audit_chain().ok
    receipts = system.list_receipts(enrolled.enrollment_id)
    assert [(r.kind, r.sequence) for r in receipts][:3] == [
        ("receipt", 1),
        ("receipt", 2),
        ("receipt", 3),
    ]
    assert "credit_note" in {r.kind for r in receipts}


def test_held_writes_are_dropped_with_a_unit_that_raises(store: Store, clock: FrozenClock) -> None:
    """A unit of work that raises writes neither its audit entries nor anything else."""
    system = PaymentSystem(store=store, clock=clock, ids=SequentialIds())
    ctx: Context = system._ctx
    before = system.audit_log()

    def fail(tx: StoreTransaction) -> None:
        ctx.audit(tx, actor="t", action="test.held", entity_type="t", entity_id="1")
        raise RuntimeError("the unit fails after asking for an audit entry")

    with pytest.raises(RuntimeError), ctx.unit() as tx:
        fail(tx)
    assert system.audit_log() == before
    with ctx.unit() as tx:
        ctx.audit(tx, actor="t", action="test.held", entity_type="t", entity_id="2")
    assert [e.entity_id for e in system.audit_log() if e.action == "test.held"] == ["2"]


def test_in_a_unit_the_entry_waits_for_its_end_and_outside_one_it_does_not(
    store: Store, clock: FrozenClock
) -> None:
    """Inside ``unit()`` the append comes when the block's work is done; elsewhere at once."""
    recording = RecordingStore(store)
    system = PaymentSystem(store=recording, clock=clock, ids=SequentialIds())
    ctx: Context = system._ctx
    seen: list[list[str]] = []
    with ctx.unit() as tx:
        ctx.audit(tx, actor="t", action="test.held", entity_type="t", entity_id="1")
        seen.append(list(recording.open))
    with recording.transaction() as tx:
        ctx.audit(tx, actor="t", action="test.direct", entity_type="t", entity_id="2")
        seen.append(list(recording.open))
    assert seen == [[], ["append_audit"]]
    assert recording.committed_calls == [["append_audit"], ["append_audit"]]
    assert [e.action for e in system.audit_log()][-2:] == ["test.held", "test.direct"]
