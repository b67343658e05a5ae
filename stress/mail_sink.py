"""The SMTP server the stress run's email inbox sends to: aiosmtpd on a loopback port, in a
thread of the harness.

It records every accepted message's Message-ID with a digest of its headers and text
(sink_records.py), answers `451 4.3.0` to a random fraction of messages so the worker's
backoff and retries run under load, and, when the chaos arms it, finds the worker process
that is sending and has it killed the moment the message is accepted.
"""

from __future__ import annotations

import hashlib
import logging
from email import policy
from email.parser import BytesParser

from aiosmtpd.controller import Controller

from bench.servers import free_port
from stress.sink_records import Recorder

HOST = "127.0.0.1"
DEFERRED = "451 4.3.0 Stress sink: try again later"
# What identifies the message a teammate sent; the transport adds nothing the sender chose.
COMPARED_HEADERS = ("message-id", "date", "from", "to", "reply-to", "subject", "in-reply-to")


def digest(content: bytes) -> tuple[str | None, str]:
    """(Message-ID, digest of the headers above and the text), as the sink sees them."""
    message = BytesParser(policy=policy.default).parsebytes(content)
    text_part = message.get_body(preferencelist=("plain",))
    text = text_part.get_content() if text_part is not None else ""
    parts = [f"{name}: {message.get(name, '')}" for name in COMPARED_HEADERS]
    parts += [f"references: {message.get('references', '')}", text]
    message_id = message.get("message-id")
    return (str(message_id).strip() if message_id else None), hashlib.sha256(
        "\n".join(parts).encode("utf-8", "replace")
    ).hexdigest()


class _Handler:
    def __init__(self, recorder: Recorder):
        self.recorder = recorder

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.recorder.refuse():
            return DEFERRED
        try:
            message_id, content_digest = digest(envelope.original_content or envelope.content)
        except Exception as exc:  # a message the sink cannot read fails a check, not the sink
            self.recorder.reject(f"unreadable message: {type(exc).__name__}: {exc}")
            return "250 OK (unreadable, recorded as such)"
        if message_id is None:
            self.recorder.reject("a message without a Message-ID")
            return "250 OK (no Message-ID, recorded as such)"
        self.recorder.accept(message_id, content_digest, session.peer[1])
        return "250 OK"


class MailSink:
    def __init__(self, refuse_rate: float, seed: int):
        self.recorder = Recorder(refuse_rate, seed)
        self.port = free_port()
        self.url = f"smtp://{HOST}:{self.port}"
        self._controller: Controller | None = None

    def start(self) -> MailSink:
        # aiosmtpd logs each connection a killed worker drops; that is the point of the run.
        logging.getLogger("mail.log").setLevel(logging.CRITICAL)
        self._controller = Controller(
            _Handler(self.recorder), hostname=HOST, port=self.port, ready_timeout=10
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
