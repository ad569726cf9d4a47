#!/usr/bin/python3
"""Idempotent data of the IPv6-only variant (tests/lab/README.md, "IPv6 only"):

- Keystone region `lab-v6` whose public endpoints are on [::1] (the relay `lab-v6relay` of
  up.sh carries [::1]:PORT to the service on 127.0.0.1:PORT), so a client of the `oslab-*-v6`
  clouds reaches Keystone and every API over IPv6 only;
- network `lab-net6` with one subnet, IPv6 only (fd00:5eed:6::/64, gateway on the lab bridge).
  It belongs to project admin and is not shared: `networks: auto` of project demo still finds
  lab-net alone, and admin-role credentials (oslab-admin-appcred-v6) may boot servers on it."""
import os, sys, requests
KS = "http://127.0.0.1:5000/v3"
NEU = "http://127.0.0.1:9696/v2.0"
REGION = "lab-v6"
NET_NAME, V6_CIDR = "lab-net6", "fd00:5eed:6::/64"
# the host's address on the lab bridge (the e2e controller's ingest listens there): a plain
# unicast address rather than Neutron's default, the subnet-router anycast fd00:5eed:6::
GATEWAY = "fd00:5eed:6::1"
# every API a client of the lab uses: service type -> port (the relay listens on [::1]:port)
PORTS = {"identity": 5000, "compute": 8774, "placement": 8778, "network": 9696, "image": 9292,
         "metric": 8041, "load-balancer": 9876}
SUFFIX = {"identity": "/v3/", "compute": "/v2.1"}
s = requests.Session()
r = s.post(KS + "/auth/tokens", json={"auth": {"identity": {"methods": ["password"], "password": {
    "user": {"name": "admin", "domain": {"name": "Default"}, "password": "admin"}}},
    "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}})
r.raise_for_status()
H = {"X-Auth-Token": r.headers["X-Subject-Token"]}
admin_project = r.json()["token"]["project"]["id"]


def call(method, url, **kw):
    r = s.request(method, url, headers=H, **kw)
    if r.status_code >= 300:
        sys.exit(f"{method} {url} -> {r.status_code} {r.text}")
    return r.json() if r.text else {}


if not any(x["id"] == REGION for x in call("GET", KS + "/regions")["regions"]):
    call("POST", KS + "/regions", json={"region": {"id": REGION, "description": "the lab's APIs on [::1]"}})
for stype, port in PORTS.items():
    svc = call("GET", KS + "/services", params={"type": stype})["services"][0]
    url = f"http://[::1]:{port}{SUFFIX.get(stype, '')}"
    have = [e for e in call("GET", KS + "/endpoints", params={"service_id": svc["id"]})["endpoints"]
            if e.get("region_id") == REGION and e["interface"] == "public"]
    if not have:
        call("POST", KS + "/endpoints", json={"endpoint": {"service_id": svc["id"], "interface": "public",
                                                            "url": url, "region_id": REGION}})

nets = call("GET", NEU + "/networks", params={"name": NET_NAME})["networks"]
net = nets[0] if nets else call("POST", NEU + "/networks", json={"network": {
    "name": NET_NAME, "project_id": admin_project, "shared": False,
    "provider:network_type": "flat", "provider:physical_network": "lab6"}})["network"]
if not call("GET", NEU + "/subnets", params={"network_id": net["id"]})["subnets"]:
    call("POST", NEU + "/subnets", json={"subnet": {
        "name": NET_NAME + "-v6", "network_id": net["id"], "project_id": admin_project, "ip_version": 6,
        "cidr": V6_CIDR, "gateway_ip": GATEWAY, "ipv6_address_mode": "dhcpv6-stateful",
        "ipv6_ra_mode": "dhcpv6-stateful", "enable_dhcp": True}})
print(f"region {REGION} on [::1]; network {NET_NAME} {net['id']} ({V6_CIDR}, IPv6 only)")
