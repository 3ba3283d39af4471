-- GET a rotating list of paths (one per line in the file given as the first
-- script argument). With a second argument "bust", every request adds a
-- unique `<param>=<thread>-<n>` query parameter (param name = third
-- argument) so that no two requests share a response-cache key.
--   wrk ... -s bench/lua/get.lua http://127.0.0.1:PORT -- paths.txt [bust PARAM]

package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local common = require("common")

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

local paths, bust, param
local n = 0

function init(args)
  paths = common.read_lines(args[1])
  bust = args[2] == "bust"
  param = args[3] or "_"
  -- Threads start at different places in the list, so they do not ask for
  -- the same path at the same moment.
  n = ((thread_id or 1) - 1) * 7919
end

function request()
  n = n + 1
  local path = paths[(n % #paths) + 1]
  if bust then
    local sep = path:find("?", 1, true) and "&" or "?"
    path = path .. sep .. param .. "=" .. (thread_id or 1) .. "-" .. n
  end
  return wrk.format("GET", path)
end

function done(summary, latency, requests)
  common.report(summary, latency)
end
