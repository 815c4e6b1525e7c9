"""One SQL unit of work (:class:`SqlTransaction`): the repositories put together.

Each concept has its module: the constant statements (:mod:`.statements`),
the rows a transaction holds (:mod:`.rowcache`), guarded writes and the
invariants they keep (:mod:`.guards`), the audit chain (:mod:`.auditchain`),
and one repository per aggregate (:mod:`.catalog`, :mod:`.enrollments`,
:mod:`.payments`, :mod:`.disputes`, :mod:`.journal`), with the report queries
(:mod:`.reports`). Every public method translates SQLAlchemy's exceptions
into the library's.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from sqlalchemy import exc

from enrollpay.storage.sql.catalog import CatalogRepository
from enrollpay.storage.sql.discounts import DiscountRepository
from enrollpay.storage.sql.disputes import DisputeRepository
from enrollpay.storage.sql.engine import translate
from enrollpay.storage.sql.enrollments import EnrollmentRepository
from enrollpay.storage.sql.journal import JournalRepository
from enrollpay.storage.sql.notifications import NotificationLogRepository
from enrollpay.storage.sql.outbox import OutboxRepository
from enrollpay.storage.sql.payers import PayerRepository
from enrollpay.storage.sql.payments import PaymentRepository
from enrollpay.storage.sql.receipts import ReceiptRepository
from enrollpay.storage.sql.reports import SqlReports
from enrollpay.storage.sql.seats import SeatRepository
from enrollpay.storage.sql.sync import SyncRepository

__all__ = ["SqlTransaction"]

P = ParamSpec("P")
R = TypeVar("R")


def _translated(method: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except exc.SQLAlchemyError as error:
            raise translate(error) from error

    return wrapper


class SqlTransaction(
    CatalogRepository,
    EnrollmentRepository,
    PaymentRepository,
    DisputeRepository,
    DiscountRepository,
    SeatRepository,
    JournalRepository,
    OutboxRepository,
    NotificationLogRepository,
    SqlReports,
    SyncRepository,
    ReceiptRepository,
    PayerRepository,
):
    """A :class:`~enrollpay.ports.StoreTransaction` over one SQLAlchemy connection."""

    def committed(self) -> None:
        """The store committed this transaction: remember the chain head it leaves (SQLite)."""
        self._chain.committed()

    def flush(self) -> None:
        """Send the audit entries and events held back (the store calls this before committing).

        A unit of work appends up to a few audit entries, and on SQLite adds
        up to a few events; each kind goes out as one statement instead of
        one each. Nothing else reads them before this transaction ends
        except its own reads of the audit chain and of the outbox
        (:meth:`pending_events`, :meth:`mark_event_delivered`), which flush
        first.
        """
        self._chain.flush()
        self.flush_events()


for _name in {name for klass in SqlTransaction.__mro__ for name in vars(klass)}:
    _method = inspect.getattr_static(SqlTransaction, _name)
    if not _name.startswith("_") and inspect.isfunction(_method):
        setattr(SqlTransaction, _name, _translated(_method))
