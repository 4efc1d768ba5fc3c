"""A no-op HTTP server: the load generator's ceiling, and stalls on demand.

It answers every request at once with a tiny JSON body, so a load run against it measures how many
requests per second the load generator itself can produce on its CPUs. With ``--stall-every`` and
``--stall-for`` it freezes periodically (every request arriving during a stall waits for its end;
the stall clock starts with the server, and GET /ready never stalls),
the server behaviour that exposes coordinated omission in closed-loop load generators. With
``--service-ms`` every request takes that long without using the CPU (an asyncio sleep): a server whose
true latency is known, against which two load tools can be checked whatever else the machine is doing.

Run (harness env): ``python -m servingbench.load.noop_server --port P [--stall-every 3 --stall-for 1]
[--service-ms 10]``.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import uvicorn

BODY = b'{"predictions": [{"label": "positive", "score": 1.0}]}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


def make_app(stall_every: float = 0.0, stall_for: float = 0.0, service_ms: float = 0.0):
    started = time.monotonic()

    async def app(scope, receive, send):  # raw ASGI: the least work a Python server can do
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        more = True
        while more:
            more = (await receive()).get("more_body", False)
        if stall_every > 0 and scope["path"] != "/ready":  # /ready: the launcher's probe never stalls
            phase = (time.monotonic() - started) % stall_every
            if phase < stall_for:
                await asyncio.sleep(stall_for - phase)
        if service_ms > 0 and scope["path"] != "/ready":
            await asyncio.sleep(service_ms / 1000)
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        await send({"type": "http.response.body", "body": BODY})

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--stall-every", type=float, default=0.0, help="seconds between stall starts")
    parser.add_argument("--stall-for", type=float, default=0.0, help="length of each stall, seconds")
    parser.add_argument("--service-ms", type=float, default=0.0, help="time every request takes, ms")
    args = parser.parse_args()
    uvicorn.run(make_app(args.stall_every, args.stall_for, args.service_ms), host=args.host, port=args.port,
                loop="uvloop", http="httptools", access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
