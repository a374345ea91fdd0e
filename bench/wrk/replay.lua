-- Replays a request file round-robin: one request a line, "METHOD<TAB>PATH[<TAB>BODY]".
--   wrk -t1 -c32 -d10s --latency -s bench/wrk/replay.lua http://127.0.0.1:8000 -- FILE AUTH
-- AUTH is the value of the Authorization header. Prints one JSON line with the results.
local requests = {}
local counter = 0

function init(args)
  local file, auth = args[1], args[2]
  local headers = { ["Authorization"] = auth, ["Content-Type"] = "application/json" }
  for line in io.lines(file) do
    local method, path, body = line:match("^(%u+)\t([^\t]+)\t?(.*)$")
    if method then
      if body == "" then body = nil end
      table.insert(requests, wrk.format(method, path, headers, body))
    end
  end
  -- Threads start at different offsets so they do not ask for the same rows in step.
  counter = math.random(#requests) - 1
end

function request()
  counter = counter + 1
  return requests[(counter % #requests) + 1]
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "rps": %.1f, "p50_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f,'
      .. ' "non_2xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.requests / seconds, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout))
end
