"""Shared fixtures: which stores the service and contract tests run against."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from enrollpay.ports import Store
from enrollpay.storage.memory import InMemoryStore


@pytest.fixture
def store_factory() -> Callable[[], Store]:
    """Make fresh stores (in-memory until the SQL store joins the parametrisation)."""
    return InMemoryStore
