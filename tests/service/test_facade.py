"""PaymentSystem is an explicit facade: no base class, and exactly the documented methods."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime

import pytest

from enrollpay import PaymentSystem
from enrollpay.storage.memory import InMemoryStore
from enrollpay.testing import FakeGateway, FrozenClock

# Adding or dropping a public name is a deliberate change: update this list,
# the docs (docs/reference/api.md) and CHANGELOG.md together.
PUBLIC_NAMES = [
    "accept_seat_offer",
    "add_payer",
    "aging_report",
    "audit_anchor",
    "audit_log",
    "cancel_enrollment",
    "change_plan",
    "clock",
    "collect_due",
    "config",
    "create_coupon",
    "deactivate_coupon",
    "deactivate_product",
    "dispatch_events",
    "eligible_plans",
    "enroll",
    "expire_seat_offers",
    "find_product",
    "forecast_report",
    "gateway",
    "get_enrollment",
    "get_payer",
    "get_product",
    "get_receipt",
    "get_schedule_item",
    "grant_scholarship",
    "handle_webhook",
    "has_access",
    "join_waitlist",
    "list_coupons",
    "list_disputes",
    "list_enrollments",
    "list_events",
    "list_payers",
    "list_plan_rules",
    "list_products",
    "list_receipts",
    "list_schedule_items",
    "list_scholarships",
    "pause",
    "payer_statement",
    "payment_details",
    "preview_discount",
    "preview_plan_change",
    "preview_schedule",
    "product_report",
    "quote_cancellation",
    "receipt_for_payment",
    "receipt_html",
    "receipt_pdf",
    "reconcile",
    "record_manual_payment",
    "recovery_report",
    "refund_payment",
    "register_product",
    "reschedule",
    "resume",
    "retry_now",
    "revenue_report",
    "seats",
    "set_payer_method",
    "set_plan_rules",
    "set_seat_limit",
    "start_payment",
    "start_payment_method_update",
    "start_setup",
    "stats",
    "status_report",
    "store",
    "subscribe_at_gateway",
    "sweep",
    "today",
    "update_payment_method",
    "verify_audit_chain",
    "view_receipt",
    "waive_item",
]

PROPERTIES = {"store", "gateway", "clock", "config"}

# What the mixins used to expose: helpers of the use cases, not the product.
FORMER_INTERNALS = [
    "audit",
    "authorize",
    "cancel_open_checkout",
    "checkpoint",
    "ensure_customer",
    "item_from_line",
    "lock_attempt",
    "lock_item",
    "new_id",
    "now",
    "plan_refunds",
    "refresh_enrollment",
    "refundable_by_payment",
    "require_gateway",
    "send_refunds",
    "set_item",
    "write_refunds",
]


def _public(names: list[str]) -> list[str]:
    return sorted(name for name in names if not name.startswith("_"))


@pytest.fixture
def facade() -> PaymentSystem:
    """A system over the in-memory store and the fake gateway."""
    return PaymentSystem(
        store=InMemoryStore(),
        gateway=FakeGateway(),
        clock=FrozenClock(datetime(2027, 3, 15, 9, 0, tzinfo=UTC)),
    )


def test_payment_system_has_no_base_class() -> None:
    """No mixins: the class inherits from object only."""
    assert PaymentSystem.__mro__ == (PaymentSystem, object)


def test_public_names_are_exactly_the_documented_ones(facade: PaymentSystem) -> None:
    """The class and an instance expose the listed names and nothing else."""
    assert _public(dir(PaymentSystem)) == PUBLIC_NAMES
    assert _public(dir(facade)) == PUBLIC_NAMES


def test_former_internals_are_not_public(facade: PaymentSystem) -> None:
    """The shared helpers of the use cases are no attribute of the facade any more."""
    exposed = [name for name in FORMER_INTERNALS if hasattr(facade, name)]
    assert exposed == []


@pytest.mark.parametrize("name", sorted(PROPERTIES))
def test_ports_and_settings_are_read_only(facade: PaymentSystem, name: str) -> None:
    """The ports and the settings can be read but not replaced."""
    assert getattr(facade, name) is not None
    with pytest.raises(AttributeError):
        setattr(facade, name, None)


@pytest.mark.parametrize("name", [n for n in PUBLIC_NAMES if n not in PROPERTIES])
def test_every_public_method_is_documented(name: str) -> None:
    """Each method has a docstring and takes ``self`` first (the API reference shows them)."""
    method = getattr(PaymentSystem, name)
    assert inspect.isfunction(method)
    assert (method.__doc__ or "").strip()
    assert next(iter(inspect.signature(method).parameters)) == "self"


def test_repr_names_the_adapters(facade: PaymentSystem) -> None:
    """The repr names the store and the gateway, as before."""
    assert repr(facade) == "PaymentSystem(store=InMemoryStore, gateway=FakeGateway)"
