#!/usr/bin/python3
"""A real load balancer for the lab's Octavia: HAProxy (Debian's) serving every load balancer
whose VIP lies in lab-net, its backends and weights following the Octavia pools' members.

The Octavia amphora driver of the lab is a no-op, so Octavia only keeps records; this daemon
makes them true. One HAProxy (master-worker, a child of this process) holds a frontend per
listener on the VIP (and on the other addresses of the Neutron port that holds the VIP, so an
IPv4 VIP reserved with an IPv6 address serves both families) and a backend per pool made of
`server-template` slots. Members go into slots through HAProxy's runtime API: `set server ...
addr`, `weight` (Octavia's 0..256, 0 = drained: no new connections) and `state ready|maint`
(admin_state_up). A new listener or pool rewrites the configuration and reloads the workers
(SIGUSR2), then every slot is set again. No health monitor is configured, as in an Octavia pool
without one: a dead member keeps getting its share until someone drains it.

Statistics go back to Octavia as a provider driver's do: every LAB_LB_STATS seconds (5; 0 = off)
each listener's frontend counters (`stot` as total_connections, `scur`, `bin`, `bout`, `ereq` as
request_errors; absolute, reset when HAProxy restarts) through the Octavia driver agent's stats
socket (octavia-lib's `update_listener_statistics`), so `GET /v2/lbaas/loadbalancers/{id}/stats`
answers with HAProxy's real counters, as it does with amphorae.

Stats for tests: `show stat` on the admin socket $LAB_DIR/run/haproxy.sock (CSV: pxname, svname,
..., stot, ..., weight, ..., addr). $LAB_DIR/lb/state.json maps member IDs to their slots.
Polls every LAB_LB_POLL seconds (0.3)."""
import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labapi  # noqa: E402
import netns  # noqa: E402
import novadb  # noqa: E402

RUN = os.path.join(labapi.LAB, "run")
DIR = os.path.join(labapi.LAB, "lb")
SOCK = os.path.join(RUN, "haproxy.sock")
CFG = os.path.join(DIR, "haproxy.cfg")
POLL = float(os.environ.get("LAB_LB_POLL", 0.3))
STATS_EVERY = float(os.environ.get("LAB_LB_STATS", 5))
STATS_SOCK = os.path.join(RUN, "octavia-stats.sock")
SLOTS = 32


def log(msg):
    print(f"{time.strftime('%H:%M:%S')} {msg}", flush=True)


