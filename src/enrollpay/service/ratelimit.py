"""Moved to :mod:`enrollpay.gateways.ratelimit`; this name keeps working."""

from enrollpay.gateways.ratelimit import ThrottledGateway, TokenBucket

__all__ = ["ThrottledGateway", "TokenBucket"]
