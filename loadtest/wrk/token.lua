-- POST /token, client credentials, with the client's Basic credentials. Every answer must carry
-- an access token.
dofile(os.getenv("WRK_LUA_DIR") .. "/common.lua")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = os.getenv("AUTHORIZATION")
wrk.body = "grant_type=client_credentials"
