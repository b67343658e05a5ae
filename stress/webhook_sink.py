"""The HTTP receiver the stress run's API inbox posts its webhooks to, in a thread of the
harness.

It verifies each delivery's Standard Webhooks signature with the inbox's signing secret (a
delivery that does not verify is answered 400 and recorded as rejected, so a check fails),
answers 500 to a random fraction so the worker retries, and records every accepted
`webhook-id` with a digest of the payload's `data` (the envelope's timestamp is per attempt).
Armed by the chaos, it has the sending worker killed the moment it accepts a delivery,
before its 200 goes out.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError

from bench.servers import free_port
from stress.sink_records import Recorder

HOST = "127.0.0.1"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    recorder: Recorder
    verifier: Webhook | None


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        recorder = self.server.recorder
        if recorder.refuse():
            self._answer(500)
            return
        key = self.headers.get("webhook-id") or ""
        try:
            payload = self.server.verifier.verify(body, dict(self.headers.items()))
        except (WebhookVerificationError, AttributeError, ValueError) as exc:
            recorder.reject(f"{key or 'no webhook-id'}: {type(exc).__name__}: {exc}")
            self._answer(400)
            return
        data = json.dumps(payload.get("data"), sort_keys=True)
        recorder.accept(key, hashlib.sha256(data.encode()).hexdigest(), self.client_address[1])
        self._answer(200)

    def _answer(self, status: int) -> None:
        try:
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()
        except OSError:
            pass  # the sender was killed while it waited for this answer

    def log_message(self, format, *args) -> None:
        pass  # one line per delivery would drown the harness's own output


class WebhookSink:
    def __init__(self, refuse_rate: float, seed: int):
        self.recorder = Recorder(refuse_rate, seed)
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}/deskwoot-webhook"
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> WebhookSink:
        server = _Server((HOST, self.port), _Handler)
        server.recorder = self.recorder
        server.verifier = None  # set once the inbox's signing secret exists
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="webhook-sink", daemon=True
        )
        self._thread.start()
        return self

    def verify_with(self, secret: str) -> None:
        self._server.verifier = Webhook(secret)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
