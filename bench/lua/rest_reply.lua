-- REST twin of reply_to_conversation.lua: POST /api/v1/conversations/{id}/messages with a
-- fresh Idempotency-Key on every request; handed-off conversations (display id a multiple
-- of 50) are skipped, as there.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")

local conversations = tonumber(os.getenv("BENCH_CONVERSATIONS"))
local replies = {
  "Thanks for reaching out. We have looked into your order and a replacement is on its way.",
  "Sorry about the trouble with your account. Could you tell us which email you signed up with?",
  "We have refunded the payment; it should show on your card within five business days.",
  "The delivery was delayed at the depot. Your package will arrive tomorrow.",
}

function rest()
  local id = math.random(1, conversations)
  if id % 50 == 0 then id = id - 1 end
  counter = counter + 1
  local key = string.format("bench-rest-%d-%d-%d", tid, counter, math.random(1, 1000000000))
  return "POST", string.format("/api/v1/conversations/%d/messages", id),
         string.format('{"body":"%s"}', replies[math.random(#replies)]),
         {["Idempotency-Key"] = key}
end

-- Nothing in the body to check (a REST or page failure is a non-2xx, which wrk counts
-- itself): without a response() wrk never copies a body into Lua (common.lua).
response = nil
