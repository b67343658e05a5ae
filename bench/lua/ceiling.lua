-- The ceiling: the same kind of JSON-RPC body, answered by a bare Flask endpoint.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")

function body()
  return call("echo", '{"text":"hello from the benchmark"}')
end
