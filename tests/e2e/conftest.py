"""Fixtures of the example apps' end-to-end tests: a frozen clock, the fake gateway, a system."""

from __future__ import annotations

from tests.support.app_fixtures import clock, fake, system

__all__ = ["clock", "fake", "system"]
