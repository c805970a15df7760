-- wrk's script for bench/throughput.py: counts the answers that are not 2xx (wrk itself counts
-- only 4xx and 5xx, and a redirect to /login is the sign of a failed sign-in), then prints the
-- run's figures as one line of JSON after "wrk-json ".
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  redirected, refused, failed = 0, 0, 0
end

function response(status, headers, body)
  if status >= 500 then
    failed = failed + 1
  elseif status >= 400 then
    refused = refused + 1
  elseif status >= 300 then
    redirected = redirected + 1
  end
end

function done(summary, latency, requests)
  local counts = { redirected = 0, refused = 0, failed = 0 }
  for _, thread in ipairs(threads) do
    for name, _ in pairs(counts) do
      counts[name] = counts[name] + thread:get(name)
    end
  end
  local errors = summary.errors
  io.write(string.format(
    'wrk-json {"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p99_us": %d, '
      .. '"max_us": %d, "redirected": %d, "refused": %d, "failed": %d, "connect": %d, '
      .. '"read": %d, "write": %d, "timeout": %d}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50),
    latency:percentile(99), latency.max, counts.redirected, counts.refused, counts.failed,
    errors.connect, errors.read, errors.write, errors.timeout))
end
