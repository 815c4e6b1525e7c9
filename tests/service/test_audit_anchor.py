"""PaymentSystem.audit_anchor and verify_audit_chain(anchor=...), on every store."""

from __future__ import annotations

import attrs
import pytest

from enrollpay import PaymentSystem
from enrollpay.domain.records import Product
from enrollpay.errors import InvalidStateError
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway, FrozenClock
from tests.service.conftest import usd


def test_the_anchor_is_the_head_of_the_trail_and_keeps_holding_as_it_grows(
    system: PaymentSystem, course: Product
) -> None:
    """Count and last hash of the audit log; later writes do not break it."""
    system.enroll(user_id="u-1", product_id=course.id)
    log = system.audit_log()

    anchor = system.audit_anchor()

    assert (anchor.count, anchor.hash) == (len(log), log[-1].hash)
    system.enroll(user_id="u-2", product_id=course.id)
    later = system.verify_audit_chain(anchor=anchor)
    assert later.ok
    assert later.checked == len(system.audit_log()) > anchor.count
    assert system.verify_audit_chain().ok  # the old call still works


def test_an_anchor_from_a_longer_trail_is_not_reached(
    system: PaymentSystem, course: Product
) -> None:
    """An anchor claiming more entries than the trail has: the missing entry is named."""
    system.enroll(user_id="u-1", product_id=course.id)
    anchor = system.audit_anchor()
    ahead = attrs.evolve(anchor, count=anchor.count + 2)

    result = system.verify_audit_chain(anchor=ahead)

    assert (result.ok, result.first_broken_seq) == (False, anchor.count + 1)
    assert "entries were deleted from the end" in (result.reason or "")


def test_a_broken_trail_is_not_anchored(fake: FakeGateway, clock: FrozenClock) -> None:
    """With a tampered entry, audit_anchor refuses instead of vouching for it."""
    store = InMemoryStore()
    system = PaymentSystem(store=store, gateway=fake, clock=clock)
    system.register_product(product_type="course", product_id="c-1", name="Course",
                            price=usd("100"))  # fmt: skip
    (entry,) = system.audit_log()
    store._replace_audit_entry(0, attrs.evolve(entry, actor="mallory"))

    with pytest.raises(InvalidStateError, match="broken at entry 1"):
        system.audit_anchor()
