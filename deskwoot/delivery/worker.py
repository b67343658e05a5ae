"""The delivery loop: claim due outbox rows, hand each to its channel, record the outcome.

Run by `deskwoot worker` (and one beside gunicorn by `deskwoot serve`). Each pass claims a
batch under a lease (services/delivery/claims.py), delivers the rows one by one,
and records each outcome in its own transaction (services/delivery/outbox.py): sent,
failed, or retried after backoff.py's delay. Stopping (SIGTERM/SIGINT set `stop`) finishes the
delivery under way and gives the rest of the batch back at once, so another worker need not
wait out the lease; so does a batch that has used half its lease (a slow server), so no row is
delivered by a worker whose claim may have run out.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from flask import Flask

from deskwoot.channels import api_webhook, event_webhook, product_mail
from deskwoot.channels.email import outgoing as email_outgoing
from deskwoot.channels.email import smtp
from deskwoot.channels.outcomes import Delivered, Failed, Outcome, Retry
from deskwoot.delivery import backoff, mailboxes
from deskwoot.extensions import db
from deskwoot.models import utcnow
from deskwoot.oauth import pruning as oauth_pruning
from deskwoot.services.delivery import claims, outbox
from deskwoot.services.delivery.outbox import Claimed, Outgoing
from deskwoot.services.webhooks import EVENT_CHANNEL, fanout

log = logging.getLogger(__name__)


def _api(outgoing: Outgoing, config) -> Outcome:
    return api_webhook.deliver(outgoing, timeout=float(config["WEBHOOK_TIMEOUT"]))


# One deliverer per channel ("mail": the product's own mail, services/operations/mail.py;
# "event": event webhooks, services/webhooks/).
# Channels missing here are never claimed: their rows stay pending, untouched. That is the
# "web" channel's case: there is no chat widget to deliver to yet.
DELIVERERS: dict[str, Callable[[Claimed, dict], Outcome]] = {
    "api": _api,
    "email": email_outgoing.deliver,
    "mail": product_mail.deliver,
    EVENT_CHANNEL: event_webhook.deliver,
}


# Delete transactions per kind of OAuth row in one worker pass (each of pruning.BATCH rows):
# a backlog is worked off over several passes instead of delaying deliveries.
OAUTH_PRUNE_BATCHES = 5


def worker_name() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


class Worker:
    def __init__(self, app: Flask, name: str | None = None):
        self.app = app
        self.name = name or worker_name()
        self.stop = threading.Event()
        self.config = app.config
        self.oauth_pruned_at: float | None = None  # time.monotonic() of the last OAuth prune

    def run(self, once: bool = False) -> int:
        """Deliver until stopped (or, with once, until nothing is due); how many rows it
        handled."""
        handled = 0
        try:
            while not self.stop.is_set():
                count = self.run_once()
                handled += count
                mailboxes.poll_due(self.app, self.name, self.stop)  # IMAP, between batches
                if count == 0:
                    smtp.close_sessions()  # kept only while there is a backlog
                    if once:
                        break
                    self.stop.wait(float(self.config["DELIVERY_POLL_INTERVAL"]))
        finally:
            smtp.close_sessions()
        return handled

    def run_once(self) -> int:
        """Claim one batch and deliver it; how many rows were handled."""
        lease = float(self.config["DELIVERY_LEASE"])
        with self.app.app_context():
            self._fan_out()
            self._prune_oauth()
            claimed_at = time.monotonic()
            ids = claims.claim(
                self.name, sorted(DELIVERERS), int(self.config["DELIVERY_BATCH"]), lease
            )
            for index, outbox_id in enumerate(ids):
                # Give the rest back when stopping, and when less than half the lease is left:
                # a slow server must not keep this worker sending rows whose lease ran out and
                # that another worker may have claimed meanwhile (a second copy to the customer).
                if self.stop.is_set() or time.monotonic() - claimed_at > lease / 2:
                    claims.release(self.name, ids[index:])
                    return index
                self._deliver(outbox_id)
            return len(ids)

    def _fan_out(self) -> None:
        """Turn new feed events into event-webhook deliveries (services/webhooks/fanout.py),
        before claiming, so they go out in this very pass. Never stops the worker."""
        try:
            fanout.fan_out(int(self.config["WEBHOOK_FANOUT_BATCH"]))
        except Exception:
            log.exception("event webhooks: fan-out failed")
            db.session.rollback()

    def _prune_oauth(self) -> None:
        """Delete dead OAuth codes, tokens, never-granted clients and ended registration
        windows (oauth/pruning.py, as `deskwoot prune` does), at most every
        OAUTH_PRUNE_INTERVAL seconds (0: never here) and a few batches per pass, so open
        registration's leftovers never pile up. Never stops the worker."""
        interval = float(self.config["OAUTH_PRUNE_INTERVAL"])
        now = time.monotonic()
        if interval <= 0 or (
            self.oauth_pruned_at is not None and now - self.oauth_pruned_at < interval
        ):
            return
        self.oauth_pruned_at = now
        try:
            result = oauth_pruning.prune(max_batches=OAUTH_PRUNE_BATCHES)
        except Exception:
            log.exception("oauth: pruning failed")
            db.session.rollback()
            return
        if any(result.counts().values()):
            log.info("oauth: pruned %s", result.counts())

    def _deliver(self, outbox_id: int) -> None:
        try:
            outgoing = outbox.outgoing(outbox_id)
        except Exception:  # a row that cannot even be loaded must not stop the others
            log.exception("loading outbox row %s", outbox_id)
            self._set_aside(outbox_id)
            return
        if outgoing is None:
            return
        try:
            outcome = DELIVERERS[outgoing.channel](outgoing, self.config)
        except Exception as exc:  # a deliverer bug must not stop every other delivery
            log.exception("delivering outbox row %s", outbox_id)
            outcome = Retry(f"internal error: {type(exc).__name__}")
        self.record(outgoing, outcome)

    def _set_aside(self, outbox_id: int) -> None:
        """Put a row that broke the loader off for a lease's length (counted as an attempt),
        so the worker goes on with the rest and does not spin on it."""
        db.session.rollback()  # whatever the loader left half done
        try:
            outbox.mark_retry(
                outbox_id,
                self.name,
                "internal error while loading the message (see the worker's log)",
                utcnow() + timedelta(seconds=float(self.config["DELIVERY_LEASE"])),
            )
        except Exception:
            log.exception("setting outbox row %s aside", outbox_id)

    def record(self, outgoing: Claimed, outcome: Outcome) -> None:
        attempt = outgoing.attempts + 1
        response = outcome.response
        if isinstance(outcome, Delivered):
            outbox.mark_sent(outgoing.outbox_id, self.name, outcome.note, response)
        elif isinstance(outcome, Failed):
            outbox.mark_failed(outgoing.outbox_id, self.name, outcome.reason, response)
        elif attempt >= int(self.config["DELIVERY_MAX_ATTEMPTS"]):
            outbox.mark_failed(
                outgoing.outbox_id,
                self.name,
                f"gave up after {attempt} attempts: {outcome.reason}",
                response,
            )
        else:
            wait = backoff.delay(
                attempt,
                float(self.config["DELIVERY_BACKOFF_BASE"]),
                float(self.config["DELIVERY_BACKOFF_CAP"]),
                outcome.after,
            )
            outbox.mark_retry(
                outgoing.outbox_id,
                self.name,
                outcome.reason,
                utcnow() + timedelta(seconds=wait),
                response,
            )
        log.info("outbox row %s: %s", outgoing.outbox_id, outcome)
