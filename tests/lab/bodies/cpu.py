"""Each body's measured CPU time, posted to Gnocchi as the cumulative `cpu` meter (ns) of its
`instance` resource, in the shape ceilometer-polling gives it (archive policy
ceilometer-low-rate, unit ns). The fake Nova driver has no hypervisor inspector, so this is the
one thing the lab posts in Ceilometer's place; the resource itself (and its metadata) comes from
real Ceilometer when the `ceilometer` phase runs. Every LAB_CPU_GRANULARITY seconds (0 = off)."""
import os
import time

GRANULARITY = float(os.environ.get("LAB_CPU_GRANULARITY", 0))
TICK = os.sysconf("SC_CLK_TCK")


def cpu_ns(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int((int(fields[11]) + int(fields[12])) * 1e9 / TICK)


class Meter:
    def __init__(self, api):
        self.api, self.next, self.total = api, 0.0, {}

    def tick(self, now, bodies):
        if GRANULARITY <= 0 or now < self.next:
            return
        self.next = now + GRANULARITY
        batch = {}
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
        for sid, b in bodies.items():
            pid, last, base = self.total.get(sid, (None, 0, 0))
            if b.proc is not None and b.proc.poll() is None:
                if b.proc.pid != pid:   # a new boot: the counter goes on from the old one's total
                    pid, base, last = b.proc.pid, base + last, 0
                try:
                    last = cpu_ns(pid)
                except (FileNotFoundError, ProcessLookupError):
                    pass
                self.total[sid] = (pid, last, base)
            if base + last == 0:
                continue
            batch[sid] = {"cpu": {"measures": [{"timestamp": ts, "value": base + last}],
                                  "archive_policy_name": "ceilometer-low-rate", "unit": "ns"}}
        if batch:
            # only into resources that exist (created by Ceilometer); unknown ones are ignored
            self.api.call("POST", "metric", "/v1/batch/resources/metrics/measures",
                          body=batch, params={"create_metrics": "true"})
