"""A SQL store refuses a schema that is missing or behind the code, naming the fix."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from enrollpay.errors import EnrollpayError, SchemaNotReadyError, StorageError
from enrollpay.storage.sql import VERSION_TABLE, SqlStore, alembic_config, migrate
from enrollpay.storage.sql.revision import expected_revision
from tests.storage_support import PgDatabases

from ..contract.test_store_contract import a_product  # noqa: TID252 - tests/ is not on sys.path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database: an SQLite file or a PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    databases: PgDatabases = request.getfixturevalue("pg_databases")
    url = databases.create(migrated=False)
    yield url
    databases.drop(url)


def _head() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _redacted(url: str) -> str:
    return sa.make_url(url).render_as_string(hide_password=True)


def test_the_expected_revision_is_the_head_of_the_shipped_scripts() -> None:
    """The check reads the head from the migrations in the package, so a new one moves it."""
    assert expected_revision() == _head()


def test_an_empty_database_is_refused_naming_the_upgrade_command(empty_url: str) -> None:
    """No enrollpay tables: a typed error at once, with the command that creates them."""
    with pytest.raises(SchemaNotReadyError) as raised:
        SqlStore.from_url(empty_url, migrate=False)
    error = raised.value
    assert (error.current, error.expected) == (None, _head())
    assert error.command == f"enrollpay db upgrade --url {_redacted(empty_url)}"
    assert error.command in str(error)
    assert isinstance(error, StorageError)  # where "relation ... does not exist" surfaced
    assert isinstance(error, RuntimeError)
    assert isinstance(error, EnrollpayError)


def test_a_database_behind_the_code_is_refused(empty_url: str) -> None:
    """A schema built by an older migration (0002) is refused with its revision."""
    migrate(empty_url, revision="0002")
    with pytest.raises(SchemaNotReadyError) as raised:
        SqlStore.from_url(empty_url, migrate=False)
    assert (raised.value.current, raised.value.expected) == ("0002", _head())
    assert "revision 0002" in str(raised.value)


def test_a_store_on_a_host_engine_checks_too(empty_url: str) -> None:
    """``SqlStore(engine)`` refuses the same schema, and leaves the host's engine usable."""
    migrate(empty_url, revision="0001")
    engine = sa.create_engine(empty_url)
    try:
        with pytest.raises(SchemaNotReadyError, match="revision 0001"):
            SqlStore(engine)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


def test_a_migrated_database_opens(empty_url: str) -> None:
    """After ``enrollpay db upgrade`` (here: migrate) the same URL opens and works."""
    migrate(empty_url)
    store = SqlStore.from_url(empty_url, migrate=False)
    try:
        with store.transaction() as tx:
            tx.put_product(a_product())
        with store.transaction() as tx:
            assert tx.get_product("prod_1") == a_product()
    finally:
        store.close()


def test_migrate_true_upgrades_an_older_schema_instead_of_refusing(empty_url: str) -> None:
    """``migrate=True`` (the SQLite default) brings the schema up instead of refusing it."""
    migrate(empty_url, revision="0002")
    store = SqlStore.from_url(empty_url, migrate=True)
    store.close()
    SqlStore.from_url(empty_url, migrate=False).close()  # now at the head


def test_sqlite_still_migrates_on_open_by_default(tmp_path: Path) -> None:
    """The embedded default is unchanged: a new SQLite file is migrated, not refused."""
    store = SqlStore.from_url(f"sqlite:///{tmp_path / 'new.db'}")
    store.close()
    SqlStore.from_url(f"sqlite:///{tmp_path / 'new.db'}", migrate=False).close()


def test_a_schema_from_a_newer_enrollpay_opens(empty_url: str) -> None:
    """A revision the scripts do not know is ahead of the code (a rolling deploy): it opens."""
    migrate(empty_url)
    engine = sa.create_engine(empty_url)
    try:
        with engine.begin() as conn:
            versions = sa.table(VERSION_TABLE, sa.column("version_num"))
            conn.execute(sa.update(versions).values(version_num="9999_from_the_future"))
    finally:
        engine.dispose()
    SqlStore.from_url(empty_url, migrate=False).close()


def test_the_check_can_be_skipped_for_tools_that_need_an_older_schema(empty_url: str) -> None:
    """``check_schema=False`` opens a 0002 database (migration tests write their data so)."""
    migrate(empty_url, revision="0002")
    store = SqlStore.from_url(empty_url, migrate=False, check_schema=False)
    try:
        with store.transaction() as tx:
            tx.put_product(a_product())
    finally:
        store.close()
