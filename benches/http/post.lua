-- wrk script: POSTs JSON bodies read from the file named by $BODIES (one body per line), cycling through
-- them, to the URL's path. Counts responses by status and keeps the first non-2xx body; done() prints one
-- parseable line:
--   RESULT requests=N duration_s=S rps=R p50_ms=… p90_ms=… p99_ms=… max_ms=… ok2xx=N non2xx=N
--          connect_err=N read_err=N write_err=N timeout_err=N status=200:N,503:N
-- and, when a non-2xx answer was seen, `SAMPLE_NON2XX <status> <first 300 bytes of its body>`.
-- Usage: BODIES=bodies.jsonl wrk -t2 -c16 -d20s --latency -s benches/http/post.lua http://127.0.0.1:PORT/v1/search

local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

-- Per-thread globals (each wrk thread has its own Lua state; done() reads them with thread:get).
bodies = {}
idx = 0
counts = {}
sample = ""

function init(args)
  local path = os.getenv("BODIES")
  assert(path, "set BODIES to a file of JSON bodies, one per line")
  local f = assert(io.open(path, "r"))
  for line in f:lines() do
    if #line > 0 then bodies[#bodies + 1] = line end
  end
  f:close()
  assert(#bodies > 0, "no bodies in " .. path)
  -- Threads start at different bodies so they do not send the same query at the same moment.
  idx = (((tid or 1) - 1) * 7919) % #bodies
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  idx = idx % #bodies + 1
  return wrk.format("POST", nil, nil, bodies[idx])
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
  if (status < 200 or status > 299) and sample == "" then
    local retry = headers["Retry-After"] or headers["retry-after"]
    sample = tostring(status) .. (retry and (" [Retry-After: " .. retry .. "]") or "") .. " " ..
      string.sub(body or "", 1, 300)
  end
end

function done(summary, latency, requests)
  local all, first = {}, ""
  for _, t in ipairs(threads) do
    local c = t:get("counts") or {}
    for k, v in pairs(c) do all[k] = (all[k] or 0) + v end
    local s = t:get("sample") or ""
    if first == "" and s ~= "" then first = s end
  end
  local codes, ok, bad = {}, 0, 0
  for k, v in pairs(all) do
    codes[#codes + 1] = k
    if k >= 200 and k <= 299 then ok = ok + v else bad = bad + v end
  end
  table.sort(codes)
  local parts = {}
  for _, k in ipairs(codes) do parts[#parts + 1] = string.format("%d:%d", k, all[k]) end
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_s=%.2f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f " ..
    "ok2xx=%d non2xx=%d connect_err=%d read_err=%d write_err=%d timeout_err=%d status=%s\n",
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, ok, bad, e.connect, e.read, e.write, e.timeout,
    (#parts > 0) and table.concat(parts, ",") or "none"))
  if first ~= "" then
    io.write("SAMPLE_NON2XX " .. string.gsub(first, "%s+", " ") .. "\n")
  end
end
