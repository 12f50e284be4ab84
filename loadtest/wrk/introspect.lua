-- POST /introspect with the resource server's Basic credentials, cycling through the tokens in
-- TOKENS_FILE (one per line). EXPECT names what every answer must contain.
dofile(os.getenv("WRK_LUA_DIR") .. "/common.lua")

local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do
   table.insert(tokens, line)
end
local next_token = 0

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = os.getenv("AUTHORIZATION")

if #tokens == 1 then
   -- One token: a static request, the cheapest for wrk, as for /health.
   wrk.body = "token=" .. tokens[1]
else
   function request()
      next_token = next_token % #tokens + 1
      return wrk.format(nil, nil, nil, "token=" .. tokens[next_token])
   end
end
