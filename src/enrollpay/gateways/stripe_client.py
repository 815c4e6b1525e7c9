"""Moved to :mod:`enrollpay.gateways.stripe.client`; this name keeps working."""

from enrollpay.gateways.stripe.client import (
    DEFAULT_NETWORK_RETRIES,
    TelemetryFreeHTTPClient,
    build_client,
)

__all__ = ["DEFAULT_NETWORK_RETRIES", "TelemetryFreeHTTPClient", "build_client"]
