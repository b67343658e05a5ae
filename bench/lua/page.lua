-- GET a logged-in HTML page (the URL's path) with the session cookie in BENCH_COOKIE.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
