#!/usr/bin/env python3
"""Concurrent streams held by louter: K streaming requests at once, and louter's RSS while they are open.

Opens K connections to louter (at most --connecting at a time, so the listen backlog never overflows),
each sending one Gemini :streamGenerateContent?alt=sse request for a slow paced model, and reads every
stream to its end. A stream counts as open from its first SSE event to its end, and as completed when
its HTTP response ends with status 200 and a finishReason. ramp_seconds is when the last stream opened. louter's VmRSS is
sampled every 100 ms; the figure reported is the largest seen.

    streams.py --port PORT --pid PID --count K [--model pace-1000x10] [--words N] [--backend LABEL]

--words N sends a prompt of N words (for louter's echo backend with a `pace`, which streams the prompt back
one word per pace); --backend names the run in the report.
Prints one line of JSON.
"""

import argparse
import asyncio
import json
import resource
import time


def rss_kib(pid: int) -> int:
    try:
        with open("/proc/%d/status" % pid) as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


class Counters:
    def __init__(self):
        self.open = 0
        self.peak_open = 0
        self.completed = 0
        self.failed = {}
        self.peak_rss = 0
        self.last_opened = 0.0

    def fail(self, why: str):
        self.failed[why] = self.failed.get(why, 0) + 1


async def one(port: int, path: bytes, body: bytes, gate: asyncio.Semaphore, counters: Counters,
              timeout: float):
    writer = None
    is_open = False
    try:
        async with gate:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 30)
            writer.write(b"POST %s HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
                         b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (path, len(body), body))
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        status = int(head.split(b" ", 2)[1])
        if status != 200:
            counters.fail("status %d" % status)
            return
        data = b""
        deadline = time.monotonic() + timeout
        while True:
            piece = await asyncio.wait_for(reader.read(65536), max(0.1, deadline - time.monotonic()))
            if not piece:
                break
            data += piece
            if not is_open and (b"\n\n" in data or b"\r\n\r\n" in data):
                is_open = True
                counters.open += 1
                counters.peak_open = max(counters.peak_open, counters.open)
                counters.last_opened = time.monotonic()
        if b"finishReason" in data:
            counters.completed += 1
        else:
            counters.fail("ended without finishReason")
    except asyncio.TimeoutError:
        counters.fail("timeout")
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, IndexError) as error:
        counters.fail(type(error).__name__)
    finally:
        if is_open:
            counters.open -= 1
        if writer is not None:
            writer.close()


async def sample(pid: int, counters: Counters, stop: asyncio.Event):
    while not stop.is_set():
        counters.peak_rss = max(counters.peak_rss, rss_kib(pid))
        try:
            await asyncio.wait_for(stop.wait(), 0.1)
        except asyncio.TimeoutError:
            pass


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--model", default="pace-1000x10")
    parser.add_argument("--connecting", type=int, default=256)
    parser.add_argument("--timeout", type=float, default=180)
    parser.add_argument("--words", type=int, default=0)
    parser.add_argument("--backend", default="pacer")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    counters = Counters()
    path = b"/v1beta/models/%s:streamGenerateContent?alt=sse" % args.model.encode()
    prompt = " ".join("word%d" % index for index in range(args.words)) if args.words > 0 else "Say hello"
    body = json.dumps({"contents": [{"role": "user", "parts": [{"text": prompt}]}]}).encode()
    gate = asyncio.Semaphore(args.connecting)
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample(args.pid, counters, stop))
    started = time.monotonic()
    await asyncio.gather(*(one(args.port, path, body, gate, counters, args.timeout) for _ in range(args.count)))
    stop.set()
    await sampler
    print(json.dumps({
        "count": args.count, "backend": args.backend, "peak_open": counters.peak_open, "completed": counters.completed,
        "failed": counters.failed, "peak_rss_kib": counters.peak_rss,
        "seconds": round(time.monotonic() - started, 1),
        "ramp_seconds": round(max(0.0, counters.last_opened - started), 1),
    }))


if __name__ == "__main__":
    asyncio.run(main())
