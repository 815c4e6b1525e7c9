"""Products, plan rules and customers of a SQL transaction (see :mod:`.guards`)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from enrollpay.domain.money import Money
from enrollpay.domain.plans import PlanRule
from enrollpay.domain.records import Customer, Product
from enrollpay.errors import DuplicateError
from enrollpay.storage.sql import mapping as m
from enrollpay.storage.sql import statements as q
from enrollpay.storage.sql.prepared import Prepared
from enrollpay.storage.sql.schema import customers, plan_rules, products
from enrollpay.storage.sql.schema_prices import product_prices
from enrollpay.storage.sql.unit import SqlUnit, chunks

__all__ = ["CatalogRepository"]

#: One product with its price list: a row per price (ordered by currency),
#: or one row with no price when the list is empty. Every enrollment, charge
#: receipt and checkout reads its product, so this is one statement, not two.
_PRODUCT_WITH_PRICES = Prepared(
    sa.select(
        products,
        product_prices.c.currency.label("list_currency"),
        product_prices.c.amount_minor.label("list_amount_minor"),
    )
    .select_from(products.outerjoin(product_prices, product_prices.c.product_id == products.c.id))
    .where(products.c.id == sa.bindparam("key"))
    .order_by(product_prices.c.currency)
)


def _price(row: m.Row) -> Money:
    return Money(row["amount_minor"], row["currency"])


class CatalogRepository(SqlUnit):
    """What is sold and to whom: products, plan rules and gateway customers."""

    # -- products and rules ------------------------------------------------------------

    def get_product(self, product_id: str) -> Product | None:
        """The product with internal id ``product_id`` (one constant statement)."""
        rows = self._rows(_PRODUCT_WITH_PRICES, product_id)
        if not rows:
            return None
        prices = [
            Money(r["list_amount_minor"], r["list_currency"])
            for r in rows
            if r["list_currency"] is not None
        ]
        return m.product_from_row(rows[0], prices)

    def find_product(self, product_type: str, external_id: str) -> Product | None:
        """The product registered under the host app's ``(type, id)``."""
        row = self._row(
            sa.select(products).where(
                products.c.product_type == product_type, products.c.product_id == external_id
            )
        )
        return None if row is None else self._products([row])[0]

    def put_product(self, product: Product) -> None:
        """Insert or replace a product (unique by id and by (type, external id))."""

        def check() -> None:
            other = self.find_product(product.product_type, product.product_id)
            if other is not None and other.id != product.id:
                raise DuplicateError("product", (product.product_type, product.product_id))

        # Only the id: a tool on an older schema (check_schema=False) still puts products.
        existed = self._g.exists(products, products.c.id == product.id)
        self._g.guarded(check, lambda: self._g.upsert(products, "id", m.product_to_row(product)))
        self._replace_prices(product, existed=existed)

    def _replace_prices(self, product: Product, *, existed: bool) -> None:
        """Make the stored price list ``product.prices`` (no statement when it is already).

        A new product without a price list touches no price row at all.
        """
        if existed:
            stored = self._price_lists([product.id]).get(product.id, [])
            if tuple(stored) == product.prices:
                return
            self._d.run(sa.delete(product_prices).where(product_prices.c.product_id == product.id))
        if product.prices:
            self._d.run(
                sa.insert(product_prices),
                [
                    {"product_id": product.id, "currency": p.currency, "amount_minor": p.minor}
                    for p in product.prices
                ],
            )

    def list_products(self, *, active: bool | None = None) -> list[Product]:
        """Products ordered by name, optionally only (in)active ones."""
        stmt = sa.select(products).order_by(self._text(products.c.name), self._text(products.c.id))
        if active is not None:
            stmt = stmt.where(products.c.active == active)
        return self._products(self._rows(stmt))

    def _products(self, rows: Sequence[m.Row]) -> list[Product]:
        """The products of ``rows``, each with its price list (one query per 500 products)."""
        listed = self._price_lists([r["id"] for r in rows])
        return [m.product_from_row(r, listed.get(r["id"], ())) for r in rows]

    def _price_lists(self, ids: Sequence[str]) -> dict[str, list[Money]]:
        """The stored price lists of products ``ids``, each ordered by currency."""
        listed: dict[str, list[Money]] = {}
        t = product_prices.c
        for part in chunks(ids):
            stmt = sa.select(product_prices).where(t.product_id.in_(part)).order_by(t.currency)
            for r in self._rows(stmt):
                listed.setdefault(r["product_id"], []).append(_price(r))
        return listed

    def replace_plan_rules(self, rules: Sequence[PlanRule]) -> None:
        """Replace every plan rule, keeping the given order."""
        self._d.run(sa.delete(plan_rules))
        if rules:
            self._d.run(
                sa.insert(plan_rules), [m.rule_to_row(i, rule) for i, rule in enumerate(rules)]
            )

    def list_plan_rules(self) -> list[PlanRule]:
        """The plan rules in the order they were given."""
        return [m.rule_from_row(r) for r in self._rows(q.PLAN_RULES)]

    # -- customers ---------------------------------------------------------------------

    def get_customer(self, user_id: str) -> Customer | None:
        """The gateway customer of a user."""
        row = self._row(q.CUSTOMER, user_id)
        return None if row is None else m.customer_from_row(row)

    def find_customer_by_gateway_id(self, gateway_customer_id: str) -> Customer | None:
        """The user mapping for a gateway customer id."""
        row = self._row(q.CUSTOMER_BY_GATEWAY, gateway_customer_id)
        return None if row is None else m.customer_from_row(row)

    def put_customer(self, customer: Customer) -> None:
        """Insert or replace the gateway customer of a user."""

        def check() -> None:
            other = self.find_customer_by_gateway_id(customer.gateway_customer_id)
            if other is not None and other.user_id != customer.user_id:
                raise DuplicateError("gateway customer", customer.gateway_customer_id)

        self._g.guarded(
            check, lambda: self._g.upsert(customers, "user_id", m.customer_to_row(customer))
        )
