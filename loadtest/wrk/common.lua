-- Shared by the wrk scripts: per-thread counters of wrong answers, summed in done().
-- A wrong answer is a non-200 status or a body that lacks EXPECT (a Lua pattern, plain find).
local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   wrong = 0
   answers = 0
end

expect = os.getenv("EXPECT") or ""

function response(status, headers, body)
   answers = answers + 1
   if status ~= 200 or (expect ~= "" and not string.find(body, expect, 1, true)) then
      wrong = wrong + 1
   end
end

function done(summary, latency, requests)
   local total_wrong, total = 0, 0
   for _, thread in ipairs(threads) do
      total_wrong = total_wrong + thread:get("wrong")
      total = total + thread:get("answers")
   end
   io.write(string.format("GATEHOUSE answers=%d wrong=%d p50_us=%d p99_us=%d\n",
      total, total_wrong, latency:percentile(50), latency:percentile(99)))
end
