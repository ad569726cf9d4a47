#!/usr/bin/python3
"""A bounded, open-loop load generator for the lab (run it in its own namespace: places.py up lg,
then `ip netns exec sloop-p-lg loadgen.py ...`).

The rate follows a curve: `--base` requests/s for `--steady` s, rising linearly to base x
`--factor` over `--ramp` s, held for `--hold` s, back to base over `--decay` s. Requests are sent
on schedule whether or not earlier ones finished (so a queueing service shows its latency), each
on a new connection, each bounded by `--timeout`. Hard caps: `--max-rate` requests/s, at most
`--max-inflight` at once (beyond that a request counts as dropped, not sent), and the whole
run ends after `--max-duration` s whatever the curve says.

Prints one JSON line per second once it is over: {"t", "target_rps", "sent", "ok", "errors",
"dropped", "p50_ms", "p95_ms"} (sent and dropped: requests started that second; ok, errors and
latencies: requests that completed that second) and a final {"summary": ...} line."""
import argparse
import asyncio
import json
import time
from urllib.parse import urlsplit

p = argparse.ArgumentParser()
p.add_argument("--url", required=True)
p.add_argument("--base", type=float, default=20)
p.add_argument("--factor", type=float, default=5)
p.add_argument("--steady", type=float, default=10)
p.add_argument("--ramp", type=float, default=60)
p.add_argument("--hold", type=float, default=30)
p.add_argument("--decay", type=float, default=10)
p.add_argument("--timeout", type=float, default=2.0)
p.add_argument("--max-rate", type=float, default=300)
p.add_argument("--max-inflight", type=int, default=400)
p.add_argument("--max-duration", type=float, default=300)
args = p.parse_args()

u = urlsplit(args.url)
HOST, PORT, PATH = u.hostname, u.port or 80, (u.path or "/")
REQ = f"GET {PATH} HTTP/1.1\r\nHost: {u.netloc}\r\nConnection: close\r\n\r\n".encode()


def target(t):
    a = args
    hi = a.base * a.factor
    if t < a.steady:
        r = a.base
    elif t < a.steady + a.ramp:
        r = a.base + (hi - a.base) * (t - a.steady) / a.ramp
    elif t < a.steady + a.ramp + a.hold:
        r = hi
    elif t < a.steady + a.ramp + a.hold + a.decay:
        r = hi - (hi - a.base) * (t - a.steady - a.ramp - a.hold) / a.decay
    else:
        r = 0.0
    return min(r, a.max_rate)


class Second:
    def __init__(self):
        self.sent = self.ok = self.errors = self.dropped = 0
        self.lat = []


async def one(seconds, start):
    """One request; its outcome counts in the second it completes in (so a second's line
    shows the throughput and latency of that second, also when requests queue)."""
    t0 = time.monotonic()

    def done_in():
        s = int(time.monotonic() - start)
        while len(seconds) <= s:
            seconds.append(Second())
        return seconds[s]
    try:
        async def go():
            r, w = await asyncio.open_connection(HOST, PORT)
            w.write(REQ)
            head = await r.readline()
            await r.read()
            w.close()
            return head
        head = await asyncio.wait_for(go(), args.timeout)
        sec = done_in()
        if head.split()[1:2] == [b"200"]:
            sec.ok += 1
            sec.lat.append((time.monotonic() - t0) * 1000)
        else:
            sec.errors += 1
    except (OSError, asyncio.TimeoutError, IndexError):
        done_in().errors += 1


def pct(xs, q):
    if not xs:
        return None
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(q / 100 * len(xs)))], 1)


async def main():
    end = min(args.steady + args.ramp + args.hold + args.decay, args.max_duration)
    start = time.monotonic()
    inflight = set()
    seconds = []
    credit = 0.0
    last = start
    total = Second()
    reported = 0
    while True:
        now = time.monotonic()
        t = now - start
        if t >= end:
            break
        s = int(t)
        while len(seconds) <= s:
            seconds.append(Second())
        while reported < s:     # a second is reported once it is over
            report(reported, seconds[reported])
            reported += 1
        credit += target(t) * (now - last)
        last = now
        while credit >= 1:
            credit -= 1
            sec = seconds[s]
            if len(inflight) >= args.max_inflight:
                sec.dropped += 1
                continue
            sec.sent += 1
            task = asyncio.ensure_future(one(seconds, start))
            inflight.add(task)
            task.add_done_callback(inflight.discard)
        await asyncio.sleep(0.005)
    if inflight:
        await asyncio.wait(inflight, timeout=args.timeout + 1)
    for i in range(reported, len(seconds)):
        report(i, seconds[i])
    for sec in seconds:
        total.sent += sec.sent
        total.ok += sec.ok
        total.errors += sec.errors
        total.dropped += sec.dropped
        total.lat += sec.lat
    dur = time.monotonic() - start
    print(json.dumps({"summary": {"duration_s": round(dur, 1), "sent": total.sent, "ok": total.ok,
                                  "errors": total.errors, "dropped": total.dropped,
                                  "achieved_rps": round(total.sent / dur, 1),
                                  "p50_ms": pct(total.lat, 50), "p95_ms": pct(total.lat, 95),
                                  "p99_ms": pct(total.lat, 99)}}), flush=True)


def report(i, sec):
    print(json.dumps({"t": i, "target_rps": round(target(i + 0.5), 1), "sent": sec.sent, "ok": sec.ok,
                      "errors": sec.errors, "dropped": sec.dropped, "p50_ms": pct(sec.lat, 50),
                      "p95_ms": pct(sec.lat, 95)}), flush=True)


asyncio.run(main())
