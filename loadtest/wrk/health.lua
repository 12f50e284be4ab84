-- GET /health: the HTTP floor of this machine.
dofile(os.getenv("WRK_LUA_DIR") .. "/common.lua")
