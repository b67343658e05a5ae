-- The peer: tools/call echo on the SDK's MCPServer.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")

function body()
  return call("echo", '{"text":"hello from the benchmark"}')
end
