#!/usr/bin/env python3
"""Prints the Markdown report of Tests/Bench/run from the files it wrote in its temp dir DIR.

    table.py DIR
DIR/rows.tsv: target, label, concurrency, requests, duration µs, p50 µs, p99 µs, errors, CPU ticks (or "failed");
DIR/facts: name<TAB>value lines; DIR/ttft.json and DIR/streams-K.json: one JSON object each (ttft.py, streams.py).
"""

import glob
import json
import os
import sys

TICK_US = 1_000_000 / os.sysconf("SC_CLK_TCK")
# The row each target is compared with for "added latency": the same backend reached directly.
BASELINE = {"hop": "direct", "louter1": "direct", "louterN": "direct", "louterP": "direct", "tlslouter": "tlsdirect",
            "tlsorigin": "tlsdirect"}


def rate(value):
    return "%.1fk" % (value / 1000) if value >= 1000 else "%.0f" % value


def micros(value):
    if value is None:
        return "–"
    if abs(value) >= 1000:
        return "%.2f ms" % (value / 1000)
    return "%.0f µs" % value


def mib(kib):
    return "%.1f MiB" % (int(kib) / 1024) if kib is not None and int(kib) >= 0 else "–"


def load(directory):
    rows = {}
    order = []
    with open(os.path.join(directory, "rows.tsv")) as handle:
        for line in handle:
            fields = line.rstrip("\n").split("\t")
            target, label, conc = fields[0], fields[1], int(fields[2])
            if target not in order:
                order.append(target)
            if fields[3] == "failed":
                rows[(target, conc)] = {"label": label, "failed": True}
                continue
            requests, duration, p50, p99, errors, ticks = (int(x) for x in fields[3:9])
            # A row where more than 1 % of the answers were errors measured the error path (a backend louter
            # could not reach answers fast), not the served one: it is reported, never taken for a goal.
            if errors * 100 > requests:
                rows[(target, conc)] = {"label": label, "failed": True, "errors": errors, "requests": requests}
                continue
            rows[(target, conc)] = {
                "label": label, "failed": False, "requests": requests, "rps": requests * 1e6 / max(duration, 1),
                "p50": p50, "p99": p99, "errors": errors,
                "cpu": ticks * TICK_US / requests if requests else None,
            }
    facts = {}
    with open(os.path.join(directory, "facts")) as handle:
        for line in handle:
            name, _, value = line.rstrip("\n").partition("\t")
            facts[name] = value
    ttft = read_json(os.path.join(directory, "ttft.json"))
    ttft_poll = read_json(os.path.join(directory, "ttft-poll.json"))
    streams = []
    for path in glob.glob(os.path.join(directory, "streams-*.json")):
        try:
            with open(path) as handle:
                streams.append(json.load(handle))
        except (OSError, ValueError):
            pass
    streams.sort(key=lambda s: (s["count"], s.get("backend", "pacer")))
    return rows, order, facts, ttft, ttft_poll, streams


