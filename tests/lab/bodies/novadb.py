"""What the hypervisor side knows of Nova's servers, read from Nova's and Neutron's databases.

The fake driver boots nothing, so the lab's bodies play the hypervisor; a hypervisor learns of
its instances from nova-compute, not by polling the public API. Reading Nova's cell database
(`instances`, `instance_actions`, `instance_metadata`, `instance_extra`) and Neutron's (`ports`,
`ipallocations`) costs milliseconds, where `GET /servers/detail` costs seconds on a loaded lab
and takes an API worker away from the controller under test. The rows are turned into the
fields of the API's server JSON that the watcher uses (status as the API derives it from
vm_state and task_state, task_state, power_state, updated, name, flavor, host, image, metadata).

The connections come from the lab's nova.conf and neutron.conf (`[database] connection`)."""
import configparser
import json
import os
from urllib.parse import urlsplit

import psycopg2
import pymysql

LAB = os.environ.get("LAB_DIR", "/tmp/sloop-lab")

# nova/api/openstack/common.py `_STATE_MAP`, the part the lab's servers reach
_TASK_STATUS = {
    "rebooting": "REBOOT", "reboot_pending": "REBOOT", "reboot_started": "REBOOT",
    "rebooting_hard": "HARD_REBOOT", "reboot_pending_hard": "HARD_REBOOT",
    "reboot_started_hard": "HARD_REBOOT",
    "rebuilding": "REBUILD", "rebuild_block_device_mapping": "REBUILD", "rebuild_spawning": "REBUILD",
    "migrating": "MIGRATING", "resize_prep": "RESIZE", "resize_migrating": "RESIZE",
    "resize_migrated": "RESIZE", "resize_finish": "RESIZE",
}
_VM_STATUS = {"active": "ACTIVE", "building": "BUILD", "stopped": "SHUTOFF", "error": "ERROR",
              "paused": "PAUSED", "suspended": "SUSPENDED", "rescued": "RESCUE",
              "resized": "VERIFY_RESIZE", "soft-delete": "SOFT_DELETED", "deleted": "DELETED",
              "shelved": "SHELVED", "shelved_offloaded": "SHELVED_OFFLOADED"}


def status_of(vm_state, task_state):
    """The API's `status` for a server's vm_state and task_state."""
    if vm_state == "active" and task_state in _TASK_STATUS:
        return _TASK_STATUS[task_state]
    if vm_state in ("stopped", "error") and task_state in ("rebooting", "rebooting_hard",
                                                           "reboot_started_hard", "reboot_pending_hard"):
        return _TASK_STATUS[task_state]
    if vm_state == "error" and task_state in ("rebuilding", "rebuild_spawning"):
        return "REBUILD"
    return _VM_STATUS.get(vm_state, vm_state.upper() if vm_state else "UNKNOWN")


def _connect(service):
    cfg = configparser.ConfigParser(interpolation=None, strict=False)
    cfg.read(os.path.join(LAB, "etc", service, f"{service}.conf"))
    url = cfg["database"]["connection"]
    u = urlsplit(url.split("+", 1)[0] + url[url.index("://"):])
    if url.startswith("mysql"):
        return pymysql.connect(host=u.hostname, port=u.port or 3306, user=u.username,
                               password=u.password, database=u.path.lstrip("/"),
                               connect_timeout=5, autocommit=True)
    conn = psycopg2.connect(host=u.hostname, port=u.port or 5432, user=u.username,
                            password=u.password, dbname=u.path.lstrip("/"), connect_timeout=5)
    conn.autocommit = True
    return conn


