#!/usr/bin/env python3
"""Streaming TTFT overhead: time to the first SSE event, direct to the pacing backend vs through louter.

For each of N rounds, one streaming request goes straight to the pacer (OpenAI chat.completions,
stream: true) and one goes through louter (Gemini :streamGenerateContent?alt=sse), each on its own
keep-alive connection, one after the other; with --hop, a third goes through that proxy (an nginx hop in
front of the pacer, OpenAI path) as the reference for what relaying bytes alone adds. TTFT is from the first
byte sent to the end of the first complete SSE event. Paced gaps are the times between consecutive events longer than 1 ms: kept when
louter shows as many per stream as the direct path, of the same length.

    ttft.py --direct PORT --louter PORT [--hop PORT] [--rounds 200] [--model pace-20x5]
Prints one line of JSON: p50/p99 of (louter - direct) TTFT in µs, and the gaps seen both ways.
"""

import argparse
import json
import re
import socket
import statistics
import time


# An SSE event ends at a blank line; louter writes CRLF line ends, the pacer LF.
EVENT_END = re.compile(rb"\r?\n\r?\n")


class Connection:
    def __init__(self, port: int):
        self.port = port
        self.sock = None
        self.buffer = b""

    def open(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def recv(self) -> bytes:
        data = self.sock.recv(65536)
        return data

    def stream(self, path: str, body: bytes):
        """Sends one request; returns (event times in ns since send, status)."""
        if self.sock is None:
            self.open()
        request = (b"POST %s HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
                   b"content-length: %d\r\n\r\n%s") % (path.encode(), len(body), body)
        start = time.perf_counter_ns()
        self.sock.sendall(request)
        while b"\r\n\r\n" not in self.buffer:
            data = self.recv()
            if not data:
                raise ConnectionError("closed before the response head")
            self.buffer += data
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip().lower()
        chunked = b"chunked" in headers.get(b"transfer-encoding", b"")
        length = int(headers[b"content-length"]) if b"content-length" in headers else None
        raw = rest          # undecoded body bytes
        body_bytes = b""    # decoded body
        times = []
        seen = 0            # decoded bytes already split into events
        done = False
        while True:
            # Decode what we have.
            if chunked:
                while True:
                    line_end = raw.find(b"\r\n")
                    if line_end < 0:
                        break
                    size = int(raw[:line_end].split(b";")[0], 16)
                    if size == 0:
                        if raw.find(b"\r\n", line_end + 2) >= 0:
                            raw = raw[raw.find(b"\r\n", line_end + 2) + 2:]
                            done = True
                        break
                    if len(raw) < line_end + 2 + size + 2:
                        break
                    body_bytes += raw[line_end + 2:line_end + 2 + size]
                    raw = raw[line_end + 2 + size + 2:]
            else:
                body_bytes += raw
                raw = b""
                if length is not None and len(body_bytes) >= length:
                    done = True
            while True:
                end = EVENT_END.search(body_bytes, seen)
                if end is None:
                    break
                times.append(time.perf_counter_ns() - start)
                seen = end.end()
            if done:
                break
            data = self.recv()
            if not data:
                if chunked or length is not None:
                    raise ConnectionError("closed mid-body")
                self.sock.close()
                self.sock = None
                break
            raw += data
        self.buffer = raw
        return times, status


def percentile(values, p):
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(p / 100 * (len(ordered) - 1)))))
    return ordered[index]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--direct", type=int, required=True)
    parser.add_argument("--louter", type=int, required=True)
    parser.add_argument("--hop", type=int, help="a proxy in front of the pacer, measured like --direct")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--model", default="pace-20x5")
    args = parser.parse_args()
    direct, louter = Connection(args.direct), Connection(args.louter)
    hop = Connection(args.hop) if args.hop else None
    ttft_hop, overhead_hop = [], []
    openai = json.dumps({"model": args.model, "stream": True,
                         "messages": [{"role": "user", "content": "Say hello"}]}).encode()
    gemini = json.dumps({"contents": [{"role": "user", "parts": [{"text": "Say hello"}]}]}).encode()
    gemini_path = "/v1beta/models/%s:streamGenerateContent?alt=sse" % args.model
    ttft_direct, ttft_louter, overhead = [], [], []
    gaps_direct, gaps_louter = [], []
    events_direct, events_louter, failures = [], [], 0
    for round_index in range(args.rounds + 5):
        try:
            times_d, status_d = direct.stream("/v1/chat/completions", openai)
            times_l, status_l = louter.stream(gemini_path, gemini)
            times_h, status_h = hop.stream("/v1/chat/completions", openai) if hop else (times_d, status_d)
        except (ConnectionError, OSError, ValueError):
            failures += 1
            direct.sock = louter.sock = None
            if hop:
                hop.sock = None
            continue
        if status_d != 200 or status_l != 200 or status_h != 200 or not times_d or not times_l or not times_h:
            failures += 1
            continue
        if round_index < 5:  # warm-up: connections, pools, caches
            continue
        ttft_direct.append(times_d[0] / 1000)
        ttft_louter.append(times_l[0] / 1000)
        overhead.append((times_l[0] - times_d[0]) / 1000)
        if hop:
            ttft_hop.append(times_h[0] / 1000)
            overhead_hop.append((times_h[0] - times_d[0]) / 1000)
        # Paced gaps: those longer than 1 ms (the finish event and [DONE] follow the last chunk at once).
        paced_d = [(b - a) / 1000 for a, b in zip(times_d, times_d[1:]) if b - a > 1_000_000]
        paced_l = [(b - a) / 1000 for a, b in zip(times_l, times_l[1:]) if b - a > 1_000_000]
        gaps_direct += paced_d
        gaps_louter += paced_l
        events_direct.append(len(paced_d))
        events_louter.append(len(paced_l))
    result = {"rounds": len(overhead), "failures": failures}
    if overhead:
        result.update({
            "direct_p50_us": percentile(ttft_direct, 50), "direct_p99_us": percentile(ttft_direct, 99),
            "louter_p50_us": percentile(ttft_louter, 50), "louter_p99_us": percentile(ttft_louter, 99),
            "overhead_p50_us": percentile(overhead, 50), "overhead_p99_us": percentile(overhead, 99),
            "paced_gaps_direct": statistics.median(events_direct), "paced_gaps_louter": statistics.median(events_louter),
        })
    if overhead_hop:
        result.update({
            "hop_p50_us": percentile(ttft_hop, 50), "hop_p99_us": percentile(ttft_hop, 99),
            "hop_overhead_p50_us": percentile(overhead_hop, 50), "hop_overhead_p99_us": percentile(overhead_hop, 99),
        })
    if gaps_direct and gaps_louter:
        result.update({
            "gap_direct_p50_ms": percentile(gaps_direct, 50) / 1000,
            "gap_louter_p50_ms": percentile(gaps_louter, 50) / 1000,
            "gap_louter_min_ms": min(gaps_louter) / 1000, "gap_louter_max_ms": max(gaps_louter) / 1000,
            "gap_direct_min_ms": min(gaps_direct) / 1000, "gap_direct_max_ms": max(gaps_direct) / 1000,
        })
    print(json.dumps(result))


if __name__ == "__main__":
    main()
