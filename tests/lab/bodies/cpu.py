"""Each body's CPU time, posted to Gnocchi as the cumulative `cpu` meter (ns) of its
`instance` resource, in the shape ceilometer-polling gives it (unit ns, a rate archive policy:
LAB_CPU_ARCHIVE_POLICY, ceilometer-high-rate by default, whose finest granularity is 1 s). The
fake Nova driver has no hypervisor inspector, so this is the one meter the lab posts in
Ceilometer's place, every LAB_CPU_GRANULARITY seconds (0 = off).

What counts as CPU time: the body waits its service time instead of computing it (the lab's
machine has two cores for every service), so its process CPU time stays near zero whatever the
load. The meter is therefore the body's own CPU time plus the time its requests held a service
slot divided by its concurrency (body.py's busy file): the CPU time of a one-vCPU server whose
requests are CPU-bound, which reaches 1 s per second exactly when the body is saturated.

The `instance` resource is Ceilometer's (the notification agent creates it from Nova's
notifications, with the server's `metering.*` metadata). Where no notification agent runs, the
watcher creates it with the attributes that agent would set (display_name, flavor, host, image,
`server_group` from `metering.server_group`) so the meter has a home; a resource that exists is
left as it is."""
import os
import threading
import time

GRANULARITY = float(os.environ.get("LAB_CPU_GRANULARITY", 0))
CONCURRENCY = int(float(os.environ.get("LAB_BODY_CONCURRENCY", 2)))
ARCHIVE_POLICY = os.environ.get("LAB_CPU_ARCHIVE_POLICY", "ceilometer-high-rate")
TICK = os.sysconf("SC_CLK_TCK")


def cpu_ns(pid):
    """User + system CPU time of `pid` and its children that were waited for, in ns."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int((int(fields[11]) + int(fields[12])) * 1e9 / TICK)


def busy_ns(path):
    """The body's cumulative slot-busy time (body.py --busy-file), 0 before its first write."""
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def resource_of(server):
    """The `instance` resource Ceilometer's notification agent makes for a Nova server."""
    flavor = server.get("flavor") or {}
    image = server.get("image") or {}
    meta = server.get("metadata") or {}
    res = {"id": server["id"], "display_name": server.get("name", ""),
           "flavor_id": flavor.get("id") or flavor.get("original_name", ""),
           "flavor_name": flavor.get("original_name", ""),
           "host": server.get("OS-EXT-SRV-ATTR:host") or "",
           "image_ref": image.get("id") if isinstance(image, dict) else None,
           "server_group": meta.get("metering.server_group"),
           "metrics": {"cpu": {"archive_policy_name": ARCHIVE_POLICY, "unit": "ns"}}}
    return {k: v for k, v in res.items() if v is not None}    # Gnocchi refuses nulls


class Meter:
    """Samples on its own thread on whole seconds of the granularity, and posts from another
    whatever was sampled since the last post: Gnocchi's `rate:mean` at a granularity is the
    difference between successive points, so a missing point (a post held up by a slow API)
    would count two periods' CPU as one."""

    def __init__(self, api, view):
        self.api, self.total = api, {}
        self.view = view        # () -> (bodies, servers): copies of the watcher's current ones
        self.known = set()      # server IDs whose `instance` resource exists
        self.servers = {}       # server JSON of every body sampled, for its resource
        self.pending = {}       # server ID -> measures not yet posted
        self.lock = threading.Lock()
        self.ready = threading.Event()

    def start(self, log):
        if GRANULARITY <= 0:
            return

        def sample():
            while True:
                now = time.time()
                nxt = (now // GRANULARITY + 1) * GRANULARITY
                time.sleep(nxt - now)
                try:
                    self.sample(nxt, *self.view())
                except Exception as e:
                    log(f"cpu meter: {e}")

        def post():
            while True:
                self.ready.wait()
                self.ready.clear()
                try:
                    self.post()
                except Exception as e:  # Gnocchi restarting or slow: kept for the next post
                    log(f"cpu meter: {e}")
                    time.sleep(1)
        threading.Thread(target=sample, daemon=True, name="cpu-sample").start()
        threading.Thread(target=post, daemon=True, name="cpu-post").start()

    def sample(self, now, bodies, servers):
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(round(now)))
        with self.lock:
            for sid, b in bodies.items():
                pid, last, base = self.total.get(sid, (None, 0, 0))
                proc = b.proc
                if proc is not None and proc.poll() is None:
                    if proc.pid != pid:   # a new boot: the counter goes on from the old one's total
                        pid, base, last = proc.pid, base + last, 0
                    try:
                        last = cpu_ns(pid) + busy_ns(os.path.join(b.dir, "busy_ns")) // CONCURRENCY
                    except (FileNotFoundError, ProcessLookupError):
                        pass
                    self.total[sid] = (pid, last, base)
                if sid not in servers or sid not in self.total:   # polled once it runs
                    continue
                self.servers[sid] = servers[sid]
                self.pending.setdefault(sid, []).append({"timestamp": ts, "value": base + last})
            for gone in [sid for sid in self.total if sid not in bodies]:
                self.total.pop(gone, None)
                self.pending.pop(gone, None)
                self.servers.pop(gone, None)
                self.known.discard(gone)
        self.ready.set()

    def post(self):
        with self.lock:
            pending, self.pending = self.pending, {}
            servers = dict(self.servers)
        try:
            for sid in pending:
                if sid not in self.known and sid in servers:
                    try:
                        self.api.call("POST", "metric", "/v1/resource/instance", body=resource_of(servers[sid]))
                    except RuntimeError as e:
                        if "HTTP 409" not in str(e):    # 409: it exists (Ceilometer's, or ours)
                            raise
                    self.known.add(sid)
            batch = {sid: {"cpu": {"measures": m, "archive_policy_name": ARCHIVE_POLICY, "unit": "ns"}}
                     for sid, m in pending.items() if sid in self.known}
            if batch:
                self.api.call("POST", "metric", "/v1/batch/resources/metrics/measures",
                              body=batch, params={"create_metrics": "true"})
        except Exception:
            with self.lock:     # put them back in front of what was sampled meanwhile
                for sid, m in pending.items():
                    if sid in self.total:
                        self.pending[sid] = (m + self.pending.get(sid, []))[-600:]  # 10 min at 1 s
            raise
