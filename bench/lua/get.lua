-- GET a rotating list of paths (one per line in the file given as the first
-- script argument). With a second argument "count-cache", each response's
-- X-Cache header (HIT / MISS, set by catalog.cache) is counted, so an
-- "uncached" run can prove that its requests really missed the cache (else
-- "-"). A third argument is sent as the Cookie header (the admin scenarios'
-- staff session).
--   wrk ... -s bench/lua/get.lua http://127.0.0.1:PORT -- paths.txt [count-cache|-] [cookie]

package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local common = require("common")

local threads = {}
function setup(thread)
  threads[#threads + 1] = thread
  thread:set("thread_id", #threads)
end

local paths
local cookie = nil
local n = 0
hits, misses = 0, 0

function init(args)
  paths = common.read_lines(args[1])
  cookie = args[3]
  -- Threads take different stretches of the list, so that in a run shorter
  -- than the list no path is asked for twice.
  n = math.floor(((thread_id or 1) - 1) * #paths / 4)
  if args[2] == "count-cache" then
    response = function(status, headers, body)
      local state = headers["X-Cache"]
      if state == "HIT" then
        hits = hits + 1
      elseif state == "MISS" then
        misses = misses + 1
      end
    end
  end
end

function request()
  n = n + 1
  local headers = {["X-Forwarded-For"] = common.client_address(n)}
  if cookie then
    headers["Cookie"] = cookie
  end
  return wrk.format("GET", paths[(n % #paths) + 1], headers)
end

function done(summary, latency, requests)
  local cache = nil
  for _, thread in ipairs(threads) do
    local h, m = thread:get("hits"), thread:get("misses")
    if h and m and (h + m) > 0 then
      cache = cache or {hit = 0, miss = 0}
      cache.hit = cache.hit + h
      cache.miss = cache.miss + m
    end
  end
  common.report(summary, latency, cache)
end
