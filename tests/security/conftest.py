"""Security tests reuse the runtime's fixture plugin roots."""

from tests.plugins.conftest import plugin_roots

__all__ = ["plugin_roots"]
