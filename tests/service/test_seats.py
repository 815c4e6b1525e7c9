"""Seats and waitlists through the facade, on every store (memory, SQLite, PostgreSQL).

A product with a seat limit: enrolling reserves a seat, the first payment
holds it, any cancellation (by an administrator, by a webhook, by the
final-failure policy) or a default releases it and offers it to the next
student in line; offers expire after ``seat_offer_ttl`` and pass on.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from enrollpay import FullPayment, Installments, PaymentSystem
from enrollpay.domain.records import Product
from enrollpay.domain.seats import SeatStatus, WaitlistStatus
from enrollpay.errors import (
    DuplicateEnrollmentError,
    InvalidInputError,
    PermissionDeniedError,
    ProductInactiveError,
    ProductNotFoundError,
)
from enrollpay.errors_seats import (
    AlreadyWaitlistedError,
    NoSeatLimitError,
    SeatOfferExpiredError,
    SeatOfferNotFoundError,
    SeatOfferNotOpenError,
    SeatsFullError,
)
from enrollpay.ports import Store
from enrollpay.service.base import SystemConfig
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds
from tests.service.conftest import usd
from tests.service.usecases.support import enroll_and_pay, refused, run_retries

TTL = timedelta(hours=48)


@pytest.fixture
def program(system: PaymentSystem) -> Product:
    """A 100.00 USD program paid in full, two seats."""
    product = system.register_product(
        product_type="program",
        product_id="bootcamp",
        name="Bootcamp",
        price=usd("100.00"),
        payment_plan=FullPayment(),
    )
    return system.set_seat_limit(product.id, 2, actor="admin:ana")


def kinds(system: PaymentSystem, prefix: str = "seat.") -> list[str]:
    """The seat and waitlist events in the outbox, in order."""
    return [e.kind for e in system.list_events() if e.kind.startswith((prefix, "waitlist."))]


def test_a_product_without_a_limit_tracks_no_seat(system: PaymentSystem, course: Product) -> None:
    """Today's behaviour: any number enroll, no seat is written, no seat event."""
    for n in range(3):
        system.enroll(user_id=f"u-{n}", product_id=course.id)
    view = system.seats(course.id)
    assert (view.counts.limit, view.counts.taken, view.counts.free, view.seats) == (
        None,
        0,
        None,
        (),
    )
    assert kinds(system) == []
    with refused(system, NoSeatLimitError):
        system.join_waitlist("u-9", course.id)


def test_the_seat_limit_is_set_audited_and_checked(system: PaymentSystem, program: Product) -> None:
    """Set, audited with its actor; the same limit again writes nothing; bad input refused."""
    assert program.seat_limit == 2
    assert system.get_product(program.id).seat_limit == 2
    entries = [(e.actor, e.action, dict(e.data)) for e in system.audit_log(entity_id=program.id)]
    assert entries[-1] == ("admin:ana", "product.seat_limit_set", {"seat_limit": 2})
    with refused(system, InvalidInputError, match="seat_limit"):
        system.set_seat_limit(program.id, -1)
    with refused(system, ProductNotFoundError):
        system.set_seat_limit("prod_missing", 3)
    before = len(system.audit_log())
    assert system.set_seat_limit(program.id, 2) == system.get_product(program.id)
    assert len(system.audit_log()) == before
    # Re-registering the product (an edit in the host app) keeps the limit.
    system.register_product(
        product_type="program", product_id="bootcamp", name="Bootcamp 2", price=usd("100.00"),
        payment_plan=FullPayment(),
    )  # fmt: skip
    assert system.get_product(program.id).seat_limit == 2


def test_only_an_authorised_actor_sets_a_limit(store: Store, clock: FrozenClock) -> None:
    """A refused actor gets PermissionDeniedError and the limit stays."""
    system = PaymentSystem(
        store=store, clock=clock, ids=SequentialIds(), authorize=lambda a, _x, _t: a == "admin"
    )
    product = system.register_product(
        product_type="program", product_id="p", name="P", price=usd("10.00"), actor="admin"
    )
    with pytest.raises(PermissionDeniedError):
        system.set_seat_limit(product.id, 5, actor="mallory")
    assert system.get_product(product.id).seat_limit is None


