"""A real Standard Webhooks receiver for the event webhook tests: an `http.server` thread on
a loopback port that verifies every request with the reference `standardwebhooks` library
(answering 401 to a bad signature, as a real receiver would), records it, and answers from a
script (status, then 200 once the script runs out)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Delivery:
    webhook_id: str
    payload: dict | None  # None: the signature did not verify
    status: int  # what the receiver answered


class SigningReceiver:
    def __init__(self, *statuses: int):
        self.script = list(statuses)
        self.secret: str | None = None  # set once the endpoint is made
        self.deliveries: list[Delivery] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    payload = Webhook(receiver.secret).verify(body, headers)
                    assert payload == json.loads(body)
                except (WebhookVerificationError, TypeError, ValueError):
                    payload = None
                with receiver.lock:
                    if payload is None:
                        status = 401
                    else:
                        status = receiver.script.pop(0) if receiver.script else 200
                    receiver.deliveries.append(Delivery(headers["webhook-id"], payload, status))
                answer = b"gone for good" if status == 410 else b""
                self.send_response(status)
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def accepted(self) -> list[Delivery]:
        """Deliveries that verified and got a 2xx, in arrival order."""
        return [d for d in self.deliveries if d.payload is not None and d.status < 300]

    def types(self) -> list[str]:
        return [d.payload["type"] for d in self.accepted]

    def __enter__(self) -> SigningReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        assert all(d.payload is not None for d in self.deliveries), "a signature did not verify"
