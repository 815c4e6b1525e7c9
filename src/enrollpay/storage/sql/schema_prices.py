"""The table of price lists (migration 0019), on the schema's :data:`~.metadata.metadata`.

``enrollpay_product_prices`` holds a product's explicit prices in
currencies other than its default (``enrollpay_products.price_minor`` and
``currency``): one row per product and currency (the primary key), each a
positive BIGINT of minor units. That the default currency is not repeated
here is the library's rule (:mod:`enrollpay.domain.price_lists`), checked
before every write.
"""

from __future__ import annotations

import sqlalchemy as sa

from enrollpay.storage.sql.metadata import ID, metadata

__all__ = ["product_prices"]

product_prices = sa.Table(
    "enrollpay_product_prices",
    metadata,
    sa.Column("product_id", ID, sa.ForeignKey("enrollpay_products.id"), primary_key=True),
    sa.Column("currency", sa.String(3), primary_key=True),
    sa.Column("amount_minor", sa.BigInteger(), nullable=False),
    sa.CheckConstraint("amount_minor > 0", name="amount_minor_positive"),
)
