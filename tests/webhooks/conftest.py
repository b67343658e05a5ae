"""The event webhook tests' app: retries due at once (tests/delivery/desk.py)."""

from tests.delivery.desk import app_config  # noqa: F401 (a fixture, found by name)
