-- GET a logged-in HTML page (the URL's path) with the session cookie in BENCH_COOKIE.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")

-- Nothing in the body to check (a REST or page failure is a non-2xx, which wrk counts
-- itself): without a response() wrk never copies a body into Lua (common.lua).
response = nil
