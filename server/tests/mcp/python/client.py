"""An MCP client built on the official Python SDK (`mcp` from PyPI), authorizing with the SDK's
own OAuth code path against Gatehouse: `OAuthClientProvider` as the `httpx2` auth of the
streamable HTTP transport. What happens is the SDK's doing; this script supplies storage, the
browser (`../sign-in.mjs` in Node: a person signs in and consents in headless Chromium, the
redirect lands on a loopback listener) and records every HTTP exchange.

The flow: a call without a token -> 401 -> protected-resource metadata -> authorization-server
metadata -> dynamic client registration (or a pre-registered client) -> /authorize in the
browser -> /token -> tool calls -> the access token expires -> the SDK refreshes it before the
next call (its proactive path: the Python SDK refreshes on expiry, not on a 401).

Run by server/tests/e2e/mcp_sdk.rs with the venv that scripts/test makes:
  stdin  {"server_url": "http://127.0.0.1:P/mcp", "username": "...", "password": "...",
          "client_id": null | "pre-registered id", "wait_for_expiry": false,
          "artifacts": "/dir", "scenario": "name"}
  stdout {"sdk_version", "requests", "registration", "authorization_url", "callback", "pages",
          "tokens", "tools", "whoami": [before refresh, after], "add"}
"""

import asyncio
import json
import socket
import sys
import time
from importlib.metadata import version
from pathlib import Path
from urllib.parse import parse_qs, urlparse

HERE = Path(__file__).resolve().parent


def fail(message: str) -> None:
    sys.stderr.write(f"Python SDK client: {message}\n")
    sys.exit(1)


class Stop(Exception):
    """A failure inside the flow, with what to say; reported once, without the SDK's traceback."""


try:
    import httpx2
    from mcp import ClientSession
    from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
except ImportError as e:
    fail(
        f"the MCP Python SDK is not installed in this interpreter ({sys.executable}: {e}). "
        f"Install it: `python3 -m venv VENV && VENV/bin/pip install -r {HERE / 'requirements.txt'}` "
        "(./scripts/test does it)."
    )

INPUT = json.load(sys.stdin)
REPORT: dict = {
    "sdk_version": version("mcp"),
    "requests": [],
    "registration": None,
    "authorization_url": None,
    "callback": None,
    "pages": None,
    "tokens": [],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


REDIRECT_URI = f"http://127.0.0.1:{free_port()}/callback"


class Storage:
    """The SDK's token and client storage, in memory, recording what it is given."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None
        if INPUT.get("client_id"):
            self.client = OAuthClientInformationFull(
                client_id=INPUT["client_id"],
                redirect_uris=[REDIRECT_URI],
                token_endpoint_auth_method="none",
                grant_types=["authorization_code", "refresh_token"],
            )

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens
        REPORT["tokens"].append(tokens.model_dump(mode="json", exclude_none=True))

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


async def redirect_handler(authorization_url: str) -> None:
    """The person's browser: sign-in.mjs signs in, consents, and returns the redirect."""
    REPORT["authorization_url"] = authorization_url
    request = {
        "url": authorization_url,
        "redirect_uri": REDIRECT_URI,
        "username": INPUT["username"],
        "password": INPUT["password"],
        "artifacts": INPUT.get("artifacts"),
        "scenario": INPUT.get("scenario", "python"),
    }
    try:
        node = await asyncio.create_subprocess_exec(
            "node",
            str(HERE.parent / "sign-in.mjs"),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except FileNotFoundError:
        raise Stop("cannot run `node`: the browser driver needs Node.js 20+ (./scripts/test installs it)")
    out, err = await node.communicate(json.dumps(request).encode())
    if node.returncode != 0:
        raise Stop(f"signing in failed: {err.decode()}")
    answer = json.loads(out)
    REPORT["callback"] = answer["callback"]
    REPORT["pages"] = answer["pages"]


async def callback_handler() -> AuthorizationCodeResult:
    query = parse_qs(urlparse(REPORT["callback"]).query)
    one = lambda name: query.get(name, [None])[0]  # noqa: E731
    if one("code") is None:
        raise Stop(f"no code in the redirect: {REPORT['callback']}")
    return AuthorizationCodeResult(code=one("code"), state=one("state"), iss=one("iss"))


async def on_request(request: httpx2.Request) -> None:
    entry = {"method": request.method, "url": str(request.url)}
    if request.url.path.endswith("/register") and request.method == "POST":
        REPORT["registration"] = {"request": json.loads(request.content)}
    elif request.url.path.endswith("/token") and request.method == "POST":
        form = parse_qs(request.content.decode())
        entry["grant_type"] = form.get("grant_type", [None])[0]
        entry["resource"] = form.get("resource", [None])[0]
    REPORT["requests"].append(entry)


async def on_response(response: httpx2.Response) -> None:
    for entry in reversed(REPORT["requests"]):
        if entry.get("url") == str(response.request.url) and "status" not in entry:
            entry["status"] = response.status_code
            break
    if response.request.url.path.endswith("/register") and REPORT["registration"] is not None:
        await response.aread()
        REPORT["registration"]["status"] = response.status_code
        REPORT["registration"]["response"] = response.json()


def text(result) -> str:
    return "".join(c.text for c in result.content)


async def main() -> None:
    provider = OAuthClientProvider(
        server_url=INPUT["server_url"],
        client_metadata=OAuthClientMetadata(
            client_name="Gatehouse e2e (MCP Python SDK)",
            redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=Storage(),
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )
    http = httpx2.AsyncClient(
        auth=provider,
        timeout=httpx2.Timeout(30, read=300),
        event_hooks={"request": [on_request], "response": [on_response]},
    )
    async with http, streamable_http_client(INPUT["server_url"], http_client=http) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            REPORT["tools"] = sorted(t.name for t in (await session.list_tools()).tools)
            REPORT["whoami"] = [json.loads(text(await session.call_tool("whoami", {})))]
            REPORT["add"] = text(await session.call_tool("add", {"a": 20, "b": 22}))
            REPORT["requests"].append({"mark": "access token expired"})
            if INPUT.get("wait_for_expiry"):
                # The token's own expires_in (a short lifetime given to the client) runs out.
                await asyncio.sleep(provider.context.token_expiry_time - time.time() + 0.5)
            else:
                # As if its expires_in had run out: the SDK's clock says the token is stale.
                provider.context.token_expiry_time = time.time() - 1
            REPORT["whoami"].append(json.loads(text(await session.call_tool("whoami", {}))))


def stopped(e: BaseException) -> Stop | None:
    """The `Stop` inside `e` (task groups wrap what their tasks raise)."""
    if isinstance(e, Stop):
        return e
    for inner in getattr(e, "exceptions", ()):
        if found := stopped(inner):
            return found
    return stopped(e.__cause__ or e.__context__) if (e.__cause__ or e.__context__) else None


try:
    asyncio.run(main())
except BaseException as e:  # noqa: BLE001 - reported with what was seen so far
    import traceback

    seen = f"requests so far: {json.dumps(REPORT['requests'])}"
    if stop := stopped(e):
        fail(f"{stop}\n{seen}")
    fail(f"{''.join(traceback.format_exception(e))}\n{seen}")
print(json.dumps(REPORT))
