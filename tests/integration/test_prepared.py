"""Prepared statements: the driver path must read and write exactly what SQLAlchemy does.

The SQL store runs its hot statements through :class:`Prepared` (rendered by
SQLAlchemy per dialect, run on the driver's cursor). These tests put the two
paths side by side on a real SQLite file and a real PostgreSQL database:
the same rows come back, the same values go in, and driver errors arrive
as SQLAlchemy's exception classes so the store's translation is unchanged.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect

from enrollpay import Installments, PaymentSystem
from enrollpay.errors import NaiveDatetimeError, StorageError
from enrollpay.storage import sql as sql_package
from enrollpay.storage.sql import SqlStore, migrate
from enrollpay.storage.sql import mapping as m
from enrollpay.storage.sql.plans import _bind_processor
from enrollpay.storage.sql.prepared import Driver, Plans, Prepared, observed
from enrollpay.storage.sql.schema import UTCDateTime, enrollments, products, schedule_items
from enrollpay.storage.sql.transaction import SqlTransaction
from enrollpay.testing import FakeGateway, FrozenClock, SequentialIds
from tests.service.conftest import state_of, usd

from ..contract.test_store_contract import (  # noqa: TID252 - tests/ is not on sys.path
    T0,
    a_product,
    an_enrollment,
    an_item,
)

BY_ID = sa.select(products).where(products.c.id == sa.bindparam("key"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database: an SQLite file or a PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'prepared.db'}"
        migrate(url)
        return url
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def engine(url: str) -> Iterator[sa.Engine]:
    """The engine of a store on ``url``."""
    store = SqlStore.from_url(url, migrate=False)
    yield store.engine
    store.close()


def _driver(conn: sa.Connection) -> Driver:
    return Driver(conn, Plans(conn.dialect))


def test_a_read_returns_what_sqlalchemy_returns_for_every_column_type(engine: sa.Engine) -> None:
    """JSON, booleans, dates and instants come back as SQLAlchemy returns them."""
    product = a_product(created_at=T0, updated_at=T0 + timedelta(microseconds=7))
    with engine.begin() as conn:
        conn.execute(sa.insert(products), [m.product_to_row(product)])
    with engine.begin() as conn:
        through_sqlalchemy = dict(conn.execute(BY_ID, {"key": product.id}).mappings().one())
        through_driver = _driver(conn).run(Prepared(BY_ID), {"key": product.id}).first()
        missing = _driver(conn).run(Prepared(BY_ID), {"key": "nope"}).first()
    assert through_driver == through_sqlalchemy
    assert through_driver is not None
    assert m.product_from_row(through_driver) == product
    assert through_driver["created_at"].tzinfo == UTC  # aware, in UTC, on both databases
    assert missing is None


def test_a_write_stores_what_sqlalchemy_would(engine: sa.Engine) -> None:
    """One row and several (executemany) go in with SQLAlchemy's conversions."""
    enrollment = an_enrollment()
    paris_time = datetime(2027, 3, 15, 11, 0, tzinfo=timezone(timedelta(hours=2)))
    items = [an_item("itm_1"), an_item("itm_2", seq=2, paid_at=paris_time)]
    with engine.begin() as conn:
        conn.execute(sa.insert(products), [m.product_to_row(a_product())])
        driver = _driver(conn)
        driver.run(
            Prepared(sa.insert(enrollments)), m.enrollment_to_row(enrollment), value_keys=True
        )
        driver.run(
            Prepared(sa.insert(schedule_items)),
            [m.item_to_row(i) for i in items],  # executemany
            value_keys=True,
        )
    with engine.begin() as conn:
        row = conn.execute(sa.select(enrollments)).mappings().one()
        stored = conn.execute(sa.select(schedule_items).order_by(schedule_items.c.seq))
        stored_items = [m.item_from_row(r) for r in stored.mappings()]
    assert m.enrollment_from_row(row) == enrollment
    assert stored_items == items
    assert stored_items[1].paid_at == datetime(2027, 3, 15, 9, 0, tzinfo=UTC)


def test_an_update_sets_the_columns_its_values_name_and_counts_the_rows(engine: sa.Engine) -> None:
    """The parameters' keys choose the SET columns; rowcount says whether a row matched."""
    update = Prepared(sa.update(products).where(products.c.id == sa.bindparam("key_")))
    with engine.begin() as conn:
        conn.execute(sa.insert(products), [m.product_to_row(a_product())])
        driver = _driver(conn)
        changed = driver.run(update, {"name": "Renamed", "key_": "prod_1"}, value_keys=True)
        assert changed.rowcount == 1
        none = driver.run(update, {"active": False, "key_": "nope"}, value_keys=True)
        assert none.rowcount == 0
        row = conn.execute(BY_ID, {"key": "prod_1"}).mappings().one()
    assert (row["name"], row["active"]) == ("Renamed", True)


