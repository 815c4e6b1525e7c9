"""Recording a discount on a new enrollment (``discount.applied``).

A discount is decided before the enrollment exists
(:func:`~enrollpay.domain.discounts.apply_discounts`); this records it on
the enrollment just opened and adds the event that announces it, so the
host hears of the discount through the outbox like any other change.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from enrollpay.domain.discounts import AppliedDiscount
from enrollpay.domain.events import EventDraft
from enrollpay.domain.machine import Change
from enrollpay.domain.records import Enrollment
from enrollpay.domain.transitions.items import money_data
from enrollpay.errors import InvalidInputError

__all__ = ["record_discount"]


def record_discount(
    opened: Change[Enrollment], applied: AppliedDiscount, *, at: datetime
) -> Change[Enrollment]:
    """``opened`` with ``applied`` on its record and ``discount.applied`` after its events.

    Without a coupon or scholarship nothing changes. The enrollment's
    ``price`` must be the discounted price.
    """
    if applied.coupon_code is None and applied.scholarship_id is None:
        return opened
    record = opened.record
    if record.price != applied.price:
        raise InvalidInputError(
            f"enrollment {record.id!r} is priced {record.price}, "
            f"the discount leaves {applied.price}"
        )
    record = attrs.evolve(
        record,
        list_price=applied.list_price,
        coupon_code=applied.coupon_code,
        scholarship_id=applied.scholarship_id,
    )
    event = EventDraft(
        "discount.applied",
        record.id,
        at,
        {
            "list_price": money_data(applied.list_price),
            "discount": money_data(applied.discount),
            "price": money_data(applied.price),
            "coupon_code": applied.coupon_code,
            "coupon_off": money_data(applied.coupon_off),
            "scholarship_id": applied.scholarship_id,
            "scholarship_off": money_data(applied.scholarship_off),
        },
    )
    return Change(record, (*opened.events, event))
