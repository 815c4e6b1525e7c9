"""The shape rules of the code base, checked on its source.

The state machine (``enrollpay.domain.transitions``) is the only place that
gives a stored record a status: nothing else constructs an enrollment,
schedule item, payment attempt, refund or dispute with a ``status=`` argument, and
nothing else calls ``attrs.evolve(..., status=...)`` in a module that
handles records. Stores rebuild records
from their rows (the status read back, not a new one): those row-mapping
modules are named below, and the list must stay true.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import enrollpay
from enrollpay.ports import StoreReader, StoreTransaction
from enrollpay.service.system import PaymentSystem

SRC = Path(enrollpay.__file__).parent
RECORDS = frozenset(
    {"Enrollment", "ScheduleItem", "PaymentAttempt", "Refund", "Dispute", "Seat", "WaitlistEntry"}
)
#: Where statuses may be written: the state machine itself.
STATE_MACHINE = ("domain/transitions/",)
#: Where records are rebuilt from stored rows (the status comes from the row).
ROW_MAPPERS = ("storage/sql/mapping/",)


def _imports_a_record(tree: ast.AST) -> bool:
    return any(
        isinstance(node, ast.ImportFrom) and any(alias.name in RECORDS for alias in node.names)
        for node in ast.walk(tree)
    )


def status_writes(source: str) -> list[tuple[int, str]]:
    """The lines of ``source`` that construct a record with a status or evolve a status.

    ``evolve(..., status=...)`` counts in modules that import a record class
    (elsewhere it changes a gateway's answer, such as a ``ChargeResult``).
    """
    tree = ast.parse(source)
    records_here = _imports_a_record(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if not any(kw.arg == "status" for kw in node.keywords):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name == "evolve" and records_here:
            found.append((node.lineno, "evolve(..., status=...)"))
        elif name in RECORDS:
            found.append((node.lineno, f"{name}(..., status=...)"))
    return found


def _module_paths() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "migrations" not in p.parts)


def test_the_checker_sees_both_kinds_of_status_write() -> None:
    """A planted evolve and a planted constructor are both reported, other calls are not."""
    planted = (
        "import attrs\n"
        "from enrollpay.domain.records import Refund, ScheduleItem\n"
        "a = attrs.evolve(item, status=ItemStatus.PAID)\n"
        "b = Refund(id='r', status='succeeded')\n"
        "c = ChargeResult(status='failed')\n"
        "d = evolve(item, due=today)\n"
    )
    assert sorted(status_writes(planted)) == [
        (3, "evolve(..., status=...)"),
        (4, "Refund(..., status=...)"),
    ]
    answers_only = "import attrs\nfailed = attrs.evolve(result, status='failed')\n"
    assert status_writes(answers_only) == []


def test_only_the_state_machine_writes_a_status() -> None:
    """No module outside domain/transitions (and the row mappers) constructs or evolves a status."""
    offenders = []
    for path in _module_paths():
        relative = path.relative_to(SRC).as_posix()
        if relative.startswith(STATE_MACHINE + ROW_MAPPERS):
            continue
        offenders += [
            f"{relative}:{line}: {what}"
            for line, what in status_writes(path.read_text(encoding="utf-8"))
        ]
    assert offenders == []


def test_the_exemptions_name_real_files() -> None:
    """Every exempt folder exists and does write statuses (else the exemption is stale)."""
    for folder in STATE_MACHINE + ROW_MAPPERS:
        sources = [p.read_text(encoding="utf-8") for p in (SRC / folder).glob("*.py")]
        assert any(status_writes(source) for source in sources), folder


@pytest.mark.parametrize("limit", [400])
def test_no_module_is_over_the_size_limit(limit: int) -> None:
    """No source module (migrations aside) is longer than the limit the team keeps."""
    long = {
        path.relative_to(SRC).as_posix(): n
        for path in _module_paths()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > limit
    }
    assert long == {}


def test_payment_system_is_a_plain_class() -> None:
    """The facade has no base classes: every public method is written out on it."""
    assert PaymentSystem.__mro__ == (PaymentSystem, object)


def test_the_write_port_speaks_the_domain_and_leaves_reads_to_the_read_port() -> None:
    """No lock flags on the write port; lists and reports only on the read port."""

    def methods(protocol: type) -> dict[str, inspect.Signature]:
        return {
            name: inspect.signature(member)
            for name, member in vars(protocol).items()
            if inspect.isfunction(member) and not name.startswith("_")
        }

    write = methods(StoreTransaction)
    assert "lock_enrollment" in write
    assert not [name for name, sig in write.items() if "for_update" in sig.parameters]
    assert not [name for name in write if name.startswith(("report_", "list_enrollments"))]
    assert not {"list_items", "list_attempts", "list_refunds", "list_audit", "list_events"} & set(
        write
    )
    assert len(write) < 41  # the write port's own verbs (the outbox's are apart)
    read = set(methods(StoreReader))
    assert {"list_enrollments", "list_items", "list_audit", "list_events"} <= read
    assert not [name for name in read if name.startswith(("add_", "put_", "update_", "lock_"))]


def test_the_service_never_asks_for_a_row_lock() -> None:
    """Lock order is the adapters' business: no ``for_update`` anywhere above them."""
    root = Path(enrollpay.__file__).parent
    offenders = [
        str(path.relative_to(root))
        for path in sorted(root.rglob("*.py"))
        if "storage" not in path.parts and "for_update" in path.read_text()
    ]
    assert offenders == []