def test_a_statement_literal_is_bound_with_the_statement(engine: sa.Engine) -> None:
    """Values written into the statement (``LIMIT 1``) need no parameter."""
    active = Prepared(sa.select(products.c.id).where(products.c.active.is_(True)).limit(1))
    with engine.begin() as conn:
        conn.execute(sa.insert(products), [m.product_to_row(a_product())])
        assert _driver(conn).run(active).all() == [{"id": "prod_1"}]


def test_a_refused_write_raises_sqlalchemys_integrity_error(engine: sa.Engine) -> None:
    """The driver's error arrives as SQLAlchemy's class, with the original kept."""
    insert = Prepared(sa.insert(products))
    row = m.product_to_row(a_product())
    with engine.connect() as conn, conn.begin():
        driver = _driver(conn)
        driver.run(insert, row, value_keys=True)
        with pytest.raises(exc.IntegrityError) as raised:
            driver.run(insert, row, value_keys=True)
    assert isinstance(raised.value.orig, engine.dialect.loaded_dbapi.Error)


def test_a_missing_value_is_a_clear_error(engine: sa.Engine) -> None:
    """On either driver, a missing value is named before anything runs."""
    two_keys = Prepared(
        sa.select(products).where(
            products.c.id == sa.bindparam("key"), products.c.name == sa.bindparam("name")
        )
    )
    with engine.connect() as conn, conn.begin(), pytest.raises(exc.ArgumentError, match="name"):
        _driver(conn).run(two_keys, {"key": "prod_1"})


def test_an_expanding_in_list_is_refused() -> None:
    """An IN list's placeholders vary per call: such a statement cannot be prepared."""
    listed = Prepared(sa.select(products).where(products.c.id.in_(sa.bindparam("ids"))))
    engine = sa.create_engine("sqlite://")
    try:
        with engine.connect() as conn, pytest.raises(ValueError, match="expanding"):
            _driver(conn).run(listed, {"ids": ["a"]})
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_one_statement_is_rendered_per_dialect(tmp_path: Path, pg_url: str) -> None:
    """Stores on two databases in one process each get their own rendering."""
    sqlite_store = SqlStore.from_url(f"sqlite:///{tmp_path / 'both.db'}")
    pg_store = SqlStore.from_url(pg_url)
    try:
        for store in (sqlite_store, pg_store):
            with store.transaction() as tx:
                tx.put_product(a_product())
            with store.transaction() as tx:
                assert tx.get_product("prod_1") == a_product()
    finally:
        sqlite_store.close()
        pg_store.close()


def _run_a_school(store: SqlStore) -> dict[str, Any]:
    """Enroll, pay the first item by webhook, collect the next, refund: the observable state."""
    clock = FrozenClock(T0)
    fake = FakeGateway(clock=clock)
    system = PaymentSystem(store=store, gateway=fake, clock=clock, ids=SequentialIds())
    product = system.register_product(product_type="course", product_id="c", name="C",
                                      price=usd("300"), payment_plan=Installments(3))  # fmt: skip
    result = system.enroll(user_id="u-1", product_id=product.id)
    assert result.client_secret is not None
    fake.complete_payment(result.client_secret)
    fake.complete_setup(system.start_payment_method_update("u-1"), payment_method="pm_u1")
    fake.deliver(system)
    clock.advance(timedelta(days=31))
    assert system.collect_due().succeeded == 1
    payment = system.payment_details(result.enrollment_id).payments[0]
    system.refund_payment(payment.id, usd("10"), actor="admin", reason="goodwill")
    assert system.verify_audit_chain().ok
    return state_of(system)


def test_an_observed_engine_sees_every_statement_and_gets_the_same_records(
    url: str, tmp_path: Path
) -> None:
    """With a cursor listener (tracing, logging) statements go through SQLAlchemy, same results."""
    seen: list[str] = []
    observed_store = SqlStore.from_url(url, migrate=False)
    sa.event.listen(
        observed_store.engine,
        "before_cursor_execute",
        lambda _conn, _cursor, statement, *_rest: seen.append(statement),
    )
    try:
        observed_state = _run_a_school(observed_store)
    finally:
        observed_store.close()
    plain_url = f"sqlite:///{tmp_path / 'plain.db'}"
    plain_store = SqlStore.from_url(plain_url)
    try:
        plain_state = _run_a_school(plain_store)
    finally:
        plain_store.close()
    assert observed_state == plain_state
    hot = [s for s in seen if s.startswith("SELECT enrollpay_schedule_items.id") and "= " in s]
    assert hot  # get_item, a Prepared read, went through SQLAlchemy
    assert any(s.startswith("INSERT INTO enrollpay_audit_log") for s in seen)
    if url.startswith("sqlite"):
        assert "BEGIN IMMEDIATE" in seen
        assert "PRAGMA data_version" in seen


