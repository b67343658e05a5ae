-- tools/call search_conversations with a query from BENCH_QUERIES (words present in the data,
-- separated by |).
dofile(os.getenv("BENCH_LUA") .. "/common.lua")

local queries = split(os.getenv("BENCH_QUERIES"), "|")

function body()
  return call("search_conversations",
              string.format('{"query":"%s"}', queries[math.random(#queries)]))
end
