#!/usr/bin/python3
"""Places on lab-net for tests: namespaces for remote agents (`fra`, `nyc`) and the load
generator, each with its own addresses (a Neutron port named `lab-place-NAME` reserves them, so
no server gets them) and its own path to the rest of the lab, which can be degraded.

  places.py up NAME...                 namespace sloop-p-NAME (prints NAME v4 v6)
  places.py loss NAME PCT v4|v6|both [--except ADDR...]
                                       drop PCT % of the packets NAME sends (iptables/ip6tables
                                       `statistic`; this kernel has no netem), except to ADDR
                                       (the controller's ingest, so reports still arrive)
  places.py restore NAME               no loss
  places.py down NAME...               processes killed, namespace, veth and port removed
  places.py cleanup                    every place of this lab (after a crashed test)
"""
import json
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labapi  # noqa: E402
import netns  # noqa: E402

DIR = os.path.join(labapi.LAB, "places")


def ns_of(name):
    return f"{netns.NS_PREFIX}p-{name}"


def veth_of(name):
    return f"{netns.VETH_PREFIX}p{name[:11]}"


def up(api, name):
    net = api.get("network", "/networks", params={"name": os.environ.get("LAB_NET", "lab-net")})["networks"][0]
    subnets = {s["id"]: s for s in api.get("network", "/subnets", params={"network_id": net["id"]})["subnets"]}
    pname = f"lab-place-{name}"
    ports = api.get("network", "/ports", params={"network_id": net["id"], "name": pname})["ports"]
    port = ports[0] if ports else api.call("POST", "network", "/ports", body={"port": {
        "network_id": net["id"], "name": pname, "device_owner": "lab:place"}})["port"]
    addrs = [netns.prefixed(ip["ip_address"], subnets[ip["subnet_id"]]["cidr"]) for ip in port["fixed_ips"]]
    gws = [subnets[ip["subnet_id"]]["gateway_ip"] for ip in port["fixed_ips"] if subnets[ip["subnet_id"]].get("gateway_ip")]
    netns.create(ns_of(name), veth_of(name), addrs, gws, port["mac_address"])
    os.makedirs(DIR, exist_ok=True)
    with open(os.path.join(DIR, f"{name}.json"), "w") as f:
        json.dump({"namespace": ns_of(name), "port": port["id"], "addresses": addrs}, f)
    v4 = next((a.split("/")[0] for a in addrs if "." in a), "-")
    v6 = next((a.split("/")[0] for a in addrs if ":" in a), "-")
    print(name, v4, v6)


def down(api, name):
    ns = ns_of(name)
    for pid in netns.pids_in(ns):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    netns.delete(ns, veth_of(name))
    f = os.path.join(DIR, f"{name}.json")
    port = None
    if os.path.exists(f):
        port = json.load(open(f))["port"]
        os.unlink(f)
    if api is not None:
        ports = [port] if port else [p["id"] for p in api.get("network", "/ports", params={
            "name": f"lab-place-{name}"})["ports"]]
        for p in ports:
            api.call("DELETE", "network", f"/ports/{p}", ok404=True)


def loss(name, pct, family, keep):
    ns = ns_of(name)
    restore(name)
    tools = {"v4": ["iptables"], "v6": ["ip6tables"], "both": ["iptables", "ip6tables"]}[family]
    for tool in tools:
        for addr in keep:
            if (":" in addr) == (tool == "ip6tables"):
                netns.sh("ip", "netns", "exec", ns, tool, "-A", "OUTPUT", "-d", addr, "-j", "ACCEPT")
        netns.sh("ip", "netns", "exec", ns, tool, "-A", "OUTPUT", "-o", "eth0", "-m", "statistic",
                 "--mode", "random", "--probability", str(pct / 100.0), "-j", "DROP")


def restore(name):
    for tool in ("iptables", "ip6tables"):
        netns.sh("ip", "netns", "exec", ns_of(name), tool, "-F", "OUTPUT")


def main(argv):
    if not argv:
        raise SystemExit(__doc__)
    cmd, rest = argv[0], argv[1:]
    if cmd == "up":
        api = labapi.Api()
        for n in rest:
            up(api, n)
    elif cmd == "down":
        api = labapi.Api()
        for n in rest:
            down(api, n)
    elif cmd == "cleanup":
        names = {ns[len(netns.NS_PREFIX) + 2:] for ns in netns.namespaces() if ns.startswith(f"{netns.NS_PREFIX}p-")}
        if os.path.isdir(DIR):
            names |= {f[:-5] for f in os.listdir(DIR) if f.endswith(".json")}
        try:
            api = labapi.Api()
            api.auth()
        except Exception:      # the lab may already be down: namespaces still go
            api = None
        for n in sorted(names):
            down(api, n)
    elif cmd == "loss" and len(rest) >= 3:
        keep = rest[rest.index("--except") + 1:] if "--except" in rest else []
        loss(rest[0], float(rest[1]), rest[2], keep)
    elif cmd == "restore" and len(rest) == 1:
        restore(rest[0])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
