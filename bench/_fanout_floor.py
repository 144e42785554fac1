"""The floor of bench/meeting_fanout.py: a bare `websockets` server that parses each
message it receives and broadcasts it to every connected client, nothing else (no auth,
no database, no channel layer). Run as its own process: `_fanout_floor.py <port>`;
prints "ready" once listening. Not a benchmark itself (the `_` keeps run_all.py off it).
"""

from __future__ import annotations

import asyncio
import json
import sys

from websockets.asyncio.server import ServerConnection, broadcast, serve

CLIENTS: set[ServerConnection] = set()


async def handler(ws: ServerConnection) -> None:
    CLIENTS.add(ws)
    try:
        async for raw in ws:
            message = json.loads(raw)
            broadcast(CLIENTS, json.dumps(message, ensure_ascii=False))
    finally:
        CLIENTS.discard(ws)


async def main(port: int) -> None:
    async with serve(handler, "127.0.0.1", port, compression=None, max_queue=None):
        print("ready", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    try:
        import uvloop  # the same event loop uvicorn uses

        uvloop.run(main(int(sys.argv[1])))
    except ImportError:
        asyncio.run(main(int(sys.argv[1])))
