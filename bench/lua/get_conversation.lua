-- tools/call get_conversation on a random conversation (display ids 1..BENCH_CONVERSATIONS).
dofile(os.getenv("BENCH_LUA") .. "/common.lua")

local conversations = tonumber(os.getenv("BENCH_CONVERSATIONS"))

function body()
  return call("get_conversation",
              string.format('{"conversation_id":%d}', math.random(1, conversations)))
end
