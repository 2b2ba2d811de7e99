#!/usr/bin/env python3
"""A pacing OpenAI-compatible backend for the louter benchmark (standard library only).

Answers POST .../chat/completions over raw HTTP/1.1 with keep-alive. A request with "stream": true gets
an SSE answer in chunked transfer encoding: the first chat.completion.chunk at once, then one chunk
every GAP milliseconds, COUNT content chunks in all, then a finish chunk and `data: [DONE]`. The pace
comes from the model name, "pace-GAPxCOUNT" (e.g. "pace-20x5"; "https-pace-GAPxCOUNT" and "origin-pace-GAPxCOUNT",
the names louter's bench routes to the pacer behind TLS, too); any other model gets --gap/--chunks.
A request without stream gets one chat.completion at once.

    pacer.py [--port P] [--gap MS] [--chunks N]    prints "PORT <n>" once listening on 127.0.0.1
"""

import argparse
import asyncio
import json
import re
import resource
import sys

PACE = re.compile(rb'"model"\s*:\s*"(?:https-|origin-)?pace-(\d+)x(\d+)"')
STREAM = re.compile(rb'"stream"\s*:\s*true')


def chunk(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def event(delta: dict, finish=None) -> bytes:
    body = {
        "id": "chatcmpl-pace", "object": "chat.completion.chunk", "created": 0, "model": "pace",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


ANSWER = json.dumps({
    "id": "chatcmpl-pace", "object": "chat.completion", "created": 0, "model": "pace",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}, separators=(",", ":")).encode()


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, args) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            body = await reader.readexactly(length) if length else b""
            if not STREAM.search(body):
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                             % (len(ANSWER), ANSWER))
                await writer.drain()
                continue
            gap_ms, count = args.gap, args.chunks
            pace = PACE.search(body)
            if pace:
                gap_ms, count = int(pace.group(1)), int(pace.group(2))
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
                         + chunk(event({"role": "assistant", "content": "w0"})))
            await writer.drain()
            for index in range(1, count):
                await asyncio.sleep(gap_ms / 1000)
                writer.write(chunk(event({"content": " w%d" % index})))
                await writer.drain()
            writer.write(chunk(event({}, "stop")) + chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, ValueError):
        pass
    finally:
        writer.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gap", type=int, default=20)
    parser.add_argument("--chunks", type=int, default=5)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    server = await asyncio.start_server(lambda r, w: serve(r, w, args), "127.0.0.1", args.port, backlog=4096)
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
