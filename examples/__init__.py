"""Runnable examples; each one is run by the test suite."""
