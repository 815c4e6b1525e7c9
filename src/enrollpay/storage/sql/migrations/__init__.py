"""Alembic migrations of enrollpay's tables; run them with ``enrollpay.storage.sql.migrate``."""