def test_enrolling_reserves_the_first_payment_holds_and_the_limit_refuses(
    system: PaymentSystem, fake: FakeGateway, program: Product
) -> None:
    """Reserved at enrollment, held once paid; a third student: SeatsFullError, nothing written."""
    first = system.enroll(user_id="u-1", product_id=program.id)
    mine = [e.kind for e in system.list_events() if e.enrollment_id == first.enrollment_id]
    assert mine[0] == "enrollment.created"
    assert mine[-1] == "seat.reserved"  # taken last in the enrollment's transaction
    view = system.seats(program.id)
    (seat,) = view.seats
    assert (seat.status, seat.enrollment_id, seat.user_id) == (
        SeatStatus.RESERVED,
        first.enrollment_id,
        "u-1",
    )
    assert first.client_secret is not None
    fake.complete_payment(first.client_secret)
    fake.deliver(system)
    assert system.seats(program.id).seats[0].status is SeatStatus.HELD
    system.enroll(user_id="u-2", product_id=program.id)
    counts = system.seats(program.id).counts
    assert (counts.held, counts.reserved, counts.offered, counts.free) == (1, 1, 0, 0)
    with refused(system, SeatsFullError, fake=fake) as info:
        system.enroll(user_id="u-3", product_id=program.id)
    assert isinstance(info.value, SeatsFullError)
    assert (info.value.product_id, info.value.seat_limit) == (program.id, 2)
    assert kinds(system) == ["seat.reserved", "seat.held", "seat.reserved"]
    actions = [e.action for e in system.audit_log() if e.entity_type == "seat"]
    assert actions == ["seat.reserved", "seat.held", "seat.reserved"]


def test_a_free_enrollment_holds_its_seat_at_once(system: PaymentSystem) -> None:
    """Nothing due at enrollment (a start in the future): the seat is held from the start."""
    product = system.register_product(
        product_type="program", product_id="later", name="Later", price=usd("300.00"),
        payment_plan=Installments(3, deposit=None),
    )  # fmt: skip
    system.set_seat_limit(product.id, 1)
    clock_today = system.clock.now().date()
    result = system.enroll(
        user_id="u-1", product_id=product.id, start=clock_today + timedelta(days=10)
    )
    assert not result.requires_immediate_payment
    (seat,) = system.seats(product.id).seats
    assert seat.status is SeatStatus.HELD


def test_the_waitlist_gets_the_seat_an_administrator_frees_in_join_order(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, program: Product
) -> None:
    """Full: two join; a cancellation offers the seat to the first; she accepts and enrolls."""
    paid = enroll_and_pay(system, fake, program, "u-1")
    system.enroll(user_id="u-2", product_id=program.id)
    first = system.join_waitlist("u-3", program.id)
    clock.advance(timedelta(minutes=1))
    second = system.join_waitlist("u-4", program.id)
    assert [e.id for e in system.seats(program.id).waiting] == [first.id, second.id]
    with refused(system, AlreadyWaitlistedError):
        system.join_waitlist("u-3", program.id)
    with refused(system, DuplicateEnrollmentError):
        system.join_waitlist("u-1", program.id)

    system.cancel_enrollment(paid.enrollment_id, reason="moved away", actor="admin:ana")

    view = system.seats(program.id)
    (offer,) = view.offers
    assert (offer.id, offer.offer_expires_at) == (first.id, clock.now() + TTL)
    assert [e.id for e in view.waiting] == [second.id]
    assert (view.counts.offered, view.counts.free) == (1, 0)
    with refused(system, SeatsFullError):
        system.enroll(user_id="u-9", product_id=program.id)
    with refused(system, SeatOfferNotOpenError):
        system.accept_seat_offer(second.id)

    accepted = system.accept_seat_offer(first.id)

    assert accepted.enrollment.user_id == "u-3"
    view = system.seats(program.id)
    assert view.offers == ()
    taken = [s for s in view.seats if s.enrollment_id == accepted.enrollment_id]
    assert [(s.status, s.entry_id) for s in taken] == [(SeatStatus.RESERVED, first.id)]
    assert (view.counts.taken, view.counts.free) == (2, 0)
    assert kinds(system) == [
        "seat.reserved",
        "seat.held",
        "seat.reserved",
        "waitlist.joined",
        "waitlist.joined",
        "seat.released",
        "seat.offered",
        "seat.offer_accepted",
    ]
    with refused(system, DuplicateEnrollmentError):  # she is enrolled now
        system.accept_seat_offer(first.id)
    with refused(system, SeatOfferNotFoundError):
        system.accept_seat_offer("wl_missing")


