-- tools/list with the Full agent token (legacy era: no MCP-Protocol-Version header).
dofile(os.getenv("BENCH_LUA") .. "/common.lua")

function body()
  return rpc("tools/list", "{}")
end
