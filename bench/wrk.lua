-- wrk script for bench/: one request template, optional per-request bodies, optional fixed rate.
--
-- wrk -s bench/wrk.lua URL -- METHOD PATH BODIES RATE REUSE THREADS
--   METHOD, PATH  the request line (headers come from wrk's -H options)
--   BODIES        a file with one urlencoded body per line, or "-" for no body
--   RATE          requests per second for the whole run, or 0 for a closed loop (as fast as
--                 the server answers)
--   REUSE         1: bodies may be sent again (logins); 0: each body once (codes, refresh
--                 tokens); a thread that runs out stops and reports it
--   THREADS       the -t value, so each thread takes its own share of the bodies
-- done() prints one line "BENCH_JSON {...}" with the counts and latency percentiles.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local timespec = ffi.new("bench_timespec")

local function now_ms()
  ffi.C.clock_gettime(1, timespec) -- CLOCK_MONOTONIC
  return tonumber(timespec.tv_sec) * 1000 + tonumber(timespec.tv_nsec) / 1e6
end

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local requests = {}
local count = 0
local index = 0
local reuse = false
local interval = 0
local next_slot = 0
local fallback = nil
exhausted = 0

function init(args)
  local method, path, bodies, rate = args[1], args[2], args[3], tonumber(args[4])
  reuse = args[5] == "1"
  local nthreads = tonumber(args[6])
  if bodies == "-" then
    requests[1] = wrk.format(method, path)
    reuse = true
  else
    local line_no = 0
    for line in io.lines(bodies) do
      if line_no % nthreads == id then
        requests[#requests + 1] = wrk.format(method, path, nil, line)
      end
      line_no = line_no + 1
    end
  end
  count = #requests
  fallback = wrk.format("GET", "/healthz")
  if rate > 0 then
    interval = 1000 * nthreads / rate -- this thread's share of the rate
    next_slot = now_ms()
  else
    delay = nil -- a closed loop: wrk skips its timer path when delay is nil
  end
end

function delay()
  -- one send slot per call, evenly spaced; a slot already past is dropped, not caught up,
  -- so a server that falls behind shows as a lower achieved rate
  local t = now_ms()
  if next_slot < t then
    next_slot = t
  end
  local wait = next_slot - t
  next_slot = next_slot + interval
  return math.floor(wait + 0.5)
end

function request()
  index = index + 1
  if index > count then
    if reuse then
      index = 1
    else
      exhausted = exhausted + 1
      wrk.thread:stop()
      return fallback
    end
  end
  return requests[index]
end

response = nil

function done(summary, latency, _)
  local ran_out = 0
  for _, thread in ipairs(threads) do
    ran_out = ran_out + (thread:get("exhausted") or 0)
  end
  local e = summary.errors
  local out = string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,' ..
      '"write":%d,"status":%d,"timeout":%d},"exhausted":%d,"latency_us":{"min":%d,' ..
      '"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d}}',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, ran_out, latency.min, latency.mean, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max
  )
  io.write("BENCH_JSON " .. out .. "\n")
end
