"""The stress harness (issue 6): proves Deskwoot loses nothing under load and across crashes.

`python -m stress` (or `make stress`) builds a workspace on a fresh SQLite or PostgreSQL
database, serves it with gunicorn (4 workers, the README's settings), drives it with many
concurrent MCP agents and inbound-hook callers while `kill -9`-ing the whole server at random
moments, then checks in the database that every acknowledged write is there exactly once with
its event and audit entry, and that every events poller saw the whole feed once, in order.
"""
