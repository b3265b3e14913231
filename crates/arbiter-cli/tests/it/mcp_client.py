"""An independent MCP client for Arbiter's tests: the official Python SDK
(`mcp` from PyPI) talks to `arbiter mcp` (stdio) or the server's `/mcp`
(Streamable HTTP), and prints what it saw as one JSON document.

Usage: python mcp_client.py SPEC_JSON, where SPEC_JSON is
  {"transport": "http", "url": ..., "token": ..., "host": optional Host header,
   "version": "modern" | "2025-06-18" | "2025-11-25",
   "calls": [{"tool": NAME, "args": {...}}, ...]}
or {"transport": "stdio", "command": PATH, "args": [...], "env": {...}, ...}.

Each call's result is validated by the SDK itself against the tool's output
schema (an invalid one raises and the script exits non-zero).
"""

import json
import sys

import anyio
import httpx2
from mcp import types
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client


async def handshake(session, version):
    if version == "modern":
        result = await session.discover()
        return session.negotiated_version if hasattr(session, "negotiated_version") else result.supported_versions[-1]
    # A client of an older protocol revision: the initialize handshake at
    # that revision, exactly as such a client sends it.
    result = await session.send_request(
        types.InitializeRequest(
            params=types.InitializeRequestParams(
                protocol_version=version,
                capabilities=types.ClientCapabilities(),
                client_info=types.Implementation(name="arbiter-test", version="1"),
            ),
        ),
        types.InitializeResult,
    )
    session.adopt(result)
    await session.send_notification(types.InitializedNotification())
    return result.protocol_version


async def drive(session, spec):
    out = {"negotiated": await handshake(session, spec.get("version", "modern"))}
    tools = await session.list_tools()
    out["tools"] = [t.model_dump(by_alias=True, mode="json", exclude_none=True) for t in tools.tools]
    results = []
    for call in spec.get("calls", []):
        r = await session.call_tool(call["tool"], call.get("args", {}))
        results.append(
            {
                "isError": bool(r.is_error),
                "structured": r.structured_content,
                "text": "".join(c.text for c in r.content if getattr(c, "type", "") == "text"),
            }
        )
    out["results"] = results
    return out


async def main():
    spec = json.loads(sys.argv[1])
    if spec["transport"] == "stdio":
        params = StdioServerParameters(command=spec["command"], args=spec.get("args", []), env=spec.get("env"))
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                out = await drive(session, spec)
    else:
        headers = {"Authorization": f"Bearer {spec['token']}"}
        if spec.get("host"):
            headers["Host"] = spec["host"]
        async with httpx2.AsyncClient(headers=headers, timeout=120) as http:
            async with streamable_http_client(spec["url"], http_client=http) as streams:
                read, write = streams[0], streams[1]
                async with ClientSession(read, write) as session:
                    out = await drive(session, spec)
    print(json.dumps(out))


if __name__ == "__main__":
    anyio.run(main)
