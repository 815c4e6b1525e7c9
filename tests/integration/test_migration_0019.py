"""Migration 0019 on a database built by 0018 with rows in it, on SQLite and PostgreSQL.

0019 adds the price lists, empty: a product registered before it keeps
its one price and sells as before; a price list can be given to it after.
The downgrade drops the table and keeps the products and enrollments.
"""

from __future__ import annotations

import sqlalchemy as sa

from enrollpay import PaymentSystem
from enrollpay.domain.money import Money
from enrollpay.storage.sql import SqlStore, migrate
from enrollpay.testing import FrozenClock

from ..contract.test_store_contract import T0, a_product, an_item  # noqa: TID252 - tests/ off sys.path
from .test_migration_0004 import empty_url  # noqa: F401 - the fixture, parametrised per database
from .test_sql_store import _downgrade, _schema_diff, _seed_at

_TABLE = "enrollpay_product_prices"


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return set(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()


def test_0019_adds_an_empty_price_list_table_and_old_products_keep_their_price(
    empty_url: str,  # noqa: F811
) -> None:
    """The product reads back unchanged with no extra prices; one can be added; downgrade."""
    _seed_at(empty_url, "0018", [an_item("itm_1", seq=1)])
    assert _TABLE not in _tables(empty_url)

    migrate(empty_url)

    assert _schema_diff(empty_url) == []
    store = SqlStore.from_url(empty_url, migrate=False)
    try:
        system = PaymentSystem(store=store, clock=FrozenClock(T0))
        before = system.get_product("prod_1")
        assert before == a_product()
        assert before.prices == ()
        old = a_product()
        updated = system.register_product(
            product_type=old.product_type,
            product_id=old.product_id,
            name=old.name,
            price=old.price,
            auto_assign_payment_plan=old.auto_assign_payment_plan,
            payment_plan=old.payment_plan,
            offered_plans=old.offered_plans,
            refund_policy=old.refund_policy,
            service_period=old.service_period,
            prices=[Money.of("280.00", "EUR")],
        )
        assert system.get_product("prod_1").prices == (Money.of("280.00", "EUR"),)
        assert updated.price == old.price
        assert system.get_enrollment("enr_1").price.currency == "USD"
    finally:
        store.close()

    _downgrade(empty_url, "0018")

    assert _TABLE not in _tables(empty_url)
    assert "enrollpay_products" in _tables(empty_url)
