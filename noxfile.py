"""Developer tasks: ``nox`` runs lint, typing, tests and docs; ``nox -s demo`` the demo."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typing", "tests", "docs"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"
DEV = ".[dev]"


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Ruff: lint rules and formatting."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typing(session: nox.Session) -> None:
    """Type-check the library, its tests, the benchmarks and this file with mypy --strict."""
    session.install("-e", DEV, "nox")
    session.run("mypy", "src", "tests", "benchmarks", "noxfile.py")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole test suite with branch coverage; the domain must be fully covered."""
    session.install("-e", DEV)
    session.run(
        "pytest",
        "--cov=enrollpay",
        "--cov-branch",
        "--cov-report=term",
        *session.posargs,
    )
    session.run(
        "coverage",
        "report",
        "--include=src/enrollpay/domain/*",
        "--fail-under=100",
        "--show-missing",
    )


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation with warnings as errors."""
    session.install("-e", ".[dev,docs]")
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html")


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """The main job: ``enrollpay demo``, a school run for six simulated months on SQLite.

    Options after ``--`` go to the command (``nox -s demo -- --seed 7 --locale de_DE``).
    It writes ./enrollpay-demo.db (git-ignored) for ``enrollpay report`` to explore.
    examples/quickstart.py is run by the test suite (tests/e2e/test_examples.py).
    """
    session.install("-e", DEV)
    session.run("enrollpay", "demo", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """The benchmarks (issue 8): each hot path against its raw limit; not run by default.

    Prints a table and writes benchmarks/results.json. Options after ``--`` go
    to ``python -m benchmarks`` (``nox -s bench -- --quick``, ``-- --case
    collect_due``, ``-- --out FILE``). Set ENROLLPAY_PG_URL to use an existing
    PostgreSQL server instead of a throwaway cluster. The profilers used to
    find what to fix are installed too: ``pyinstrument -m benchmarks ...``.
    """
    session.install("-e", DEV, "pyinstrument>=4.6", "py-spy>=0.3")
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session(python=PYTHON)
def stress(session: nox.Session) -> None:
    """The adversarial suite run long: 1000-example state machines, PostgreSQL everywhere."""
    session.install("-e", DEV)
    session.run("pytest", "tests/adversarial", *session.posargs, env={"ENROLLPAY_STRESS": "1"})
