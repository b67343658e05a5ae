"""The benchmark's per-response checks (bench/lua/common.lua) count what they should: wrk
runs a scenario script against a small local server that answers, in turn, a JSON-RPC error,
a tool error, a large result whose text quotes both markers (escaped, as JSON strings hold
them), and an "error" object whose code is not a number. wrk's counts must match what the
server sent, so the checks can be made cheaper without counting differently."""

from __future__ import annotations

import itertools
import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench import loadgen

pytestmark = pytest.mark.slow

PADDING = "lorem ipsum " * 2500  # a large body (~30 KB), as tools/list answers
QUOTED = json.dumps('{"error":{"code":1},"isError":true}')  # both markers, escaped
BODIES = {
    "rpc_error": '{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Invalid params"}}',
    "tool_error": '{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text",'
    '"text":"no such conversation"}],"isError":true}}',
    "quoted": '{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":'
    + QUOTED
    + f'}},{{"type":"text","text":"{PADDING}"}}],"isError":false}}}}',
    "not_a_code": '{"jsonrpc":"2.0","id":1,"result":{"error":{"code":"E1"}}}',
}


def test_wrk_counts_exactly_the_errors_it_was_sent(tmp_path):
    if not shutil.which("wrk"):
        pytest.fail("wrk is missing: apt-get install wrk (scripts/test.sh does)")
    json.loads(BODIES["quoted"])  # each answer is valid JSON
    served = dict.fromkeys(BODIES, 0)
    turns = itertools.cycle(BODIES)
    lock = threading.Lock()

    class Answer(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as two writes

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                kind = next(turns)
                served[kind] += 1
            payload = BODIES[kind].encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    script = tmp_path / "checks.lua"
    script.write_text(
        'dofile(os.getenv("BENCH_LUA") .. "/common.lua")\n'
        'function body() return rpc("tools/list", "{}") end\n'
    )
    try:
        load = loadgen.Load(duration=1, warmup=0, connections=1, threads=1)
        result = loadgen._run(
            str(script),
            f"http://127.0.0.1:{server.server_address[1]}/",
            {"BENCH_LUA": str(loadgen.LUA), "BENCH_TOKEN": "x"},
            1,
            load,
            seed=1,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result["requests"] >= 40, result
    # One connection: wrk saw every answer but possibly the last one in flight at the end.
    for counted, kind in (("rpc_errors", "rpc_error"), ("tool_errors", "tool_error")):
        assert served[kind] - 1 <= result[counted] <= served[kind], (counted, result, served)
