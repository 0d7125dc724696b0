"""Reliability tests: the fault sweep and the load test (docs/reliability.md)."""
