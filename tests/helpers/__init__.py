"""Test helpers shared by the test suites (independent models of Windows behaviour)."""
