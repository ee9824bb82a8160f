"""Test helpers shared by the test modules (fault injection and the like)."""
