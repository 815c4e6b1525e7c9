"""On PostgreSQL, a unit of work holds the audit chain only for its last statements.

One racer is held in the middle of recording a payment: its payment is
written and its item is being marked paid (the id of the ``item.paid``
event is being made). Another racer, with its own connection pool, then
charges another enrollment's due item from start to finish: it must not
wait, because the first has not yet asked for the chain's lock or the
receipt counter (both come at the end of its unit of work). Receipts are
numbered in the order the units commit, and the chain verifies.
"""

from __future__ import annotations

import threading

import pytest

from enrollpay import ItemStatus
from enrollpay.service.results import ItemOutcome

from .test_pg_races import WAIT, HookedIds, Race, due_installment, installments_product
from .test_pg_races import race as race  # noqa: PLC0414 - the fixture, re-exported

pytestmark = pytest.mark.postgres


def test_another_payment_completes_while_one_is_being_recorded(race: Race) -> None:
    """The second charge commits in full while the first holds its enrollment mid-record."""
    admin = race.system()
    product = installments_product(admin)
    first = due_installment(race, admin, product, "u-first")
    second = due_installment(race, admin, product, "u-second")
    ids = HookedIds(race.ids)
    held = race.system(ids=ids)
    other = race.system()
    during: list[ItemOutcome | BaseException] = []
    waited: list[bool] = []

    def charge_the_other() -> None:
        try:
            during.append(other.retry_now(second.id, actor="worker"))
        except BaseException as error:  # reported by the assertion below
            during.append(error)

    def in_the_middle() -> None:
        worker = threading.Thread(target=charge_the_other)
        worker.start()
        worker.join(timeout=WAIT)  # a hang guard: it would wait for the held racer's lock
        waited.append(worker.is_alive())

    # The payment's id is made just before it is recorded; the next event id
    # after it is the item's ``item.paid``, in the same unit of work.
    ids.on_next("pay", lambda: ids.on_next("evt", in_the_middle))
    outcome = held.retry_now(first.id, actor="worker")

    assert outcome.result == "succeeded"
    assert waited == [False], "the other charge waited for the held unit of work"
    (finished,) = during
    assert isinstance(finished, ItemOutcome), finished
    assert finished.result == "succeeded"
    for item in (first, second):
        (now,) = [i for i in admin.list_schedule_items(enrollment_id=item.enrollment_id)
                  if i.id == item.id]  # fmt: skip
        assert now.status == ItemStatus.PAID
    # The first installments took numbers 1 and 2; the other committed first.
    numbers = {}
    for item in (first, second):
        (payment,) = [p for p in admin.payment_details(item.enrollment_id).payments
                      if p.item_id == item.id]  # fmt: skip
        receipt = admin.receipt_for_payment(payment.id)
        assert receipt is not None
        numbers[item.id] = receipt.sequence
    assert (numbers[second.id], numbers[first.id]) == (3, 4)
    assert admin.verify_audit_chain().ok