def test_without_observers_hot_statements_skip_sqlalchemys_execution(engine: sa.Engine) -> None:
    """The fast path is taken when nobody watches, and a listener added later switches it off."""
    with engine.connect() as conn:
        assert not observed(conn)
    sa.event.listen(engine, "after_cursor_execute", lambda *_args: None)
    with engine.connect() as conn:
        assert observed(conn)


def test_the_open_enrollment_lookup_uses_the_partial_unique_index(engine: sa.Engine) -> None:
    """Enrolling must not search every enrollment of the product for the user's open one.

    The lookup's ``status != 'cancelled'`` has to be written into the SQL:
    with a bound value neither SQLite nor a generic PostgreSQL plan can
    match it to the index's condition. (SQLite then searched the product's
    enrollments one by one, so each enrollment cost more than the last.)
    """
    from enrollpay.storage.sql.statements import OPEN_ENROLLMENT  # noqa: PLC0415

    compiled = OPEN_ENROLLMENT.statement.compile(dialect=engine.dialect)
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            plan = conn.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {compiled.string}", ("u-1", "prod_1")
            ).all()
        else:
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # a near-empty table
            conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
            conn.exec_driver_sql(f"PREPARE open_lookup AS {_numbered(compiled.string)}")
            plan = conn.exec_driver_sql("EXPLAIN EXECUTE open_lookup('u-1', 'prod_1')").all()
    text = " ".join(str(value) for row in plan for value in row)
    assert "uq_enrollpay_enrollments_open" in text, text


def _numbered(sql: str) -> str:
    """The named placeholders of psycopg as PostgreSQL's own ($1, $2), for PREPARE."""
    return sql.replace("%(user)s", "$1").replace("%(product)s", "$2")


#: Modules of the SQL store allowed to run SQL other than through Driver.run:
#: the one path itself, and the schema's migrations (Alembic's own execution).
_OWN_EXECUTION = {"prepared.py", "migrate.py"}
#: Calls that run SQL (or open a second route to the database).
_EXECUTING = {"execute", "executemany", "exec_driver_sql", "begin_nested", "cursor"}


def _executing_calls(source: str, *, allowed_functions: frozenset[str] = frozenset()) -> list[str]:
    """The calls in ``source`` that run SQL, outside functions named in ``allowed_functions``."""
    found: list[str] = []

    def visit(node: ast.AST, inside: str | None) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            inside = node.name
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _EXECUTING
            and inside not in allowed_functions
        ):
            found.append(f"line {node.lineno}: .{node.func.attr}()")
        for child in ast.iter_child_nodes(node):
            visit(child, inside)

    visit(ast.parse(source), None)
    return found


def test_every_statement_of_the_store_goes_through_the_one_execution_path() -> None:
    """No module of the SQL store runs SQL itself: Driver.run decides the route of each."""
    package = Path(sql_package.__file__).parent
    modules = [
        path
        for path in sorted(package.rglob("*.py"))
        if path.name not in _OWN_EXECUTION and "migrations" not in path.parts
    ]
    assert {p.name for p in modules} >= {"guards.py", "enrollments.py", "reports.py", "engine.py"}
    offenders = {
        path.name: calls
        for path in modules
        # engine.py's _wal runs in the driver's connect hook, before any
        # SQLAlchemy connection (or transaction) exists.
        if (calls := _executing_calls(path.read_text(), allowed_functions=frozenset({"_wal"})))
    }
    assert offenders == {}


@pytest.mark.parametrize(
    "source",
    [
        "def f(conn):\n    conn.execute(stmt)\n",
        "def f(conn):\n    conn.exec_driver_sql('PRAGMA x')\n",
        "def f(conn):\n    conn.begin_nested()\n",
        "def f(dbapi):\n    dbapi.cursor().close()\n",
    ],
)
def test_the_execution_scan_catches_each_second_route(source: str) -> None:
    """The scan above flags each way of running SQL beside Driver.run."""
    assert _executing_calls(source) != []
    assert _executing_calls(source, allowed_functions=frozenset({"f"})) == []


