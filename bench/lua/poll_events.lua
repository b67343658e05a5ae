-- tools/call poll_events from a fixed cursor 1,000 events back (BENCH_CURSOR).
dofile(os.getenv("BENCH_LUA") .. "/common.lua")

local cursor = os.getenv("BENCH_CURSOR")

function body()
  return call("poll_events", string.format('{"cursor":"%s"}', cursor))
end
