"""A PostgreSQL server of one's own, and fresh migrated databases on a server.

:class:`PgCluster` starts a throwaway cluster with the PostgreSQL binaries
(``ENROLLPAY_PG_BINDIR``, default PostgreSQL 15's) as an unprivileged user
(``runuser -u postgres`` when running as root), in a temporary folder, on a
free port of 127.0.0.1, with ``fsync`` off; it can be restarted as a crash
would (the faults benchmark and test do that). :class:`PgDatabases` hands
out databases copied from a migrated template. The test suite's fixtures
(``tests/storage_support.py``) and the benchmarks both use them.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import sqlalchemy as sa

from enrollpay.storage.sql import migrate

__all__ = ["PG_BINDIR", "PgCluster", "PgDatabases", "PgUnavailableError"]

PG_BINDIR = Path(os.environ.get("ENROLLPAY_PG_BINDIR", "/usr/lib/postgresql/15/bin"))
_TIMEOUT = 60


class PgUnavailableError(RuntimeError):
    """No PostgreSQL server could be had (the message says why)."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PgCluster:
    """A PostgreSQL cluster in a temporary folder, for one test session or benchmark run."""

    def __init__(self) -> None:
        initdb, pg_ctl = PG_BINDIR / "initdb", PG_BINDIR / "pg_ctl"
        if not initdb.exists() or not pg_ctl.exists():
            raise PgUnavailableError(
                f"no PostgreSQL binaries in {PG_BINDIR} (set ENROLLPAY_PG_URL)"
            )
        self._pg_ctl = pg_ctl
        self._prefix: list[str] = []
        self.base = Path(tempfile.mkdtemp(prefix="enrollpay-pg-"))
        if os.geteuid() == 0:
            # initdb refuses to run as root: run the server as the postgres user.
            runuser = shutil.which("runuser")
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                account = None
            if runuser is None or account is None:
                raise PgUnavailableError("running as root without runuser or a postgres user")
            os.chown(self.base, account.pw_uid, account.pw_gid)
            self._prefix = [runuser, "-u", "postgres", "--"]
        self.data = self.base / "data"
        self.port = _free_port()
        self._run(initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--no-sync")  # fmt: skip
        self._options = (
            f"-k {self.base} -p {self.port} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._start()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _start(self) -> None:
        self._run(self._pg_ctl, "-D", str(self.data), "-l", str(self.base / "server.log"), "-w",
                  "-t", str(_TIMEOUT), "-o", self._options, "start")  # fmt: skip

    def restart(self) -> None:
        """Stop the server as a crash would (every connection cut), then start it again."""
        self._run(self._pg_ctl, "-D", str(self.data), "-m", "immediate", "stop")
        self._start()

    def _run(self, *args: str | Path) -> None:
        command = [*self._prefix, *map(str, args)]
        try:
            # The PostgreSQL binaries, with arguments made here.
            subprocess.run(command, check=True, capture_output=True, timeout=_TIMEOUT)  # noqa: S603
        except (OSError, subprocess.SubprocessError) as error:
            detail = getattr(error, "stderr", b"") or b""
            raise PgUnavailableError(
                f"{Path(args[0]).name} failed: {error} {detail.decode(errors='replace')}"
            ) from error

    def stop(self) -> None:
        """Stop the server and delete its folder."""
        try:
            self._run(self._pg_ctl, "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


class PgDatabases:
    """Fresh databases on one server, each a copy of a migrated template."""

    def __init__(self, admin_url: str) -> None:
        url = sa.make_url(admin_url)
        if url.get_backend_name() != "postgresql":
            raise PgUnavailableError(f"ENROLLPAY_PG_URL is not a PostgreSQL URL: {url!r}")
        self._url = url.set(drivername="postgresql+psycopg")
        self._admin = sa.create_engine(
            self._url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool
        )
        self._names = (f"enrollpay_t{os.getpid()}_{n}" for n in itertools.count())
        try:
            with self._admin.connect() as conn:
                self._force = conn.dialect.server_version_info >= (13,)  # type: ignore[operator]
        except sa.exc.SQLAlchemyError as error:
            raise PgUnavailableError(f"cannot connect to {self._url!r}: {error}") from error
        self.template = f"enrollpay_tpl{os.getpid()}"
        self._execute(f'DROP DATABASE IF EXISTS "{self.template}"')
        self._execute(f'CREATE DATABASE "{self.template}"')
        migrate(self.url_of(self.template))

    def _execute(self, sql: str) -> None:
        with self._admin.connect() as conn:
            conn.exec_driver_sql(sql)

    def url_of(self, name: str) -> str:
        """The URL of database ``name`` on this server."""
        return self._url.set(database=name).render_as_string(hide_password=False)

    def create(self, *, migrated: bool = True) -> str:
        """A new database (migrated: a copy of the template) and its URL."""
        name = next(self._names)
        template = f' TEMPLATE "{self.template}"' if migrated else ""
        self._execute(f'CREATE DATABASE "{name}"{template}')
        return self.url_of(name)

    def drop(self, url: str) -> None:
        """Drop a database made by :meth:`create`."""
        name = sa.make_url(url).database
        force = " WITH (FORCE)" if self._force else ""
        self._execute(f'DROP DATABASE IF EXISTS "{name}"{force}')

    def close(self) -> None:
        """Drop the template and let go of the server."""
        self.drop(self.url_of(self.template))
        self._admin.dispose()
