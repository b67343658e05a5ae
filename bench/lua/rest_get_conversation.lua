-- REST twin of get_conversation.lua: GET /api/v1/conversations/{id} on a random conversation.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")

local conversations = tonumber(os.getenv("BENCH_CONVERSATIONS"))

function rest()
  return "GET", string.format("/api/v1/conversations/%d", math.random(1, conversations))
end

-- Nothing in the body to check (a REST or page failure is a non-2xx, which wrk counts
-- itself): without a response() wrk never copies a body into Lua (common.lua).
response = nil
