-- wrk script: benches/http/post.lua (bodies, status counts, RESULT line) plus a per-connection pause so the
-- offered load is about CONNECTIONS × 1000 / DELAY_MS requests per second. wrk 4 has no constant-rate mode
-- (wrk2's -R); this is closed-loop: a connection waits for its answer, then DELAY_MS, then sends the next, so
-- when answers slow down the offered rate drops too (the RESULT line reports what was achieved).
-- Usage: BODIES=bodies.jsonl POST_LUA=benches/http/post.lua DELAY_MS=80 wrk -t2 -c8 -d60s --latency -s rate.lua URL
dofile(assert(os.getenv("POST_LUA"), "set POST_LUA to benches/http/post.lua"))

local post_init = init
pause = 0

function init(args)
  post_init(args)
  pause = tonumber(os.getenv("DELAY_MS") or "0")
end

function delay()
  return pause
end
