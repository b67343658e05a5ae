-- Shared by every scenario script (loaded with dofile): headers, a per-thread random seed,
-- body checks and one parseable result line from done().
--
-- Environment: BENCH_TOKEN (MCP bearer token), BENCH_API_TOKEN (REST bearer token) or
-- BENCH_COOKIE (HTML pages), BENCH_SEED.
-- A scenario script defines body() for a JSON-RPC POST, or rest() for a REST request (it
-- returns method, path, body or nil, extra headers or nil); without either, requests are
-- GETs of a page.
-- Counted per response: JSON-RPC error envelopes ("error":{"code":<number>) and tool
-- results with "isError":true. Both need a quote right after the key, so they never match
-- inside a JSON string value (where quotes are escaped). Both are plain substring searches,
-- and only the character after "code": is checked with a pattern, anchored: an unanchored
-- Lua pattern tries a match at every byte of the body, which cost wrk ~0.35 ms of CPU per
-- 25 KB tools/list answer, on the same two cores as the server under test (see
-- bench/README.md, "The load generator's own cost"). The page and REST scripts, whose
-- failures are non-2xx answers, set response to nil: wrk then never copies a body into Lua.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  math.randomseed(tonumber(os.getenv("BENCH_SEED") or "1") * 7919 + tid)
  rpc_errors, tool_errors, counter = 0, 0, 0
  if rest then
    wrk.headers["Accept"] = "application/json"
    wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_API_TOKEN") or "")
  elseif body then
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["Accept"] = "application/json, text/event-stream"
    wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or "")
  else
    wrk.method = "GET"
    wrk.headers["Accept"] = "text/html"
    wrk.headers["Cookie"] = os.getenv("BENCH_COOKIE")
  end
end

-- One JSON-RPC request body; id counts per thread.
function rpc(method, params)
  counter = counter + 1
  return string.format('{"jsonrpc":"2.0","id":%d,"method":"%s","params":%s}',
                       counter, method, params)
end

function call(tool, arguments)
  return rpc("tools/call", string.format('{"name":"%s","arguments":%s}', tool, arguments))
end

function split(text, sep)
  local out = {}
  for item in string.gmatch(text or "", "[^" .. sep .. "]+") do table.insert(out, item) end
  return out
end

function request()
  if rest then
    local method, path, payload, extra = rest()
    -- wrk.format's headers replace wrk.headers, so the shared ones are copied in.
    local headers = {}
    for name, value in pairs(wrk.headers) do headers[name] = value end
    if payload then headers["Content-Type"] = "application/json" end
    for name, value in pairs(extra or {}) do headers[name] = value end
    return wrk.format(method, path, headers, payload)
  end
  if body then return wrk.format(nil, nil, nil, body()) end
  return wrk.format()
end

function response(status, headers, text)
  if body and text then
    if string.find(text, '"isError":true', 1, true) then tool_errors = tool_errors + 1 end
    local at = string.find(text, '"error":{"code":', 1, true)
    if at and string.find(text, '^%-?%d', at + 16) then rpc_errors = rpc_errors + 1 end
  end
end

function done(summary, latency, requests)
  local rpc_total, tool_total = 0, 0
  for _, thread in ipairs(threads) do
    rpc_total = rpc_total + (thread:get("rpc_errors") or 0)
    tool_total = tool_total + (thread:get("tool_errors") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d mean_us=%d " ..
    "max_us=%d non2xx=%d connect_errors=%d read_errors=%d write_errors=%d timeouts=%d " ..
    "rpc_errors=%d tool_errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.mean, latency.max, e.status, e.connect, e.read, e.write,
    e.timeout, rpc_total, tool_total))
end
