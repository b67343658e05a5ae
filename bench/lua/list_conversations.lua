-- tools/call list_conversations filtered by a random status and inbox (BENCH_INBOXES=1,2,..).
dofile(os.getenv("BENCH_LUA") .. "/common.lua")

local statuses = {"open", "pending", "snoozed", "resolved"}
local inboxes = split(os.getenv("BENCH_INBOXES"), ",")

function body()
  return call("list_conversations", string.format('{"status":"%s","inbox_id":%s}',
              statuses[math.random(#statuses)], inboxes[math.random(#inboxes)]))
end