def test_a_lapsed_offer_passes_the_seat_to_the_next_in_line(
    system: PaymentSystem, fake: FakeGateway, clock: FrozenClock, program: Product
) -> None:
    """After the ttl the sweep ends the first offer and offers the seat to the second."""
    paid = enroll_and_pay(system, fake, program, "u-1")
    system.enroll(user_id="u-2", product_id=program.id)
    first = system.join_waitlist("u-3", program.id)
    second = system.join_waitlist("u-4", program.id)
    system.cancel_enrollment(paid.enrollment_id, reason="r", actor="admin")
    clock.advance(TTL - timedelta(seconds=1))
    assert system.expire_seat_offers() == []

    clock.advance(timedelta(seconds=1))
    with refused(system, SeatOfferExpiredError):
        system.accept_seat_offer(first.id)
    report = system.sweep()

    assert report.offers_expired == 1
    assert "offers_expired=1" in report.summary()
    (offer,) = system.seats(program.id).offers
    assert (offer.id, offer.offer_expires_at) == (second.id, clock.now() + TTL)
    ended = system.seats(program.id).waitlist
    assert first.id not in {e.id for e in ended}
    assert system.seats(program.id).counts.taken == 2
    assert [k for k in kinds(system) if "offer" in k] == [
        "seat.offered",
        "seat.offer_expired",
        "seat.offered",
    ]
    assert system.expire_seat_offers() == []


def test_joining_with_a_free_seat_offers_it_at_once(
    system: PaymentSystem, clock: FrozenClock, program: Product
) -> None:
    """A student who joins while a seat is free gets the offer straight away."""
    entry = system.join_waitlist("u-1", program.id)
    assert (entry.status, entry.offer_expires_at) == (WaitlistStatus.OFFERED, clock.now() + TTL)
    result = system.accept_seat_offer(entry.id)
    assert system.seats(program.id).counts.reserved == 1
    assert result.enrollment.product_id == program.id


def test_raising_the_limit_offers_the_new_seats_in_order(
    system: PaymentSystem, program: Product
) -> None:
    """Full with three waiting; the limit goes to 4: the first two waiting get offers."""
    system.enroll(user_id="u-1", product_id=program.id)
    system.enroll(user_id="u-2", product_id=program.id)
    line = [system.join_waitlist(f"w-{n}", program.id) for n in range(3)]
    system.set_seat_limit(program.id, 4)
    view = system.seats(program.id)
    assert [e.id for e in view.offers] == [line[0].id, line[1].id]
    assert [e.id for e in view.waiting] == [line[2].id]
    # Lowering it takes no seat away; new students wait.
    system.set_seat_limit(program.id, 1)
    assert system.seats(program.id).counts.taken == 4
    with refused(system, SeatsFullError):
        system.enroll(user_id="u-5", product_id=program.id)


def test_waitlist_refusals_write_nothing(system: PaymentSystem, program: Product) -> None:
    """Unknown or inactive products, bad ids: typed errors."""
    with refused(system, ProductNotFoundError):
        system.join_waitlist("u-1", "prod_missing")
    with refused(system, InvalidInputError):
        system.join_waitlist("", program.id)
    system.deactivate_product(program.id)
    with refused(system, ProductInactiveError):
        system.join_waitlist("u-1", program.id)
    with pytest.raises(ProductNotFoundError):
        system.seats("prod_missing")


def test_a_webhook_cancellation_releases_the_seat(
    system: PaymentSystem, fake: FakeGateway, program: Product
) -> None:
    """A full refund made in the gateway's dashboard ends the enrollment: its seat is freed."""
    paid = enroll_and_pay(system, fake, program, "u-1")
    (payment,) = system.payment_details(paid.enrollment_id).payments
    assert payment.gateway_payment_id is not None
    fake.refund_from_dashboard(payment.gateway_payment_id, usd("100.00"))
    fake.deliver(system)
    assert system.get_enrollment(paid.enrollment_id).status == "cancelled"
    assert system.seats(program.id).counts.taken == 0
    released = [e for e in system.list_events() if e.kind == "seat.released"]
    assert [dict(e.data)["reason"] for e in released] == ["cancelled"]


@pytest.mark.parametrize("policy", ["default", "cancel"])
def test_the_final_failure_policy_releases_the_seat(
    store: Store, fake: FakeGateway, clock: FrozenClock, policy: str
) -> None:
    """Retries exhausted: a defaulted or cancelled enrollment frees its seat for the line."""
    system = PaymentSystem(
        store=store, gateway=fake, clock=clock, ids=SequentialIds(),
        config=SystemConfig(after_final_failure=policy),  # type: ignore[arg-type]
    )  # fmt: skip
    product = system.register_product(
        product_type="program", product_id="monthly", name="Monthly", price=usd("300.00"),
        payment_plan=Installments(3),
    )  # fmt: skip
    system.set_seat_limit(product.id, 1)
    enroll_and_pay(system, fake, product, "u-1")
    waiting = system.join_waitlist("u-2", product.id)
    fake.script(*[fake.decline()] * 4)
    run_retries(system, clock, failures=4)
    released = [dict(e.data)["reason"] for e in system.list_events() if e.kind == "seat.released"]
    assert released == ["defaulted" if policy == "default" else "cancelled"]
    (offer,) = system.seats(product.id).offers
    assert offer.id == waiting.id
