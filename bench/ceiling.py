"""The ceiling: a bare Flask JSON-RPC endpoint under the same gunicorn settings as Deskwoot.

    gunicorn --workers 4 --bind 127.0.0.1:PORT bench.ceiling:app

It parses the body and answers a JSON-RPC result, nothing else: the most any Flask app can do
per request on this machine.
"""

from __future__ import annotations

import json

from flask import Flask, Response, request

app = Flask(__name__)


@app.post("/rpc")
def rpc() -> Response:
    """Answer any JSON-RPC request with {"ok": true}."""
    body = json.loads(request.get_data())
    answer = {"jsonrpc": "2.0", "id": body.get("id"), "result": {"ok": True}}
    return Response(json.dumps(answer, separators=(",", ":")), mimetype="application/json")
