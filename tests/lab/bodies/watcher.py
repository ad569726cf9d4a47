#!/usr/bin/python3
"""The lab's bodies: one network namespace with a small web service (body.py) for every Nova
server on lab-net or lab-net6, following what Nova says about it.

- A server's namespace (its Neutron port's addresses and MAC, joined to the lab bridge) exists
  from the first poll that sees the server with a port; the service in it starts the
  boot-to-serve time after Nova reports the server ACTIVE and running.
- SHUTOFF, ERROR, a lost hypervisor instance (power state not RUNNING) or delete stop it; a
  delete also removes the namespace.
- A reboot, rebuild or start (seen in the server's instance actions, so a quick REBOOT -> ACTIVE
  between two polls is not missed) kills the service and starts a fresh one the reboot or
  rebuild delay after the server is ACTIVE again, with its faults cleared (a new boot).
- The end of a live migration pauses the service (SIGSTOP) briefly, as the switch-over does.
- A process that died (the crash fault) stays dead until such a reboot.

State lives under $LAB_DIR/bodies/<server id>/ (pid, fault, state.json, body.log); at start the
watcher removes every body namespace it finds (a crashed run's), and down.sh does the same.

Settings (environment): LAB_POLL (0.25 s), LAB_BOOT_TO_SERVE (1.0 s), LAB_REBOOT_DELAY (2.0 s),
LAB_REBUILD_DELAY (4.0 s), LAB_MIGRATION_PAUSE (0.3 s), LAB_BODY_CONCURRENCY (2),
LAB_BODY_SERVICE_MS (25), LAB_CPU_GRANULARITY (s, 0 = off; see cpu.py).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cpu  # noqa: E402
import labapi  # noqa: E402
import netns  # noqa: E402
import novadb  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
STATE = os.path.join(labapi.LAB, "bodies")
env = lambda k, d: float(os.environ.get(k, d))  # noqa: E731
POLL = env("LAB_POLL", 0.25)
BOOT_TO_SERVE = env("LAB_BOOT_TO_SERVE", 1.0)
DELAY = {"reboot": env("LAB_REBOOT_DELAY", 2.0), "rebuild": env("LAB_REBUILD_DELAY", 4.0),
         "start": env("LAB_BOOT_TO_SERVE", 1.0), "evacuate": env("LAB_REBUILD_DELAY", 4.0)}
MIGRATION_PAUSE = env("LAB_MIGRATION_PAUSE", 0.3)
CONCURRENCY = int(env("LAB_BODY_CONCURRENCY", 2))
SERVICE_MS = env("LAB_BODY_SERVICE_MS", 25)


def log(msg):
    print(f"{time.strftime('%H:%M:%S')}.{int(time.time() * 1000) % 1000:03d} {msg}", flush=True)


class Body:
    def __init__(self, sid, name):
        self.id, self.name = sid, name
        self.dir = os.path.join(STATE, sid)
        self.ns, self.veth = f"{netns.NS_PREFIX}b-{sid[:8]}", f"{netns.VETH_PREFIX}{sid[:8]}"
        self.proc = None
        self.addrs = []
        self.updated = None
        self.seen_actions = None       # request ids of the instance actions already handled
        self.restart_delay = BOOT_TO_SERVE
        self.serve_at = None
        self.dead = False              # died (crash): stays down until a reboot
        self.migrating = False
        self.serving_since = None
        os.makedirs(self.dir, exist_ok=True)

    def plumb(self, port, subnets):
        addrs = [netns.prefixed(ip["ip_address"], subnets[ip["subnet_id"]]["cidr"])
                 for ip in port["fixed_ips"] if ip["subnet_id"] in subnets]
        gws = [subnets[ip["subnet_id"]]["gateway_ip"] for ip in port["fixed_ips"]
               if ip["subnet_id"] in subnets and subnets[ip["subnet_id"]].get("gateway_ip")]
        netns.create(self.ns, self.veth, addrs, gws, port.get("mac_address"))
        self.addrs = addrs
        log(f"{self.id} ({self.name}): namespace {self.ns} with {' '.join(addrs)}")
        self.save()

    def start(self):
        fault = os.path.join(self.dir, "fault")
        try:        # a new process counts its busy time from zero (cpu.py carries the total on)
            os.unlink(os.path.join(self.dir, "busy_ns"))
        except FileNotFoundError:
            pass
        logf = open(os.path.join(self.dir, "body.log"), "ab")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, sys.executable, os.path.join(HERE, "body.py"),
             "--id", self.id, "--name", self.name, "--concurrency", str(CONCURRENCY),
             "--service-ms", str(SERVICE_MS), "--fault", fault,
             "--busy-file", os.path.join(self.dir, "busy_ns")],
            stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
            start_new_session=True)   # outlives a restart of the watcher (adopt() takes it back)
        self.serving_since = time.time()
        log(f"{self.id} ({self.name}): serving, pid {self.proc.pid}")
        self.save()

    def kill(self, why):
        if self.proc is not None:
            try:
                self.proc.kill()       # SIGKILL also ends a stopped (hung) process
            except ProcessLookupError:
                pass
            self.proc.wait()
            self.proc = None
            log(f"{self.id} ({self.name}): stopped ({why})")
        self.serving_since = None
        self.save()

    def reboot(self, kind):
        """A new boot: the old process goes, faults are cleared, a new one starts later."""
        self.kill(kind)
        self.dead = False
        self.serve_at = None
        self.restart_delay = DELAY.get(kind, BOOT_TO_SERVE)
        for f in ("fault",):
            try:
                os.unlink(os.path.join(self.dir, f))
            except FileNotFoundError:
                pass

    def actions(self, db):
        """New instance actions since the last look (oldest first)."""
        acts = db.actions(self.id)
        ids = {a["request_id"] for a in acts}
        if self.seen_actions is None:
            self.seen_actions = ids
            return []
        new = [a for a in acts if a["request_id"] not in self.seen_actions]
        self.seen_actions |= ids
        return sorted(new, key=lambda a: a.get("start_time") or "")

    def follow(self, db, s, now):
        if s["updated"] != self.updated:
            self.updated = s["updated"]
            for a in self.actions(db):
                kind = a["action"]
                if kind in ("reboot", "rebuild", "start", "evacuate"):
                    log(f"{self.id} ({self.name}): nova {kind}")
                    self.reboot(kind)
                elif kind == "live-migration":
                    self.migrating = True
        if self.proc is not None and self.proc.poll() is not None:
            log(f"{self.id} ({self.name}): process exited ({self.proc.returncode}), down until a reboot")
            self.proc, self.dead, self.serving_since = None, True, None
            self.save()
        status, task = s["status"], s.get("OS-EXT-STS:task_state")
        running = s.get("OS-EXT-STS:power_state") == 1
        if status in ("REBOOT", "HARD_REBOOT", "REBUILD"):
            self.reboot({"REBUILD": "rebuild"}.get(status, "reboot"))
            return
        if status == "MIGRATING":
            self.migrating = True
        if status not in ("ACTIVE", "MIGRATING") or not running:
            if self.proc is not None:
                self.kill(f"{status}, power state {s.get('OS-EXT-STS:power_state')}")
            self.serve_at = None
            return
        if status == "ACTIVE" and task is None and self.migrating:
            self.migrating = False
            if self.proc is not None:
                log(f"{self.id} ({self.name}): live migration done, paused {MIGRATION_PAUSE}s")
                os.kill(self.proc.pid, signal.SIGSTOP)
                time.sleep(MIGRATION_PAUSE)
                os.kill(self.proc.pid, signal.SIGCONT)
        if self.proc is None and not self.dead and status == "ACTIVE":
            if self.serve_at is None:
                self.serve_at = now + self.restart_delay
            if now >= self.serve_at:
                self.start()
                self.serve_at = None

    def remove(self):
        self.kill("deleted")
        netns.delete(self.ns, self.veth)
        shutil.rmtree(self.dir, ignore_errors=True)
        log(f"{self.id} ({self.name}): removed")

    def save(self):
        st = {"id": self.id, "name": self.name, "namespace": self.ns, "addresses": self.addrs,
              "pid": self.proc.pid if self.proc else None, "serving_since": self.serving_since}
        tmp = os.path.join(self.dir, "state.json.tmp")
        with open(tmp, "w") as f:
            json.dump(st, f)
        os.replace(tmp, os.path.join(self.dir, "state.json"))
        pidf = os.path.join(self.dir, "pid")
        if self.proc:
            with open(pidf, "w") as f:
                f.write(str(self.proc.pid))
        elif os.path.exists(pidf):
            os.unlink(pidf)


class Adopted:
    """A body process a previous watcher started (a restart of the watcher must not restart
    every server's service): the parts of Popen the watcher uses."""

    def __init__(self, pid):
        self.pid, self.returncode = pid, None

    def poll(self):
        if self.returncode is None:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                self.returncode = -signal.SIGKILL
        return self.returncode

    def kill(self):
        os.kill(self.pid, signal.SIGKILL)

    def wait(self, timeout=5.0):
        end = time.time() + timeout
        while self.poll() is None and time.time() < end:
            time.sleep(0.05)
        return self.returncode


def adopt():
    """The bodies a previous watcher left running (state.json and namespace present), by server
    ID; every other body namespace is removed."""
    bodies = {}
    names = set(netns.namespaces())
    for sid in os.listdir(STATE) if os.path.isdir(STATE) else []:
        try:
            with open(os.path.join(STATE, sid, "state.json")) as f:
                st = json.load(f)
        except (OSError, ValueError):
            continue
        if st.get("namespace") not in names:
            continue
        b = Body(sid, st.get("name", ""))
        b.addrs = st.get("addresses", [])
        if st.get("pid"):
            b.proc = Adopted(int(st["pid"]))
            b.serving_since = st.get("serving_since")
            if b.proc.poll() is not None:       # died while no watcher looked: a crash
                b.proc, b.dead, b.serving_since = None, True, None
        bodies[sid] = b
        log(f"{sid} ({b.name}): adopted, pid {st.get('pid')}")
    keep = {b.ns for b in bodies.values()}
    for ns in names:
        if ns.startswith(f"{netns.NS_PREFIX}b-") and ns not in keep:
            remove_namespace(ns)
    for sid in os.listdir(STATE) if os.path.isdir(STATE) else []:
        if sid not in bodies:
            shutil.rmtree(os.path.join(STATE, sid), ignore_errors=True)
    return bodies


def remove_namespace(ns):
    for pid in netns.pids_in(ns):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    netns.delete(ns, f"{netns.VETH_PREFIX}{ns[len(netns.NS_PREFIX) + 2:]}")


def cleanup():
    """Removes every body namespace and its processes (down.sh, after the watcher stopped)."""
    for ns in netns.namespaces():
        if ns.startswith(f"{netns.NS_PREFIX}b-"):
            remove_namespace(ns)
    shutil.rmtree(STATE, ignore_errors=True)


def main():
    if sys.argv[1:] == ["cleanup"]:
        cleanup()
        return
    api = labapi.Api()
    # lab-net (both families) and, where `up.sh ipv6` made it, lab-net6 (IPv6 only): one bridge
    # carries every subnet of them and holds their gateways.
    net_names = os.environ.get("LAB_NETS", "lab-net lab-net6").split()
    nets = [n for name in net_names for n in api.get("network", "/networks", params={"name": name})["networks"]]
    subnets = {s["id"]: s for n in nets
               for s in api.get("network", "/subnets", params={"network_id": n["id"]})["subnets"]}
    gws = [netns.prefixed(s["gateway_ip"], s["cidr"]) for s in subnets.values() if s.get("gateway_ip")]
    os.makedirs(STATE, exist_ok=True)
    netns.ensure_bridge(gws)
    log(f"watching {' '.join(n['name'] for n in nets)} ({' '.join(s['cidr'] for s in subnets.values())}), "
        f"bridge {netns.BRIDGE}")
    bodies, ports, ports_at = adopt(), {}, 0.0
    servers = {}
    db = novadb.NovaDb()
    meter = cpu.Meter(labapi.Api(), lambda: (dict(bodies), dict(servers)))
    meter.start(log)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    while not stop:
        now = time.time()
        try:
            # Nova's and Neutron's own records (novadb.py): milliseconds, and no API worker taken
            # from the controller under test.
            servers = db.servers()
            if now - ports_at > 5 or any(sid not in ports and sid not in bodies for sid in servers):
                ports, ports_at = {sid: p for n in nets for sid, p in db.ports(n["id"]).items()}, now
            for sid, s in servers.items():
                if sid not in bodies:
                    if sid not in ports:
                        continue
                    b = Body(sid, s["name"])
                    b.plumb(ports[sid], subnets)
                    bodies[sid] = b
                bodies[sid].follow(db, s, now)
            for sid in [sid for sid in bodies if sid not in servers]:
                bodies.pop(sid).remove()
        except Exception as e:  # the lab's APIs restart under some tests: keep going
            log(f"poll failed: {e}")
            time.sleep(1)
        time.sleep(POLL)
    # The bodies keep serving: the next watcher adopts them, down.sh removes them (cleanup).
    log("watcher stopping; bodies left to the next watcher or to down.sh")


if __name__ == "__main__":
    main()