def runtime(cmd):
    """One command on HAProxy's admin socket; returns its answer."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    s.connect(SOCK)
    s.sendall(cmd.encode() + b"\n")
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
    s.close()
    return out.decode()


def driver_agent(path, message):
    """One message to an Octavia driver agent socket (octavia-lib's framing: the JSON's length
    and a newline, then the JSON; the answer framed the same way)."""
    data = json.dumps(message).encode()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    try:
        s.sendall(f"{len(data)}\n".encode() + data)
        head = b""
        while not head.endswith(b"\n"):
            c = s.recv(1)
            if not c:
                raise OSError("driver agent closed the socket")
            head += c
        size, body = int(head), b""
        while len(body) < size:
            c = s.recv(size - len(body))
            if not c:
                raise OSError("driver agent closed the socket")
            body += c
    finally:
        s.close()
    return json.loads(body)


def frontend_stats():
    """Listener ID -> Octavia's statistics fields, from HAProxy's frontend rows."""
    lines = runtime("show stat").splitlines()
    if not lines:
        return {}
    head = lines[0].lstrip("# ").split(",")
    out = {}
    for line in lines[1:]:
        f = dict(zip(head, line.split(",")))
        if f.get("svname") != "FRONTEND" or not f.get("pxname", "").startswith("l_"):
            continue
        n = lambda k: int(f.get(k) or 0)  # noqa: E731
        out[f["pxname"][2:]] = {"id": f["pxname"][2:], "active_connections": n("scur"),
                                "total_connections": n("stot"), "bytes_in": n("bin"),
                                "bytes_out": n("bout"), "request_errors": n("ereq")}
    return out


def bind(addr, port):
    return f"ipv6@{addr}:{port}" if ":" in addr else f"{addr}:{port}"


def config(lbs):
    lines = ["global", f"  stats socket {SOCK} mode 600 level admin", "  maxconn 4096",
             "defaults", "  timeout connect 2s", "  timeout client 30s", "  timeout server 30s",
             "  timeout queue 10s", ""]
    for lb in lbs:
        for li in lb["listeners"]:
            mode = "http" if li["protocol"] in ("HTTP", "TERMINATED_HTTPS") else "tcp"
            lines.append(f"frontend l_{li['id']}")
            lines.append(f"  mode {mode}")
            for a in lb["vips"]:
                lines.append(f"  bind {bind(a, li['protocol_port'])}")
            # a cascade delete removes the pool before its listener: no backend, no reference
            if li.get("default_pool_id") in {p["id"] for p in lb["pools"]}:
                lines.append(f"  default_backend p_{li['default_pool_id']}")
            lines.append("")
        for pool in lb["pools"]:
            mode = "http" if pool["protocol"] in ("HTTP", "PROXY") else "tcp"
            algo = {"ROUND_ROBIN": "roundrobin", "LEAST_CONNECTIONS": "leastconn",
                    "SOURCE_IP": "source"}.get(pool["lb_algorithm"], "roundrobin")
            lines += [f"backend p_{pool['id']}", f"  mode {mode}", f"  balance {algo}",
                      f"  server-template m 1-{SLOTS} 127.0.0.1:9 disabled", ""]
    return "\n".join(lines) + "\n"


class Balancer:
    def __init__(self):
        self.api = labapi.Api()
        self.db = novadb.NovaDb()
        self.proc = None
        self.cfg = None
        self.applied = {}        # (pool, slot) -> (addr, port, weight, up) last set
        self.slots = {}          # pool -> {member id: slot}
        self.subnets = []
        self.vip_ports = {}      # VIP address -> all addresses of its Neutron port
        self.stats_at = 0.0
        self.idle = False        # no load balancer on lab-net, and their VIPs released

    def lab_net(self):
        """The subnets of lab-net and (where `up.sh ipv6` made it) lab-net6, IPv6 only; each
        subnet's network ID in self.net_of."""
        if not self.subnets:
            self.net_of = {}
            for name in os.environ.get("LAB_NETS", "lab-net lab-net6").split():
                for net in self.api.get("network", "/networks", params={"name": name})["networks"]:
                    for s in self.api.get("network", "/subnets", params={"network_id": net["id"]})["subnets"]:
                        self.net_of[ipaddress.ip_network(s["cidr"])] = net["id"]
            self.subnets = list(self.net_of)
        return self.subnets

    def desired(self):
        """Octavia's load balancers on lab-net, from Octavia's database (novadb.py): the
        amphora driver would receive them from the worker; the public API would cost four
        calls a poll, seconds each on a loaded lab."""
        nets = self.lab_net()
        lbs = []
        for lb in self.db.load_balancers():
            vip = lb.get("vip_address")
            subnet = next((n for n in nets if n.version == ipaddress.ip_address(vip).version
                           and ipaddress.ip_address(vip) in n), None) if vip else None
            if subnet is None:
                continue
            if vip not in self.vip_ports:
                self.vip_ports[vip] = sorted(set([vip] + self.db.port_addresses(self.net_of[subnet], vip)))
            lb["vips"] = self.vip_ports[vip]
            lb["listeners"].sort(key=lambda x: x["id"])
            lb["pools"].sort(key=lambda x: x["id"])
            lbs.append(lb)
        return lbs

    def reload(self, cfg, lbs):
        os.makedirs(DIR, exist_ok=True)
        with open(CFG + ".tmp", "w") as f:
            f.write(cfg)
        os.replace(CFG + ".tmp", CFG)
        wanted = set()
        for lb in lbs:
            for a in lb["vips"]:
                net = next(n for n in self.subnets if n.version == ipaddress.ip_address(a).version)
                netns.add_host_address(a, 32 if net.version == 4 else 128)
                wanted.add(a)
        self.release_vips(wanted)
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen(["haproxy", "-W", "-db", "-f", CFG], stdin=subprocess.DEVNULL)
            log(f"haproxy started, pid {self.proc.pid}")
        else:
            self.proc.send_signal(signal.SIGUSR2)
            log("haproxy reloaded")
        self.cfg = cfg
        self.applied = {}
        for _ in range(50):      # the new worker's socket
            try:
                if "pxname" in runtime("show stat"):
                    break
            except OSError:
                pass
            time.sleep(0.1)

    def release_vips(self, wanted):
        """Takes the addresses of deleted load balancers off the bridge: Neutron hands a freed
        VIP to the next port, and a host that still holds it drops that port's traffic as
        martian (a place or a body would be cut off)."""
        for a in netns.host_addresses():
            if a not in wanted:
                netns.del_host_address(a, 128 if ":" in a else 32)
                log(f"VIP {a} released")

    def sync(self):
        lbs = self.desired()
        cfg = config(lbs)
        if not lbs:
            if self.proc is not None:
                self.stop()
            if not self.idle:
                self.release_vips(set())
                self.idle = True
            return
        self.idle = False
        if cfg != self.cfg:
            self.reload(cfg, lbs)
        state = {}
        for lb in lbs:
            for pool in lb["pools"]:
                slots = self.slots.setdefault(pool["id"], {})
                ids = {m["id"] for m in pool["members"]}
                for gone in [m for m in slots if m not in ids]:
                    slot = slots.pop(gone)
                    self.set(pool["id"], slot, None)
                for m in pool["members"]:
                    if m["id"] not in slots:
                        free = sorted(set(range(1, SLOTS + 1)) - set(slots.values()))
                        if not free:
                            log(f"pool {pool['id']}: more than {SLOTS} members, {m['id']} left out")
                            continue
                        slots[m["id"]] = free[0]
                    want = (m["address"], m["protocol_port"], m.get("weight", 1), m.get("admin_state_up", True))
                    self.set(pool["id"], slots[m["id"]], want)
                    state[m["id"]] = {"pool": pool["id"], "backend": f"p_{pool['id']}",
                                      "server": f"m{slots[m['id']]}", "address": m["address"]}
        self.report_stats()
        with open(os.path.join(DIR, "state.json.tmp"), "w") as f:
            json.dump({"vips": {lb["name"]: lb["vips"] for lb in lbs}, "members": state}, f)
        os.replace(os.path.join(DIR, "state.json.tmp"), os.path.join(DIR, "state.json"))

    def report_stats(self):
        """HAProxy's listener counters to Octavia, as a provider driver reports them."""
        now = time.time()
        if STATS_EVERY <= 0 or now - self.stats_at < STATS_EVERY or not os.path.exists(STATS_SOCK):
            return
        self.stats_at = now
        listeners = list(frontend_stats().values())
        if listeners:
            answer = driver_agent(STATS_SOCK, {"listeners": listeners})
            if answer.get("status_code") != 200:
                log(f"octavia refused the statistics: {answer}")

    def set(self, pool, slot, want):
        key = (pool, slot)
        if self.applied.get(key) == want:
            return
        srv = f"p_{pool}/m{slot}"
        if want is None:
            out = runtime(f"set server {srv} state maint")
        else:
            addr, port, weight, up = want
            out = runtime(f"set server {srv} addr {addr} port {port}")
            out += runtime(f"set server {srv} weight {weight}")
            out += runtime(f"set server {srv} state {'ready' if up else 'maint'}")
        log(f"{srv} -> {want}: {out.strip()}")
        self.applied[key] = want

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None
            self.cfg = None
            log("haproxy stopped (no load balancer on lab-net)")


def main():
    b = Balancer()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    while not stop:
        try:
            b.sync()
        except Exception as e:   # an API restarting under a fault test: keep going
            log(f"sync failed: {e}")
            time.sleep(1)
        time.sleep(POLL)
    b.stop()


if __name__ == "__main__":
    main()
