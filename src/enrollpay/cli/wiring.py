"""Opening a :class:`PaymentSystem` on a database URL and a gateway.

The SQL store and the Stripe gateway are optional extras, so they are
imported here, when a command needs them, and a missing extra is a clear
one-line error instead of an ImportError at start-up.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import click

from enrollpay.service.system import PaymentSystem

if TYPE_CHECKING:
    from enrollpay.ports import Gateway
    from enrollpay.storage.sql import SqlStore

__all__ = [
    "CommandError",
    "GatewayName",
    "MissingExtraError",
    "NoDatabaseError",
    "make_gateway",
    "open_store",
    "open_system",
    "redact",
    "sqlite_path",
]

GatewayName = Literal["fake", "stripe"]
_SQLITE_FILE = re.compile(r"^sqlite(?:\+\w+)?:///(?P<path>[^?]+)")
_PASSWORD = re.compile(r"(?P<head>://[^/:@]*:)[^@/]*@")


class CommandError(click.ClickException):
    """The command could not do its job (exit status 3)."""

    exit_code = 3


class MissingExtraError(CommandError):
    """An optional dependency is not installed."""


class NoDatabaseError(CommandError):
    """The URL names an SQLite file that does not exist."""


def redact(url: str) -> str:
    """The URL with its password hidden, for messages."""
    return _PASSWORD.sub(r"\g<head>***@", url)


def sqlite_path(url: str) -> Path | None:
    """The file of an ``sqlite:///path`` URL (None for other databases and ``sqlite://``)."""
    match = _SQLITE_FILE.match(url)
    if match is None or match["path"] == ":memory:":
        return None
    return Path(match["path"])


def open_store(url: str, *, must_exist: bool = True) -> SqlStore:
    """The SQL store at ``url`` (SQLite files are migrated on open, as the library does).

    With ``must_exist`` an SQLite file that is not there is an error rather
    than a new, empty database (a typo in a cron line should not look like
    "nothing due").
    """
    path = sqlite_path(url)
    if must_exist and path is not None and not path.exists():
        raise NoDatabaseError(
            f"no database at {path} (create it with: enrollpay db upgrade --url {url})"
        )
    try:
        from enrollpay.storage.sql import SqlStore  # noqa: PLC0415 - optional extra
    except ImportError as exc:
        raise MissingExtraError(
            f"the SQL store needs the 'sql' extra: pip install 'enrollpay[sql]' ({exc})"
        ) from None
    return SqlStore.from_url(url)


def make_gateway(name: GatewayName) -> Gateway:
    """The gateway a worker process talks to.

    ``fake`` is lenient (it trusts customer and card ids an earlier process
    created) and names its payments with a fresh namespace per process, so
    they never collide with the ones stored by earlier runs. ``stripe``
    reads ``STRIPE_SECRET_KEY`` and ``STRIPE_WEBHOOK_SECRET``.
    """
    if name == "fake":
        from enrollpay.gateways.fake import FakeGateway  # noqa: PLC0415

        return FakeGateway(strict=False, id_namespace=f"fake{uuid.uuid4().hex[:10]}")
    try:
        from enrollpay.gateways.stripe import StripeGateway  # noqa: PLC0415 - optional extra
    except ImportError as exc:
        raise MissingExtraError(
            f"the Stripe gateway needs the 'stripe' extra: pip install 'enrollpay[stripe]' ({exc})"
        ) from None
    return StripeGateway.from_env()


@contextmanager
def open_system(url: str, gateway: GatewayName | None = None) -> Iterator[PaymentSystem]:
    """A payment system on the database at ``url``, with ``gateway`` (or none, for reading).

    The store's connections are closed when the block ends.
    """
    store = open_store(url)
    try:
        yield PaymentSystem(store=store, gateway=None if gateway is None else make_gateway(gateway))
    finally:
        store.close()
