"""A store that passes its transactions through a test's hands on the way out and back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from enrollpay.ports import Store, StoreReader, StoreTransaction

__all__ = ["WrappedStore"]


class WrappedStore:
    """The inner store, each transaction handed out through :meth:`wrap`.

    :meth:`committed` runs once a transaction has committed (not when its
    block raised). Readers are the inner store's own.
    """

    def __init__(self, inner: Store) -> None:
        self.inner = inner

    def wrap(self, tx: StoreTransaction) -> StoreTransaction:
        """What the caller gets in place of ``tx`` (``tx`` itself by default)."""
        return tx

    def committed(self) -> None:
        """Called after each transaction commits."""

    def transaction(self) -> AbstractContextManager[StoreTransaction]:
        """The inner store's transaction, wrapped."""
        return self._transaction()

    def reader(self) -> AbstractContextManager[StoreReader]:
        """The inner store's reader."""
        return self.inner.reader()

    @contextmanager
    def _transaction(self) -> Iterator[StoreTransaction]:
        with self.inner.transaction() as tx:
            yield self.wrap(tx)
        self.committed()
