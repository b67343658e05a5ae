"""The stress harness (issue 6): proves Deskwoot loses nothing under load and across crashes.

`python -m stress` (or `make stress`) builds a workspace on a fresh SQLite or PostgreSQL
database, serves it with gunicorn (4 workers, the README's settings), drives it with many
concurrent MCP agents and inbound-hook callers while `kill -9`-ing the whole server at random
moments, then checks in the database that every acknowledged write is there exactly once with
its event and audit entry, and that every events poller saw the whole feed once, in order.

Meanwhile delivery workers (`deskwoot worker`) send the replies to an SMTP sink and a webhook
receiver the harness runs, and are `kill -9`ed at random moments, some mid-delivery
(worker_chaos.py); afterwards every acknowledged reply must have reached its receiver, each
identity (Message-ID, webhook-id) exactly once, and the outbox must drain (verify_delivery.py).
"""
