"""``enrollpay_dispatch``."""