def read_json(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def main():
    rows, order, facts, ttft, ttft_poll, streams = load(sys.argv[1])
    out = []
    cores = facts.get("cores", "?")
    out.append("louter benchmark: wrk %ss per row, keep-alive, 2 threads (1 at concurrency 1), %s cores "
               "shared by wrk, nginx and louter; load average before the run: %s." % (
                   facts.get("seconds", "?"), cores, facts.get("load", "?")))
    if "workers_note" in facts:
        out.append("")
        out.append(facts["workers_note"])
    out.append("")
    out.append("| target | conc. | req/s | p50 | p99 | added p50 / p99 | ÷ nginx hop | CPU µs/req | errors |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for target in order:
        for conc in (1, 16, 64):
            row = rows.get((target, conc))
            if row is None:
                continue
            if row["failed"]:
                why = "failed: %d of %d answers were errors" % (row["errors"], row["requests"]) if "errors" in row \
                    else "failed"
                out.append("| %s | %d | %s | | | | | | |" % (row["label"], conc, why))
                continue
            extra = "–"
            base = rows.get((BASELINE.get(target, ""), conc))
            if base and not base["failed"]:
                extra = "%s / %s" % (micros(row["p50"] - base["p50"]), micros(row["p99"] - base["p99"]))
            ratio = "–"
            hop = rows.get(("hop", conc))
            if target.startswith(("louter", "tlslouter", "tlsorigin")) and hop and not hop["failed"]:
                ratio = "%.2f" % (row["rps"] / hop["rps"])
            out.append("| %s | %d | %s | %s | %s | %s | %s | %s | %d |" % (
                row["label"], conc, rate(row["rps"]), micros(row["p50"]), micros(row["p99"]), extra, ratio,
                "%.1f" % row["cpu"] if row["cpu"] is not None else "–", row["errors"]))
    out.append("")
    out.append("Added latency: the row minus the same backend reached directly, at the same concurrency. "
               "CPU µs/req: utime + stime of the measured process (nginx: master and worker) over the run, "
               "divided by the requests wrk counted.")

    out.append("")
    out.append("| streaming (pacing backend, 20 ms between chunks) | p50 | p99 |")
    out.append("|---|---|---|")
    if ttft and "overhead_p50_us" in ttft:
        out.append("| TTFT direct | %s | %s |" % (micros(ttft["direct_p50_us"]), micros(ttft["direct_p99_us"])))
        out.append("| TTFT through louter | %s | %s |" % (micros(ttft["louter_p50_us"]), micros(ttft["louter_p99_us"])))
        out.append("| TTFT added by louter | %s | %s |" % (micros(ttft["overhead_p50_us"]),
                                                           micros(ttft["overhead_p99_us"])))
        if "hop_overhead_p50_us" in ttft:
            out.append("| TTFT added by an nginx hop (relays bytes, translates nothing) | %s | %s |" % (
                micros(ttft["hop_overhead_p50_us"]), micros(ttft["hop_overhead_p99_us"])))
        if ttft_poll and "overhead_p50_us" in ttft_poll:
            out.append("| TTFT added by louter with idle_poll (its own run) | %s | %s |" % (
                micros(ttft_poll["overhead_p50_us"]), micros(ttft_poll["overhead_p99_us"])))
        if "gap_louter_p50_ms" in ttft:
            out.append("| gap between chunks, direct (min–max) | %.1f ms | %.1f–%.1f ms |" % (
                ttft["gap_direct_p50_ms"], ttft["gap_direct_min_ms"], ttft["gap_direct_max_ms"]))
            out.append("| gap between chunks, through louter (min–max) | %.1f ms | %.1f–%.1f ms |" % (
                ttft["gap_louter_p50_ms"], ttft["gap_louter_min_ms"], ttft["gap_louter_max_ms"]))
        out.append("")
        out.append("%d rounds, %d failed; paced gaps per stream: %s direct, %s through louter." % (
            ttft["rounds"], ttft["failures"], ttft.get("paced_gaps_direct"), ttft.get("paced_gaps_louter")))
    else:
        out.append("| TTFT | failed | |")

    out.append("")
    out.append("| memory and streams (louter, 1 worker) | value |")
    out.append("|---|---|")
    out.append("| idle RSS after start | %s |" % mib(facts.get("idle_rss_kib")))
    out.append("| RSS after the http rows | %s |" % mib(facts.get("rss_after_http_kib")))
    out.append("| RSS after the https rows (a louter of their own) | %s |" % mib(facts.get("rss_after_https_kib")))
    for which in ("first", "second"):
        ticks = facts.get("https_%s_stream_cpu_ticks" % which)
        if ticks is not None:
            out.append("| louter's CPU for the %s https stream (2 s between its chunks%s) | %.0f ms |" % (
                which, ", a new connection" if which == "first" else ", the same connection",
                int(ticks) * TICK_US / 1000))
    probe = dict(part.split("=", 1) for part in facts.get("urlsession_probe", "").split() if "=" in part)
    if "first_ms" in probe:
        out.append("| URLSession alone (`Tests/Bench/urlsession-probe.swift`), the same two streams: CPU | %s ms, then "
                   "%s ms |" % (probe["first_ms"], probe.get("second_ms", "?")))
    for run in streams:
        failed = ", ".join("%d %s" % (n, why) for why, n in sorted(run["failed"].items())) or "none"
        name = "%d streams via %s" % (run["count"], run.get("backend", "pacer"))
        out.append("| %s: held at once / completed / failed | %d / %d / %s |" % (
            name, run["peak_open"], run["completed"], failed))
        out.append("| %s: all opened after / run took | %.0f s / %.0f s |" % (
            name, run.get("ramp_seconds", -1), run["seconds"]))
        out.append("| %s: peak RSS | %s |" % (name, mib(run["peak_rss_kib"])))
    out.append("| RSS right after the last stream | %s |" % mib(facts.get("rss_end_kib")))
    out.append("| RSS 11 s later (memory given back after a burst) | %s |" % mib(facts.get("rss_quiet_kib")))
    out.append("")
    out.append("Streams send a chunk every 5 s: louter's echo backend with `pace = \"5s\"` (one descriptor per "
               "stream in louter, the client's), and the pacing backend (two: client and upstream). The hard "
               "descriptor limit here is %s." % facts.get("hard_nofile", "?"))

    out.append("")
    out.append("| goal (issue 9) | measured | met |")
    out.append("|---|---|---|")

    def goal(text, measured, met):
        out.append("| %s | %s | %s |" % (text, measured, "–" if met is None else ("yes" if met else "no")))

    def added(value, limit):
        # A tail of the direct row longer than louter's is noise from a shared machine, not a measurement.
        if value < 0:
            return "%s (noise: the direct row's is longer)" % micros(value), None
        return micros(value), value <= limit

    def ok(*keys):
        return all(rows.get(k) and not rows[k]["failed"] for k in keys)

    if ok(("louter1", 16), ("hop", 16)):
        value = rows[("louter1", 16)]["rps"] / rows[("hop", 16)]["rps"]
        goal("1 worker, concurrency 16: ≥ 50 % of the nginx hop's req/s", "%.0f %%" % (value * 100), value >= 0.5)
    if ok(("louterN", 16), ("louter1", 16)):
        value = rows[("louterN", 16)]["rps"] / rows[("louter1", 16)]["rps"]
        goal("N workers: growth over 1 worker at concurrency 16", "× %.2f" % value, None)
    if ok(("louter1", 1), ("direct", 1)):
        p50 = rows[("louter1", 1)]["p50"] - rows[("direct", 1)]["p50"]
        p99 = rows[("louter1", 1)]["p99"] - rows[("direct", 1)]["p99"]
        goal("added latency at concurrency 1: p50 ≤ 50 µs", *added(p50, 50))
        goal("added latency at concurrency 1: p99 ≤ 100 µs", *added(p99, 100))
    if ok(("louterP", 1), ("direct", 1)):
        p50 = rows[("louterP", 1)]["p50"] - rows[("direct", 1)]["p50"]
        p99 = rows[("louterP", 1)]["p99"] - rows[("direct", 1)]["p99"]
        goal("… with `idle_poll = true`: p50 ≤ 50 µs", *added(p50, 50))
        goal("… with `idle_poll = true`: p99 ≤ 100 µs", *added(p99, 100))
    if ok(("louterP", 16), ("hop", 16)):
        value = rows[("louterP", 16)]["rps"] / rows[("hop", 16)]["rps"]
        goal("… with `idle_poll = true`: ≥ 50 % of the nginx hop's req/s at 16", "%.0f %%" % (value * 100),
             value >= 0.5)
    if ok(("louter1", 64), ("direct", 64)):
        # Added, like the concurrency-1 goal: the nginx hop alone is near 2 ms p99 at 64 on this machine.
        p99 = rows[("louter1", 64)]["p99"]
        text, met = added(p99 - rows[("direct", 64)]["p99"], 1000)
        goal("added p99 at concurrency 64 ≤ 1 ms (louter, 1 worker)", "%s (p99 %s)" % (text, micros(p99)), met)
    if ttft and "overhead_p50_us" in ttft:
        reference = ""
        if "hop_overhead_p50_us" in ttft:
            reference = " (an nginx hop: %s)" % micros(ttft["hop_overhead_p50_us"])
        goal("streaming TTFT overhead p50 ≤ 200 µs", micros(ttft["overhead_p50_us"]) + reference,
             ttft["overhead_p50_us"] <= 200)
        goal("streaming TTFT overhead p99 ≤ 1 ms", micros(ttft["overhead_p99_us"]), ttft["overhead_p99_us"] <= 1000)
        if ttft_poll and "overhead_p50_us" in ttft_poll:
            goal("… with `idle_poll = true`: TTFT overhead p50 ≤ 200 µs", micros(ttft_poll["overhead_p50_us"]),
                 ttft_poll["overhead_p50_us"] <= 200)
        if "gap_louter_p50_ms" in ttft:
            kept = (ttft.get("paced_gaps_louter") == ttft.get("paced_gaps_direct")
                    and abs(ttft["gap_louter_p50_ms"] - ttft["gap_direct_p50_ms"]) <= 2)
            goal("inter-chunk gaps kept", "%.1f ms vs %.1f ms direct" % (
                ttft["gap_louter_p50_ms"], ttft["gap_direct_p50_ms"]), kept)
    for run in streams:
        via = run.get("backend", "pacer")
        if run["count"] >= 10000 and via == "pacer" and facts.get("hard_nofile", "").isdigit():
            # With a real upstream each stream takes two of louter's descriptors (client and upstream), so the
            # issue's goal is "as far as the descriptor limit allows": every stream the limit leaves room for is
            # held and completed, and each one past it is refused with a clear 503, none dropped silently.
            room = min(run["count"], int(facts["hard_nofile"]) // 2 - 16)
            refused = run["failed"].get("status 503", 0)
            clean = sum(run["failed"].values()) == refused
            goal("10,000 concurrent streams via a real upstream, as far as %s descriptors allow (via %s)" % (
                facts["hard_nofile"], via), "%d held at once, %d completed, %d refused with 503" % (
                run["peak_open"], run["completed"], refused),
                clean and run["completed"] == run["peak_open"] >= room
                and run["completed"] + refused == run["count"])
        elif run["count"] >= 10000:
            goal("10,000 concurrent streams held, none lost (via %s)" % via, "%d held at once, %d completed" % (
                run["peak_open"], run["completed"]), run["completed"] == run["peak_open"] == run["count"])
        if run["count"] == 1000:
            goal("RSS ≤ 150 MiB at 1,000 streams (via %s)" % via, mib(run["peak_rss_kib"]),
                 run["peak_rss_kib"] <= 150 * 1024)
    if facts.get("idle_rss_kib"):
        kib = int(facts["idle_rss_kib"])
        goal("idle RSS ≤ 20 MiB", mib(kib), kib <= 20 * 1024)
    if ok(("tlslouter", 16), ("louter1", 16)):
        value = rows[("louter1", 16)]["rps"] / rows[("tlslouter", 16)]["rps"]
        goal("https path within 2× of the plain-http path's req/s (concurrency 16)", "%.2f× slower" % value,
             value <= 2)
    if ok(("tlslouter", 1), ("tlsdirect", 1)):
        p50 = rows[("tlslouter", 1)]["p50"] - rows[("tlsdirect", 1)]["p50"]
        goal("https: ≤ 200 µs added p50 at concurrency 1", *added(p50, 200))
    # Not the goal (that is louter's own https path): the way round URLSession that README "https backends" gives.
    if ok(("tlsorigin", 16), ("louter1", 16)):
        value = rows[("louter1", 16)]["rps"] / rows[("tlsorigin", 16)]["rps"]
        goal("https through a TLS-originating nginx hop (an http:// backend) within 2× of plain http (c=16)",
             "%.2f× slower" % value, value <= 2)
    if ok(("tlsorigin", 1), ("tlsdirect", 1)):
        p50 = rows[("tlsorigin", 1)]["p50"] - rows[("tlsdirect", 1)]["p50"]
        goal("https through that hop: ≤ 200 µs added p50 at concurrency 1", *added(p50, 200))
    print("\n".join(out))


if __name__ == "__main__":
    main()
