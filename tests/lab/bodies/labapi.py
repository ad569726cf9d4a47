"""The lab's OpenStack APIs for the lab's own daemons (watcher.py, lbsync.py): admin password
auth against Keystone, endpoints from the token's catalog (so an IPv6-only lab with `[::1]`
endpoints works unchanged), JSON GET/POST with a re-auth on 401. Never logs the token."""
import os
import time

import requests

LAB = os.environ.get("LAB_DIR", "/tmp/sloop-lab")
KS = os.environ.get("OS_AUTH_URL", "http://127.0.0.1:5000/v3")


class Api:
    def __init__(self, user="admin", password="admin", project="admin"):
        self.cred = (user, password, project)
        self.s = requests.Session()
        self.token, self.urls, self.got = None, {}, 0.0

    def auth(self):
        user, pw, project = self.cred
        r = self.s.post(KS + "/auth/tokens", timeout=10, json={"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": user, "domain": {"name": "Default"}, "password": pw}}},
            "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}})
        r.raise_for_status()
        self.token, self.got = r.headers["X-Subject-Token"], time.time()
        self.urls = {}
        for svc in r.json()["token"]["catalog"]:
            for ep in svc["endpoints"]:
                if ep["interface"] == "public":
                    self.urls[svc["type"]] = ep["url"].rstrip("/")

    def call(self, method, service, path, body=None, params=None, ok404=False):
        if self.token is None or time.time() - self.got > 3000:
            self.auth()
        for attempt in (0, 1):
            base = self.urls[service]
            if service == "network" and not base.endswith("/v2.0"):
                base += "/v2.0"
            if service == "load-balancer" and not base.endswith("/v2"):
                base += "/v2"
            h = {"X-Auth-Token": self.token, "X-OpenStack-Nova-API-Version": "2.90"}
            r = self.s.request(method, base + path, json=body, params=params, headers=h, timeout=30)
            if r.status_code == 401 and attempt == 0:
                self.auth()
                continue
            if r.status_code == 404 and ok404:
                return None
            if r.status_code >= 300:
                raise RuntimeError(f"{method} {service}{path}: HTTP {r.status_code}: {r.text[:200]}")
            return r.json() if r.content else {}

    def get(self, service, path, **kw):
        return self.call("GET", service, path, **kw)
