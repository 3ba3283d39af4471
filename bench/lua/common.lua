-- Shared by the bench's wrk scripts: read a file of lines, report a JSON summary.

local common = {}

function common.read_lines(path)
  local lines = {}
  local file = assert(io.open(path, "r"), "cannot open " .. path)
  for line in file:lines() do
    if line ~= "" then
      lines[#lines + 1] = line
    end
  end
  file:close()
  assert(#lines > 0, path .. " is empty")
  return lines
end

-- wrk calls done() once, in the main Lua state, after the run. The driver
-- (bench/run.py) reads the line that starts with BENCH_JSON.
-- `cache` is nil, or {hit = n, miss = n} summed over the threads.
function common.report(summary, latency, cache)
  local e = summary.errors
  local extra = ""
  if cache then
    extra = string.format(', "cache": {"hit": %d, "miss": %d}', cache.hit, cache.miss)
  end
  local out = string.format(
    '{"duration_us": %d, "requests": %d, "bytes": %d, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
      .. '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "mean": %.1f, "max": %d}%s}',
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max, extra
  )
  io.write("BENCH_JSON " .. out .. "\n")
end

-- The n-th simulated client address, sent as X-Forwarded-For (the server runs
-- with NUM_PROXIES=1): 750 clients, so throttles see per-client rates. RFC 5737
-- documentation ranges: header values only, never contacted.
local nets = {"192.0.2.", "198.51.100.", "203.0.113."}
function common.client_address(n)
  return nets[(n % 3) + 1] .. (math.floor(n / 3) % 250 + 1)
end

return common
