"""The audit chain of one SQL transaction: link entries after the head, send them at the end.

Writers of the chain are serialised: on PostgreSQL by an advisory
transaction lock held until commit, on SQLite by the write lock every
transaction holds already. A unit of work appends up to a few entries;
they go out as one statement when the store commits (:meth:`AuditChain.flush`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from enrollpay.audit import link_entry
from enrollpay.domain.records import AuditEntry
from enrollpay.ports import AuditDraft
from enrollpay.storage.sql import mapping as m
from enrollpay.storage.sql import statements as q
from enrollpay.storage.sql.prepared import Driver
from enrollpay.storage.sql.schema import audit_log

__all__ = ["AUDIT_LOCK_KEY", "AuditChain"]

#: pg_advisory_xact_lock key that serialises audit-chain writers (b"enrollau").
AUDIT_LOCK_KEY = 0x656E726F6C6C6175
#: Key of (data_version, chain head) in an SQLite connection's ``info``.
_CHAIN_HEAD = "enrollpay_audit_head"


class AuditChain:
    """The chain as one transaction extends it."""

    __slots__ = ("_c", "_d", "_data_version", "_head", "_hold", "_pg", "_rows")

    def __init__(
        self, conn: sa.Connection, driver: Driver, *, hold: Callable[[], None], pg: bool
    ) -> None:
        self._c = conn
        self._d = driver
        #: PostgreSQL: takes the chain's lock for the rest of the transaction.
        self._hold = hold
        self._pg = pg
        #: The chain's last entry once this transaction holds the chain (None: not yet).
        self._head: AuditEntry | None = None
        #: Audit rows linked but not yet sent: one multi-row INSERT at the end.
        self._rows: list[dict[str, Any]] = []
        #: SQLite: the connection's ``PRAGMA data_version`` when this transaction
        #: first needed the chain's head (see :meth:`_sqlite_head`).
        self._data_version: int | None = None

    def append(self, draft: AuditDraft) -> AuditEntry:
        """Link ``draft`` after the chain's last entry (serialised among writers)."""
        head = self._head
        if head is None:  # once per transaction: after that, the head is the entry we wrote
            if self._pg:
                self._hold()  # the chain's lock, held until the transaction ends
                head = self._read_head()
            else:
                head = self._sqlite_head()
        entry = link_entry(draft, head)
        self._rows.append(m.audit_to_row(entry))
        self._head = entry
        return entry

    def _read_head(self) -> AuditEntry | None:
        last = self._d.run(q.LAST_AUDIT).first()
        return None if last is None else m.audit_from_row(last)

    def _sqlite_head(self) -> AuditEntry | None:
        """The chain's last entry, remembered per connection while nobody else writes.

        SQLite changes a connection's ``PRAGMA data_version`` whenever another
        connection commits, and never for its own commits. So the head this
        connection committed last (see :meth:`committed`) is still the head
        when the version is unchanged: one PRAGMA instead of reading the
        chain's last row. The write lock (``BEGIN IMMEDIATE``) keeps it so
        until this transaction ends. A stale head could not go unnoticed
        anyway: its successor's ``seq`` is the audit table's primary key.
        """
        self._data_version = version = self._d.run("PRAGMA data_version").scalar()
        # Taken out: only a commit puts it back, so a failed transaction (even
        # one whose COMMIT reported an error after the fact) leaves nothing stale.
        remembered = self._c.connection.info.pop(_CHAIN_HEAD, None)
        if remembered is not None and remembered[0] == version:
            head: AuditEntry | None = remembered[1]
            return head
        return self._read_head()

    def committed(self) -> None:
        """The store committed the transaction: remember the chain head it leaves (SQLite)."""
        if self._data_version is not None:
            self._c.connection.info[_CHAIN_HEAD] = (self._data_version, self._head)

    def flush(self) -> None:
        """Send the entries linked so far (before committing, or before reading the chain)."""
        if self._rows:
            rows, self._rows = self._rows, []
            self._d.run(q.INSERT[audit_log.name], rows, value_keys=True)
