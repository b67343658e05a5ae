-- tools/call reply_to_conversation with a fresh idempotency key on every request.
-- Conversations whose display id is a multiple of 50 are handed off to a human (the bot may
-- not reply there), so they are skipped.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")

local conversations = tonumber(os.getenv("BENCH_CONVERSATIONS"))
local replies = {
  "Thanks for reaching out. We have looked into your order and a replacement is on its way.",
  "Sorry about the trouble with your account. Could you tell us which email you signed up with?",
  "We have refunded the payment; it should show on your card within five business days.",
  "The delivery was delayed at the depot. Your package will arrive tomorrow.",
}

function body()
  local id = math.random(1, conversations)
  if id % 50 == 0 then id = id - 1 end
  local key = string.format("bench-%d-%d-%d", tid, counter, math.random(1, 1000000000))
  return call("reply_to_conversation",
              string.format('{"conversation_id":%d,"body":"%s","idempotency_key":"%s"}',
                            id, replies[math.random(#replies)], key))
end
