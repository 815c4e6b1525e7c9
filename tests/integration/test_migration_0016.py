"""Migration 0016 on a database built by 0015 with rows in it, on SQLite and PostgreSQL.

0016 adds the gateway subscription's reported state to
``enrollpay_enrollments`` (empty on existing rows: the next subscription
webhook fills it); the downgrade drops it and keeps the rows.
"""

from __future__ import annotations

from datetime import timedelta

import attrs
import sqlalchemy as sa

from enrollpay.domain.subscriptions import SubscriptionState
from enrollpay.storage.sql import SqlStore, migrate

from ..contract.test_store_contract import T0, an_item  # noqa: TID252 - tests/ off sys.path
from .test_migration_0004 import empty_url  # noqa: F401 - the fixture, parametrised per database
from .test_sql_store import _downgrade, _schema_diff, _seed_at


def _columns(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            found = sa.inspect(conn).get_columns("enrollpay_enrollments")
            return {str(c["name"]) for c in found if str(c["name"]).startswith("subscription_")}
    finally:
        engine.dispose()


def test_0016_adds_an_empty_subscription_state_that_round_trips_then_downgrades(
    empty_url: str,  # noqa: F811
) -> None:
    """Existing enrollments have no state; one written after the upgrade comes back; downgrade."""
    _seed_at(empty_url, "0015", [an_item("itm_1", seq=1)])
    assert _columns(empty_url) == set()

    migrate(empty_url)

    assert _schema_diff(empty_url) == []
    assert _columns(empty_url) == {
        "subscription_status",
        "subscription_as_of",
        "subscription_period_start",
        "subscription_period_end",
        "subscription_cancel_at_period_end",
        "subscription_trial_end",
    }
    state = SubscriptionState("past_due", as_of=T0, current_period_end=T0 + timedelta(days=30))
    store = SqlStore.from_url(empty_url, migrate=False)
    try:
        with store.transaction() as tx:
            old = tx.get_enrollment("enr_1")
            assert old is not None
            assert old.subscription is None
            tx.update_enrollment(attrs.evolve(old, subscription=state))
        with store.transaction() as tx:
            stored = tx.get_enrollment("enr_1")
            assert stored is not None
            assert stored.subscription == state
    finally:
        store.close()

    _downgrade(empty_url, "0015")

    assert _columns(empty_url) == set()
    engine = sa.create_engine(empty_url)
    try:
        with engine.connect() as conn:
            count = conn.execute(sa.text("SELECT count(*) FROM enrollpay_enrollments")).scalar()
        assert count == 1
    finally:
        engine.dispose()
