"""The event registry FastAPI and Flask apps use, and Flask's ``enrollpay-dispatch`` command."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask

from enrollpay import PaymentSystem
from enrollpay.domain.events import EVENT_KINDS, DomainEvent
from enrollpay.errors import InvalidInputError
from enrollpay.errors_events import UnknownEventKindError
from enrollpay.integrations import events as registry_module
from enrollpay.integrations import fastapi as fastapi_integration
from enrollpay.integrations import flask as flask_integration
from enrollpay.integrations.events import EventRegistry, check_kind
from enrollpay.integrations.flask import init_app

from .conftest import Paid


def event(kind: str, number: int = 1) -> DomainEvent:
    """A stamped event of ``kind``."""
    return DomainEvent(
        id=f"evt_{number}", kind=kind, enrollment_id="enr_1", at=datetime(2027, 3, 15, tzinfo=UTC)
    )


def test_functions_run_by_kind_then_catch_all_in_registration_order() -> None:
    """A kind's functions first, in order; then the catch-all ones; other kinds untouched."""
    calls: list[str] = []
    events = EventRegistry()
    events.on_any(lambda e: calls.append(f"any1 {e.kind}"))
    events.on("access.suspended", "access.revoked")(lambda e: calls.append(f"cut {e.kind}"))
    events.add("access.suspended", lambda e: calls.append(f"mail {e.kind}"))
    events.on("*")(lambda e: calls.append(f"any2 {e.kind}"))

    events(event("access.suspended"))
    events(event("access.revoked", 2))
    events(event("installment.paid", 3))

    assert calls == [
        "cut access.suspended",
        "mail access.suspended",
        "any1 access.suspended",
        "any2 access.suspended",
        "cut access.revoked",
        "any1 access.revoked",
        "any2 access.revoked",
        "any1 installment.paid",
        "any2 installment.paid",
    ]
    assert events.kinds() == ["access.revoked", "access.suspended"]
    assert len(events.functions_for("access.suspended")) == 4


def test_the_decorator_returns_the_function_unchanged() -> None:
    """``@events.on`` keeps the function usable (and testable) on its own."""
    events = EventRegistry()

    def revoke(e: DomainEvent) -> str:
        return e.id

    assert events.on("access.suspended")(revoke) is revoke
    assert events.on_any(revoke) is revoke
    assert revoke(event("access.suspended", 7)) == "evt_7"


@pytest.mark.parametrize("kind", ["access.suspend", "Access.Suspended", "", "payment"])
def test_a_misspelt_kind_is_refused_when_registered(kind: str) -> None:
    """An unknown kind fails at start-up, with a typed error naming it, instead of never firing."""
    events = EventRegistry()
    with pytest.raises(UnknownEventKindError) as info:
        events.on(kind)
    assert info.value.kind == kind
    assert isinstance(info.value, ValueError)
    with pytest.raises(UnknownEventKindError):
        events.add(kind, print)
    assert events.kinds() == []


def test_an_empty_on_and_a_non_callable_are_refused() -> None:
    """``on()`` with no kind, and registering something that cannot be called, are errors."""
    events = EventRegistry()
    with pytest.raises(InvalidInputError, match="at least one event kind"):
        events.on()
    with pytest.raises(TypeError, match="callable"):
        events.add("access.suspended", "revoke")  # type: ignore[arg-type]
    assert events.functions_for("access.suspended") == []


def test_every_emitted_kind_can_be_registered() -> None:
    """check_kind accepts exactly the catalogue's kinds."""
    assert [check_kind(k) for k in EVENT_KINDS] == list(EVENT_KINDS)


def test_fastapi_and_flask_share_the_one_registry() -> None:
    """Both framework modules re-export the same class; there is one implementation."""
    assert fastapi_integration.EventRegistry is registry_module.EventRegistry
    assert flask_integration.EventRegistry is registry_module.EventRegistry


def test_dispatch_hands_the_outbox_to_the_registry_once(paid: Paid) -> None:
    """``events.dispatch(system)`` delivers every pending event once; a second run delivers none."""
    seen: list[str] = []
    events = EventRegistry()
    events.on_any(lambda e: seen.append(e.kind))
    paid.system.handle_webhook(paid.hook.payload, paid.hook.headers)
    pending = [e.kind for e in paid.system.list_events(delivered=False)]
    assert "access.granted" in pending

    assert events.dispatch(paid.system) == len(pending)
    assert events.dispatch(paid.system) == 0
    assert seen == pending


def test_flask_dispatch_command_hands_events_to_the_registry(paid: Paid) -> None:
    """``flask enrollpay-dispatch`` runs the registry given to init_app over the outbox."""
    granted: list[str | None] = []
    events = EventRegistry()
    events.on("access.granted")(lambda e: granted.append(e.enrollment_id))
    app = Flask("shop")
    init_app(app, paid.system, events=events)
    paid.system.handle_webhook(paid.hook.payload, paid.hook.headers)
    pending = len(paid.system.list_events(delivered=False))

    runner = app.test_cli_runner()
    first = runner.invoke(args=["enrollpay-dispatch", "--limit", "1"])
    rest = runner.invoke(args=["enrollpay-dispatch"])
    again = runner.invoke(args=["enrollpay-dispatch"])

    assert (first.exit_code, first.output) == (0, "enrollpay: 1 event(s) delivered\n")
    assert rest.output == f"enrollpay: {pending - 1} event(s) delivered\n"
    assert again.output == "enrollpay: 0 event(s) delivered\n"
    assert granted == [paid.enrollment_id]
    refused = runner.invoke(args=["enrollpay-dispatch", "--limit", "-1"])
    assert refused.exit_code != 0


def test_flask_without_events_has_no_dispatch_command(system: PaymentSystem) -> None:
    """The command exists only when the app gave init_app its handlers."""
    app = Flask("shop")
    init_app(app, system)
    result = app.test_cli_runner().invoke(args=["enrollpay-dispatch"])
    assert result.exit_code != 0
    assert "No such command" in result.output
