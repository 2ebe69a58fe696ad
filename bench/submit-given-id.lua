-- `POST /api/tickets` with a unique `external_id` per request (no numbering by the server).
wrk.headers["Content-Type"] = "application/json"
local counter = 0
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  math.randomseed(os.time() + tid)
  prefix = "X" .. tid .. "-" .. math.random(1, 1000000000) .. "-"
end
request = function()
  counter = counter + 1
  return wrk.format("POST", "/api/tickets", nil,
    '{"title":"kebabax balabax rudobax","description":"bababax gababax lababax kebabax",' ..
    '"external_id":"' .. prefix .. counter .. '"}')
end
