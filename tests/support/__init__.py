"""Helpers shared by the test suites (a local fake Stripe server)."""