class NovaDb:
    def __init__(self):
        self.nova, self.neutron, self.octavia = None, None, None

    def _query(self, which, sql, args=()):
        for attempt in (0, 1):
            try:
                if getattr(self, which) is None:
                    setattr(self, which, _connect(which))
                with getattr(self, which).cursor() as cur:
                    cur.execute(sql, args)
                    return cur.fetchall()
            except (psycopg2.OperationalError, pymysql.err.OperationalError):  # restarted: once more
                setattr(self, which, None)
                if attempt:
                    raise

    def servers(self):
        """Server ID -> the API fields the watcher uses, for every server not deleted."""
        rows = self._query("nova", """
            SELECT i.uuid, i.display_name, i.vm_state, i.task_state, i.power_state,
                   COALESCE(i.updated_at, i.created_at), i.host, i.image_ref, e.flavor
            FROM instances i LEFT JOIN instance_extra e ON e.instance_uuid = i.uuid
            WHERE i.deleted = 0""")
        meta = {}
        for uuid, key, value in self._query("nova", """
                SELECT instance_uuid, key, value FROM instance_metadata WHERE deleted = 0"""):
            meta.setdefault(uuid, {})[key] = value
        out = {}
        for uuid, name, vm, task, power, updated, host, image, flavor in rows:
            f = (json.loads(flavor).get("cur") or {}).get("nova_object.data", {}) if flavor else {}
            out[uuid] = {"id": uuid, "name": name or "", "status": status_of(vm, task),
                         "OS-EXT-STS:task_state": task, "OS-EXT-STS:power_state": power,
                         "updated": updated.isoformat(timespec="microseconds"),
                         "OS-EXT-SRV-ATTR:host": host, "image": {"id": image} if image else "",
                         "flavor": {"id": f.get("flavorid"), "original_name": f.get("name", "")},
                         "metadata": meta.get(uuid, {})}
        return out

    def actions(self, uuid):
        """The server's instance actions (request_id, action, start_time), as the API lists them."""
        rows = self._query("nova", """
            SELECT request_id, action, start_time FROM instance_actions
            WHERE instance_uuid = %s AND deleted = 0""", (uuid,))
        return [{"request_id": r, "action": a, "start_time": t.isoformat() if t else ""} for r, a, t in rows]

    def port_addresses(self, network_id, address):
        """Every fixed address of the Neutron port on the network that holds `address`."""
        return [ip for (ip,) in self._query("neutron", """
            SELECT ip_address FROM ipallocations WHERE port_id IN (
                SELECT port_id FROM ipallocations WHERE network_id = %s AND ip_address = %s)""",
                                            (network_id, address))]

    def load_balancers(self):
        """Octavia's load balancers not deleted, with their VIP, listeners, pools and members
        (the fields of the API's JSON that lbsync.py uses)."""
        q = lambda sql: self._query("octavia", sql)  # noqa: E731
        lbs = {i: {"id": i, "name": n or "", "vip_address": a, "vip_port_id": p, "listeners": [], "pools": []}
               for i, n, a, p in q("""SELECT l.id, l.name, v.ip_address, v.port_id FROM load_balancer l
                                      JOIN vip v ON v.load_balancer_id = l.id
                                      WHERE l.provisioning_status NOT IN ('DELETED', 'PENDING_DELETE')""")}
        for i, lb, proto, port, pool in q("""SELECT id, load_balancer_id, protocol, protocol_port, default_pool_id
                                            FROM listener WHERE provisioning_status <> 'DELETED'"""):
            if lb in lbs:
                lbs[lb]["listeners"].append({"id": i, "protocol": proto, "protocol_port": port,
                                             "default_pool_id": pool})
        pools = {}
        for i, lb, proto, algo in q("""SELECT id, load_balancer_id, protocol, lb_algorithm FROM pool
                                      WHERE provisioning_status <> 'DELETED'"""):
            if lb in lbs:
                pools[i] = {"id": i, "protocol": proto, "lb_algorithm": algo, "members": []}
                lbs[lb]["pools"].append(pools[i])
        for i, pool, addr, port, weight, enabled in q("""SELECT id, pool_id, ip_address, protocol_port, weight,
                                                         enabled FROM member
                                                         WHERE provisioning_status <> 'DELETED'"""):
            if pool in pools:
                pools[pool]["members"].append({"id": i, "address": addr, "protocol_port": port,
                                               "weight": 1 if weight is None else weight,
                                               "admin_state_up": bool(enabled)})
        return list(lbs.values())

    def ports(self, network_id):
        """Device ID -> its compute port on the network: mac_address and fixed_ips."""
        out = {}
        for device, mac, ip, subnet in self._query("neutron", """
                SELECT p.device_id, p.mac_address, a.ip_address, a.subnet_id
                FROM ports p JOIN ipallocations a ON a.port_id = p.id
                WHERE p.network_id = %s AND p.device_owner LIKE 'compute:%%'""", (network_id,)):
            port = out.setdefault(device, {"mac_address": mac, "fixed_ips": []})
            port["fixed_ips"].append({"ip_address": ip, "subnet_id": subnet})
        return out
