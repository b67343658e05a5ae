"""The receivers delivery is measured against, each in a process of its own so its CPU time is
counted apart from the worker's: an SMTP sink (aiosmtpd) and a webhook receiver (http.server).

    python -m bench.sinks smtp|webhook PORT REPORT.json

Each accepts everything, counts what it got by identity (the email Message-ID, the
webhook-id header), and on SIGTERM writes {"received": n, "unique": n, "duplicates": n} to
REPORT.json and exits.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections import Counter
from email.parser import BytesHeaderParser
from email.policy import SMTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SEEN: Counter[str] = Counter()
LOCK = threading.Lock()


def _count(identity: str) -> None:
    with LOCK:
        SEEN[identity] += 1


def _report(path: Path) -> None:
    with LOCK:
        total = sum(SEEN.values())
        path.write_text(
            json.dumps({"received": total, "unique": len(SEEN), "duplicates": total - len(SEEN)})
        )


class _SmtpHandler:
    async def handle_DATA(self, server, session, envelope):
        headers = BytesHeaderParser(policy=SMTP).parsebytes(envelope.original_content or b"")
        _count(str(headers.get("Message-ID", "")))
        return "250 2.0.0 OK"


class _WebhookHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        _count(self.headers.get("webhook-id", ""))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):  # quiet
        pass


def main(kind: str, port: int, report: Path) -> None:
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    if kind == "smtp":
        from aiosmtpd.controller import Controller

        controller = Controller(_SmtpHandler(), hostname="127.0.0.1", port=port)
        controller.start()
        stop = controller.stop
    else:
        server = ThreadingHTTPServer(("127.0.0.1", port), _WebhookHandler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        stop = server.shutdown
    print("ready", flush=True)
    done.wait()
    stop()
    _report(report)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]))
