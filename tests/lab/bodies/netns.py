"""Network namespaces on the lab bridge. The bridge carries lab-net's subnets (fd00:5eed::/64,
10.77.0.0/24) and holds their gateway addresses on the host, so the controller, the local probe
engine and HAProxy reach every body directly; bodies, agents and the load generator are
namespaces joined to it by veth pairs. All names carry the lab's prefix so cleanup finds them."""
import ipaddress
import subprocess

BRIDGE = "sloopbr0"
NS_PREFIX = "sloop-"          # namespaces: sloop-b-<server8> (bodies), sloop-a-<loc> (agents), sloop-lg
VETH_PREFIX = "slv"           # host side of each veth pair (<= 15 characters)


def sh(*cmd, check=True):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {r.stderr.strip()}")
    return r


def ensure_bridge(gateways):
    """The bridge with the subnets' gateway addresses (e.g. ['10.77.0.1/24', 'fd00:5eed::1/64'])."""
    if sh("ip", "link", "show", BRIDGE, check=False).returncode != 0:
        sh("ip", "link", "add", BRIDGE, "type", "bridge")
        sh("sysctl", "-qw", f"net.ipv6.conf.{BRIDGE}.accept_dad=0", check=False)
    sh("ip", "link", "set", BRIDGE, "up")
    have = sh("ip", "addr", "show", "dev", BRIDGE).stdout
    for gw in gateways:
        if f" {gw} " not in have:
            extra = ["nodad"] if ":" in gw else []
            sh("ip", "addr", "replace", gw, "dev", BRIDGE, *extra)


def add_host_address(addr, prefix):
    """An address the host answers on (a load balancer's VIP), on the bridge."""
    extra = ["nodad"] if ":" in addr else []
    sh("ip", "addr", "replace", f"{addr}/{prefix}", "dev", BRIDGE, *extra)


def del_host_address(addr, prefix):
    sh("ip", "addr", "del", f"{addr}/{prefix}", "dev", BRIDGE, check=False)


def host_addresses():
    """The single addresses (/32, /128) on the bridge: the VIPs add_host_address put there."""
    out = sh("ip", "addr", "show", "dev", BRIDGE, check=False).stdout
    addrs = [w.split()[1] for w in out.splitlines() if w.strip().startswith(("inet ", "inet6 "))]
    return [a.split("/")[0] for a in addrs if a.endswith(("/32", "/128"))]


def namespaces():
    out = sh("ip", "netns", "list").stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(NS_PREFIX)]


def create(ns, veth, addrs, gateways, mac=None):
    """Namespace `ns` joined to the bridge by `veth` (host side), eth0 inside with `addrs`
    (['10.77.0.54/24', 'fd00:5eed::18b/64']) and default routes via `gateways`."""
    delete(ns, veth)
    sh("ip", "netns", "add", ns)
    sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
    sh("ip", "link", "set", veth, "master", BRIDGE, "up")
    sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0",
       "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.eth0.accept_dad=0")
    sh("ip", "-n", ns, "link", "set", "lo", "up")
    if mac:
        sh("ip", "-n", ns, "link", "set", "eth0", "address", mac)
    sh("ip", "-n", ns, "link", "set", "eth0", "up")
    for a in addrs:
        extra = ["nodad"] if ":" in a else []
        sh("ip", "-n", ns, "addr", "add", a, "dev", "eth0", *extra)
    for gw in gateways:
        fam = "-6" if ":" in gw else "-4"
        sh("ip", "-n", ns, fam, "route", "replace", "default", "via", gw)


def delete(ns, veth=None):
    """Removes `ns` (its processes must be gone) and the host side of its veth."""
    if veth:
        sh("ip", "link", "del", veth, check=False)
    sh("ip", "netns", "del", ns, check=False)


def pids_in(ns):
    r = sh("ip", "netns", "pids", ns, check=False)
    return [int(p) for p in r.stdout.split()] if r.returncode == 0 else []


def prefixed(addr, cidr):
    return f"{addr}/{ipaddress.ip_network(cidr).prefixlen}"
