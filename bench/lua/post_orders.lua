-- Place orders as many customers: each request picks a token and a SKU from
-- the files given as script arguments and sends its own Idempotency-Key.
-- The fourth argument is the path (default orders/; the quote takes the same body).
--   wrk ... -s bench/lua/post_orders.lua http://127.0.0.1:PORT -- tokens.txt skus.txt RUNID PATH

package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local common = require("common")

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

local tokens, skus, run_id
local n = 0
local path = "/api/v1/orders/"
local address = '{"full_name": "Bench Customer", "line1": "1 Load Street", "line2": "", '
  .. '"city": "Berlin", "postal_code": "10115", "country": "DE", "phone": ""}'

function init(args)
  tokens = common.read_lines(args[1])
  skus = common.read_lines(args[2])
  run_id = args[3] or tostring(os.time())
  path = args[4] or path
  math.randomseed((thread_id or 1) * 104729 + os.time())
end

function request()
  n = n + 1
  local token = tokens[math.random(#tokens)]
  local sku = skus[math.random(#skus)]
  local body = '{"lines": [{"sku": "' .. sku .. '", "quantity": 1}], "shipping_address": '
    .. address .. ', "shipping_method": "bench-dhl"}'
  local headers = {
    ["Authorization"] = "Token " .. token,
    ["Content-Type"] = "application/json",
    ["X-Forwarded-For"] = common.client_address(n),
    ["Idempotency-Key"] = "bench-" .. run_id .. "-" .. (thread_id or 1) .. "-" .. n,
  }
  return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
  common.report(summary, latency)
end