@pytest.mark.postgres
def test_postgresql_transactions_begin_as_asked_and_leave_the_connection_as_found(
    pg_url: str,
) -> None:
    """A reader is REPEATABLE READ, READ ONLY; a unit of work READ COMMITTED; then defaults again.

    The store sets these on psycopg's connection itself (not through
    SQLAlchemy's execution options), so whoever takes the pooled connection
    next must still find the server's defaults.
    """
    store = SqlStore.from_url(pg_url, migrate=False, pool_size=1, max_overflow=0)
    show = (
        "SELECT current_setting('transaction_isolation') AS isolation,"
        " current_setting('transaction_read_only') AS read_only"
    )
    try:
        with store.engine.connect() as conn:
            defaults = tuple(conn.exec_driver_sql(show).one())
        with store.reader() as view:
            assert isinstance(view, SqlTransaction)  # the SQL store's reader is one
            assert tuple(view._d.run(show).all()[0].values()) == ("repeatable read", "on")
        with store.engine.connect() as conn:  # the one pooled connection again
            assert tuple(conn.exec_driver_sql(show).one()) == defaults
        with store.transaction() as tx:
            assert tuple(tx._d.run(show).all()[0].values()) == ("read committed", "off")
        with store.engine.connect() as conn:
            assert tuple(conn.exec_driver_sql(show).one()) == defaults
    finally:
        store.close()


def test_a_result_read_after_the_next_statement_is_refused_not_misread(engine: sa.Engine) -> None:
    """On PostgreSQL one cursor serves the transaction: a stale result must not read new rows."""
    product = a_product()
    with engine.begin() as conn:
        conn.execute(sa.insert(products), [m.product_to_row(product)])
    with engine.begin() as conn:
        driver = _driver(conn)
        first = driver.run(Prepared(BY_ID), {"key": product.id})
        second = driver.run(Prepared(BY_ID), {"key": "nope"})
        assert second.first() is None
        if engine.dialect.name == "postgresql":
            with pytest.raises(RuntimeError, match="after its driver ran another statement"):
                first.first()
        else:  # SQLite: a cursor per statement, each result its own
            row = first.first()
            assert row is not None
            assert row["id"] == product.id


@pytest.mark.parametrize(
    "instant",
    [
        datetime(2027, 3, 15, 9, 0, tzinfo=UTC),  # no microseconds: still six digits
        datetime(2027, 3, 15, 9, 0, 0, 7, tzinfo=UTC),
        datetime(2027, 3, 15, 11, 0, 0, 999999, tzinfo=timezone(timedelta(hours=2))),
        datetime(2027, 3, 15, 9, 0, tzinfo=timezone(timedelta(0))),  # UTC, another object
        datetime(1, 1, 1, 0, 0, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ],
)
def test_an_instant_is_bound_on_sqlite_as_sqlalchemy_binds_it(instant: datetime) -> None:
    """The plan's one-step instant binding writes SQLAlchemy's text, UTC or not."""
    dialect = sqlite_dialect()
    ours = _bind_processor(UTCDateTime(), dialect)
    theirs = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert ours is not None
    assert theirs is not None
    assert ours(instant) == theirs(instant)
    assert ours(None) is theirs(None) is None


def test_a_naive_instant_is_refused_by_the_sqlite_binding() -> None:
    """Binding a naive datetime fails as :class:`UTCDateTime` makes it fail."""
    ours = _bind_processor(UTCDateTime(), sqlite_dialect())
    assert ours is not None
    with pytest.raises(NaiveDatetimeError):
        ours(datetime(2027, 3, 15, 9, 0))  # noqa: DTZ001 - naive on purpose


@pytest.mark.postgres
def test_a_pooled_postgresql_connection_the_server_closed_fails_once_then_is_replaced(
    pg_url: str,
) -> None:
    """A transaction on a connection the server ended is a StorageError; the next one works."""
    store = SqlStore.from_url(pg_url, migrate=False, pool_size=1, max_overflow=0)
    pid = "SELECT pg_backend_pid() AS pid"
    try:
        with store.reader() as view:
            assert isinstance(view, SqlTransaction)
            [row] = view._d.run(pid).all()
        with sa.create_engine(pg_url, poolclass=sa.NullPool).connect() as admin:
            admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": row["pid"]})
        with pytest.raises(StorageError), store.transaction() as tx:
            tx.get_product("nope")
        with store.transaction() as tx:  # the pool replaced the dead connection
            assert tx.get_product("nope") is None
            [again] = tx._d.run(pid).all()
        assert again["pid"] != row["pid"]
    finally:
        store.close()
