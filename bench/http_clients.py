"""CPU per webhook POST: httpx, httpcore alone, aiohttp alone, and notifications' client over aiohttp.

    .venv/bin/python bench/http_clients.py [--requests 3000]

One process, one uvloop: a raw asyncio server on 127.0.0.1 answers every request `204` on a kept
connection; each client posts a 400-byte body with the Standard Webhooks headers, one request at a
time, as the dispatcher does (`asyncio.timeout` around each). Prints process CPU microseconds per
request (client and server together; the server's part is the same for all), the median of
`--rounds` rounds after one that warms up. "webhooks" is delivery/http_client.py (aiohttp with its
connector, resolver and small-body draining); "aiohttp" a bare session.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import statistics
import time
from pathlib import Path

sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]  # see bench/backbone.py
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402
import httpcore  # noqa: E402
import httpx  # noqa: E402
import uvloop  # noqa: E402

from services.notifications.delivery.addresses import AddressPolicy  # noqa: E402
from services.notifications.delivery.http_client import WebhookClient  # noqa: E402

HEADERS = {"webhook-id": "msg_0123456789abcdef", "webhook-timestamp": "1765000000",
           "webhook-signature": "v1," + "A" * 44, "content-type": "application/json"}
BODY = b'{"x":"' + b"a" * 392 + b'"}'


async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            await reader.readexactly(length)
            writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


async def timed(name: str, requests: int, rounds: int, post) -> None:
    per_request = []
    for _ in range(rounds + 1):  # the first round warms up
        started = time.process_time()
        for _ in range(requests):
            async with asyncio.timeout(10):
                await post()
        per_request.append((time.process_time() - started) / requests * 1e6)
    print(f"{name:>10}: {statistics.median(per_request[1:]):6.0f} us of CPU per request")


async def main(requests: int, rounds: int) -> None:
    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"
    async with httpx.AsyncClient(timeout=10, follow_redirects=False) as client:
        async def with_httpx() -> None:
            async with client.stream("POST", url, content=BODY, headers=HEADERS) as response:
                async for _ in response.aiter_raw():
                    pass
        await timed("httpx", requests, rounds, with_httpx)
    async with httpcore.AsyncConnectionPool() as pool:
        async def with_httpcore() -> None:
            async with pool.stream("POST", url, content=BODY, headers=list(HEADERS.items())) as response:
                async for _ in response.aiter_stream():
                    pass
        await timed("httpcore", requests, rounds, with_httpcore)
    async with aiohttp.ClientSession() as session:
        async def with_aiohttp() -> None:
            async with session.post(url, data=BODY, headers=HEADERS, allow_redirects=False) as response:
                await response.read()
        await timed("aiohttp", requests, rounds, with_aiohttp)
    webhooks = WebhookClient(AddressPolicy(allow_loopback_http=True))
    await timed("webhooks", requests, rounds, lambda: webhooks.post(url, BODY, HEADERS))
    await webhooks.aclose()
    server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    uvloop.run(main(arguments.requests, arguments.rounds))
