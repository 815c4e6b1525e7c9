"""Is the database's schema the one this code needs? Checked once, when a store opens.

The expected revision is the head of the Alembic scripts shipped in the
package (read from them, so a new migration moves it without another
change). The database's revision is the row Alembic keeps in
``enrollpay_alembic_version``: one query. A database without that table has
no enrollpay schema; one at an older revision than the head is behind, and
both are refused with :class:`~enrollpay.errors.SchemaNotReadyError`, which
names the command that fixes them. A revision the scripts do not know was
written by a newer enrollpay (during a rolling deploy, the old workers
still run against the upgraded schema): it opens.
"""

from __future__ import annotations

import functools

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import exc

from enrollpay.errors import SchemaNotReadyError
from enrollpay.storage.sql.engine import translate
from enrollpay.storage.sql.migrate import VERSION_TABLE, alembic_config
from enrollpay.storage.sql.prepared import Driver

__all__ = ["expected_revision", "require_current_schema"]

_CURRENT = f"SELECT version_num FROM {VERSION_TABLE}"  # noqa: S608 - a constant table name


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def expected_revision() -> str:
    """The head of the migrations shipped with the package."""
    head = _scripts().get_current_head()
    if head is None:  # pragma: no cover - the package ships its migrations
        raise RuntimeError("enrollpay's migrations have no head revision")
    return head


def _known(revision: str) -> bool:
    try:
        return _scripts().get_revision(revision) is not None
    except CommandError:  # alembic's ResolutionError: a revision of a newer enrollpay
        return False


def _current(engine: sa.Engine) -> list[str] | None:
    """The revisions the database records, or None without the version table."""
    try:
        with engine.connect() as conn:
            try:
                rows = Driver(conn).run(_CURRENT).all()
            except exc.DBAPIError as error:
                missing = error
            else:
                return [str(row["version_num"]) for row in rows]
        # Only a refused query pays for asking why: no table, or another failure.
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(VERSION_TABLE):
                return None
        raise missing
    except exc.SQLAlchemyError as error:
        raise translate(error) from error


def require_current_schema(engine: sa.Engine) -> None:
    """Return if the schema is at (or past) the code's head; else ``SchemaNotReadyError``."""
    expected = expected_revision()
    current = _current(engine)
    if current is not None and (expected in current or not all(map(_known, current))):
        return
    raise SchemaNotReadyError(
        url=engine.url.render_as_string(hide_password=True),
        current=None if not current else ", ".join(sorted(current)),
        expected=expected,
    )
