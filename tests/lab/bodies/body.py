#!/usr/bin/python3
"""The body of one lab server: a small HTTP service with a real capacity.

At most `--concurrency` requests are served at once, each taking `--service-ms` (times the
slow factor of a gray failure); the rest wait in the accept queue, so latency grows under load
as on a real server. Runs inside the server's network namespace (watcher.py starts it) and
answers on every port in `--ports`, IPv6 and IPv4 alike.

Faults a test sets through the file `--fault` (fault.py writes it, read when its mtime changes):
`slow K` (every request K times slower), `5xx` (every answer 503). Crash (SIGKILL) and hang
(SIGSTOP) are done to the process itself.

The service time is waited, not computed (the lab's machine has two cores for everything), so
the process's own CPU time does not show how busy the service is; `--busy-file` keeps the time
requests held a slot, which cpu.py reports as the CPU time of a server whose requests are
CPU-bound.
"""
import argparse
import asyncio
import os
import socket
import time

p = argparse.ArgumentParser()
p.add_argument("--id", required=True)
p.add_argument("--name", default="")
p.add_argument("--ports", default="80,8080")
p.add_argument("--concurrency", type=int, default=4)
p.add_argument("--service-ms", type=float, default=20.0)
p.add_argument("--fault", required=True)
p.add_argument("--busy-file", default=None,
               help="where to keep the cumulative busy time of the service slots (ns), every 0.5 s")
args = p.parse_args()


class Faults:
    """The fault file's state, re-read only when it changes."""

    def __init__(self, path):
        self.path, self.mtime, self.slow, self.error = path, None, 1.0, False

    def refresh(self):
        try:
            m = os.stat(self.path).st_mtime_ns
        except FileNotFoundError:
            m = None
        if m == self.mtime:
            return
        self.mtime, self.slow, self.error = m, 1.0, False
        text = open(self.path).read().split() if m is not None else []
        if text[:1] == ["slow"] and len(text) == 2:
            self.slow = max(float(text[1]), 0.0)
        elif text[:1] == ["5xx"]:
            self.error = True


faults = Faults(args.fault)
capacity = asyncio.Semaphore(args.concurrency)
served = 0
busy_ns = 0     # summed over slots: the time requests held a service slot


async def handle(reader, writer):
    global served, busy_ns
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            keep = True
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                k = k.strip().lower()
                if k == b"content-length":
                    length = int(v.strip() or 0)
                elif k == b"connection" and v.strip().lower() == b"close":
                    keep = False
            if head.split(b"\r\n", 1)[0].endswith(b"HTTP/1.0"):
                keep = keep and b"keep-alive" in head.lower()
            if length:
                await reader.readexactly(length)
            faults.refresh()
            async with capacity:
                t0 = time.monotonic_ns()
                await asyncio.sleep(args.service_ms * faults.slow / 1000.0)
                busy_ns += time.monotonic_ns() - t0
            served += 1
            if faults.error:
                status, body = b"503 Service Unavailable", b"fault: 5xx\n"
            else:
                status, body = b"200 OK", f"ok {args.name} {args.id}\n".encode()
            writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: text/plain\r\nContent-Length: "
                         + str(len(body)).encode() + (b"\r\n\r\n" if keep else b"\r\nConnection: close\r\n\r\n")
                         + body)
            await writer.drain()
            if not keep:
                break
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def keep_busy_file():
    """The busy counter where the watcher reads it (cpu.py), written atomically."""
    while True:
        tmp = args.busy_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(busy_ns))
        os.replace(tmp, args.busy_file)
        await asyncio.sleep(0.5)


async def main():
    servers = []
    if args.busy_file:
        asyncio.ensure_future(keep_busy_file())
    for port in (int(x) for x in args.ports.split(",") if x):
        # one dual-stack socket per port: IPv6 and IPv4-mapped
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(("::", port))
        servers.append(await asyncio.start_server(handle, sock=sock, backlog=1024))
    await asyncio.gather(*(s.serve_forever() for s in servers))


asyncio.run(main())
