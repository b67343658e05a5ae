-- REST twin of list_conversations.lua: GET /api/v1/conversations with a random status and
-- inbox (BENCH_INBOXES=1,2,..).
dofile(os.getenv("BENCH_LUA") .. "/common.lua")

local statuses = {"open", "pending", "snoozed", "resolved"}
local inboxes = split(os.getenv("BENCH_INBOXES"), ",")

function rest()
  return "GET", string.format("/api/v1/conversations?status=%s&inbox_id=%s",
                              statuses[math.random(#statuses)], inboxes[math.random(#inboxes)])
end

-- Nothing in the body to check (a REST or page failure is a non-2xx, which wrk counts
-- itself): without a response() wrk never copies a body into Lua (common.lua).
response = nil
