"""The seed's REST API on enrollpay, with FastAPI (see README.md)."""
