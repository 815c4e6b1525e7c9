"""Storage adapters: :mod:`enrollpay.storage.memory` and :mod:`enrollpay.storage.sql`."""
