"""The domain is pure: it imports nothing outside itself but a few libraries, and reads no clock."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

import enrollpay.domain

DOMAIN_DIR = Path(enrollpay.domain.__file__).parent
DOMAIN_FILES = sorted(DOMAIN_DIR.glob("*.py"))
THIRD_PARTY_ALLOWED = frozenset({"attrs", "dateutil", "babel"})
HEAVY_DEPENDENCIES = frozenset({"stripe", "sqlalchemy", "alembic", "psycopg", "click", "rich"})

# Imports every domain module in a fresh interpreter and prints what got loaded.
# With "bare", enrollpay/__init__.py is not run: it re-exports the service layer,
# so importing it would load far more than the domain needs.
IMPORT_SCRIPT = """
import importlib, importlib.util, json, pkgutil, sys, types
if sys.argv[1] == "bare":
    spec = importlib.util.find_spec("enrollpay")
    package = types.ModuleType("enrollpay")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["enrollpay"] = package
import enrollpay.domain
for info in pkgutil.iter_modules(enrollpay.domain.__path__, "enrollpay.domain."):
    importlib.import_module(info.name)
print(json.dumps(sorted(sys.modules)))
"""


def modules_loaded_by_the_domain(mode: str) -> list[str]:
    """Every module a fresh interpreter holds after importing all of enrollpay.domain."""
    completed = subprocess.run(
        [sys.executable, "-I", "-c", IMPORT_SCRIPT, mode],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    loaded: list[str] = json.loads(completed.stdout)
    return loaded


CLOCK_PATTERN = re.compile(
    r"\b(?:datetime\.(?:now|utcnow|today)|date\.today|time\.(?:time|monotonic|perf_counter)"
    r"|random\.\w+|uuid\.uuid[14]|os\.urandom|secrets\.\w+)\b"
)
CLOCK_MODULES = frozenset({"random", "secrets", "time", "uuid"})
CLOCK_ATTRIBUTES = frozenset({"now", "utcnow", "today", "time_ns", "monotonic", "urandom"})


def is_core(module: str) -> bool:
    """True for the enrollpay modules the domain may use: itself and the errors.

    The errors are ``enrollpay.errors`` and the per-area modules split from it
    (``enrollpay.errors_discounts``): exception classes only, no other imports.
    """
    return module in {"enrollpay", "enrollpay.errors", "enrollpay.domain"} or module.startswith(
        ("enrollpay.domain.", "enrollpay.errors_")
    )


def foreign_modules(loaded: Iterable[str]) -> list[str]:
    """The heavy dependencies and non-core enrollpay modules among ``loaded``."""
    return sorted(
        name
        for name in loaded
        if name.split(".")[0] in HEAVY_DEPENDENCIES
        or (name.split(".")[0] == "enrollpay" and not is_core(name))
    )


def imported_modules(source: str) -> list[str]:
    """Absolute module names a source file imports, wherever the import statement is."""
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def disallowed_imports(source: str) -> list[str]:
    """Imports outside the standard library, attrs, dateutil, babel and the domain core."""
    bad = []
    for name in imported_modules(source):
        top = name.split(".")[0]
        if top == "enrollpay":
            if not is_core(name):
                bad.append(name)
        elif top not in sys.stdlib_module_names and top not in THIRD_PARTY_ALLOWED:
            bad.append(name)
    return bad


def clock_or_randomness(source: str) -> list[str]:
    """Every way ``source`` reads the clock or a random source: text patterns and AST nodes."""
    found = [match.group(0) for match in CLOCK_PATTERN.finditer(source)]
    found += [name for name in imported_modules(source) if name.split(".")[0] in CLOCK_MODULES]
    found += [
        f".{node.attr}"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Attribute) and node.attr in CLOCK_ATTRIBUTES
    ]
    return found


def test_domain_files_are_found() -> None:
    """The scans below look at the real domain package."""
    names = {path.name for path in DOMAIN_FILES}
    assert {"__init__.py", "money.py", "plans.py", "lifecycle.py", "records.py"} <= names


def test_the_domain_loads_nothing_outside_itself_and_the_errors() -> None:
    """Importing every domain module (package __init__ skipped) loads no other enrollpay code."""
    loaded = modules_loaded_by_the_domain("bare")
    assert "enrollpay.domain.money" in loaded
    assert "enrollpay.domain.records" in loaded
    assert "enrollpay.errors" in loaded
    assert foreign_modules(loaded) == []


def test_importing_the_domain_loads_neither_stripe_nor_sqlalchemy() -> None:
    """A plain `import enrollpay.domain`, package __init__ included, needs no optional extra."""
    loaded = modules_loaded_by_the_domain("package")
    assert "enrollpay.domain" in loaded
    assert [name for name in loaded if name.split(".")[0] in HEAVY_DEPENDENCIES] == []


def test_foreign_modules_flags_what_the_domain_must_not_load() -> None:
    """The import check would catch stripe, sqlalchemy and service modules."""
    loaded = [
        "json",
        "attrs",
        "enrollpay",
        "enrollpay.errors",
        "enrollpay.domain",
        "enrollpay.domain.money",
        "enrollpay.domainish",
        "enrollpay.service.enroll",
        "stripe",
        "sqlalchemy.orm",
    ]
    assert foreign_modules(loaded) == [
        "enrollpay.domainish",
        "enrollpay.service.enroll",
        "sqlalchemy.orm",
        "stripe",
    ]


@pytest.mark.parametrize("path", DOMAIN_FILES, ids=lambda path: path.name)
def test_domain_modules_import_only_the_stdlib_attrs_dateutil_and_babel(path: Path) -> None:
    """Every import statement, even one inside a function, stays within the allowed set."""
    assert disallowed_imports(path.read_text(encoding="utf-8")) == []


def test_disallowed_imports_catches_lazy_and_adapter_imports() -> None:
    """The import scan finds imports at any depth and allows the core."""
    source = (
        "import json\nimport attrs\nfrom enrollpay.errors import PlanError\n"
        "from enrollpay.domain.money import Money\nfrom . import calendar\n"
        "def f():\n    import stripe\n    from enrollpay.storage import sql\n"
    )
    assert disallowed_imports(source) == ["stripe", "enrollpay.storage"]


@pytest.mark.parametrize("path", DOMAIN_FILES, ids=lambda path: path.name)
def test_domain_modules_read_no_clock_and_no_randomness(path: Path) -> None:
    """No datetime.now, date.today, time.time, random, uuid or secrets in the domain."""
    assert clock_or_randomness(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "source",
    [
        "from datetime import datetime\nx = datetime.now()\n",
        "import datetime\nx = datetime.date.today()\n",
        "import time\n",
        "from random import choice\n",
        "import uuid\n",
        "def f(clock):\n    return clock.utcnow()\n",
        "x = random.random()\n",
    ],
)
def test_clock_scan_catches_each_way_of_reading_time_or_chance(source: str) -> None:
    """The clock scan flags each forbidden pattern it claims to look for."""
    assert clock_or_randomness(source) != []
