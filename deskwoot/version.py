"""Deskwoot's version, in a module of its own so that any part can name it without importing
the package's app factory. Keep it in step with pyproject.toml."""

__version__ = "0.1.0"
