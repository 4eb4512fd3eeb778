"""Fault tests share the scale tests' Redis fixture (a key prefix of each test's own)."""

from tests.scale.conftest import redis_prefix

__all__ = ["redis_prefix"]
