-- REST twin of get_conversation.lua: GET /api/v1/conversations/{id} on a random conversation.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")

local conversations = tonumber(os.getenv("BENCH_CONVERSATIONS"))

function rest()
  return "GET", string.format("/api/v1/conversations/%d", math.random(1, conversations))
end
