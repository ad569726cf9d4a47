#!/usr/bin/env bash
# sloop's probe engine side by side with Prometheus blackbox_exporter, interleaved, against the
# same loopback nginx (127.0.0.1 and ::1): CPU-seconds per 1000 probes at the same rate, per
# kind, and the ratio; then sloop with 1000 targets at 1 s for RSS. Prints figures, asserts
# nothing.
#
#   tests/bench/probes-vs-blackbox.sh            # RATE=200 DURATION=10 ROUNDS=3
#   SLOOP=target/release/sloop-bench KINDS="http-v4 tcp" tests/bench/probes-vs-blackbox.sh
#
# blackbox_exporter's CPU is read from /proc/PID/stat of the exporter itself (not of the
# driver that calls /probe); sloop's from its own /proc/self/stat (`sloop-bench probes`).
set -euo pipefail

RATE=${RATE:-200}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
KINDS=${KINDS:-"http-v4 http-v6 tcp icmp"}
TARGETS=${TARGETS:-1000}
HERE=$(cd "$(dirname "$0")/../.." && pwd)
SLOOP=${SLOOP:-$HERE/target/release/sloop-bench}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
need() { # command, Debian package
  command -v "$1" >/dev/null 2>&1 && return
  echo "installing $2 ..." >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$2" >/dev/null
}
need nginx nginx
need prometheus-blackbox-exporter prometheus-blackbox-exporter
command -v python3 >/dev/null || need python3 python3
if [ ! -x "$SLOOP" ]; then
  (cd "$HERE" && cargo build --release --bin sloop-bench)
fi

DIR=$(mktemp -d /tmp/sloop-probe-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
BPORT=$(free_port)

mkdir -p "$DIR/tmp"
cat >"$DIR/nginx.conf" <<NGINX
worker_processes 1;
pid $DIR/nginx.pid;
error_log $DIR/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $DIR/tmp/body; proxy_temp_path $DIR/tmp/proxy;
  fastcgi_temp_path $DIR/tmp/fcgi; uwsgi_temp_path $DIR/tmp/uwsgi; scgi_temp_path $DIR/tmp/scgi;
  server {
    listen 127.0.0.1:$PORT;
    listen [::1]:$PORT;
    location / { return 200 "ok\n"; }
  }
}
NGINX
nginx -p "$DIR" -c "$DIR/nginx.conf" -g 'daemon off;' &
PIDS+=($!)

cat >"$DIR/blackbox.yml" <<YAML
modules:
  http-v4: {prober: http, timeout: 1s, http: {preferred_ip_protocol: ip4, ip_protocol_fallback: false}}
  http-v6: {prober: http, timeout: 1s, http: {preferred_ip_protocol: ip6, ip_protocol_fallback: false}}
  tcp: {prober: tcp, timeout: 1s, tcp: {preferred_ip_protocol: ip4, ip_protocol_fallback: false}}
  icmp: {prober: icmp, timeout: 1s, icmp: {preferred_ip_protocol: ip4, ip_protocol_fallback: false}}
YAML
prometheus-blackbox-exporter --config.file="$DIR/blackbox.yml" --web.listen-address="127.0.0.1:$BPORT" \
  --log.level=warn >"$DIR/blackbox.log" 2>&1 &
BB=$!
PIDS+=("$BB")

for _ in $(seq 50); do
  curl -fs "http://127.0.0.1:$PORT/" >/dev/null 2>&1 && curl -fs "http://127.0.0.1:$BPORT/" >/dev/null 2>&1 && break
  sleep 0.1
done

# The driver: calls /probe at RATE per second from a thread pool over keep-alive connections,
# 2 s warm-up, then DURATION seconds measured; prints the exporter's CPU per 1000 probes.
cat >"$DIR/drive.py" <<'PY'
import http.client, queue, sys, threading, time
pid, port, module, target, rate, duration = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5]), float(sys.argv[6])
path = "/probe?module=%s&target=%s" % (module, target)
def cpu():
    f = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / 100.0
def rss():
    for l in open("/proc/%s/status" % pid):
        if l.startswith("VmRSS:"):
            return int(l.split()[1]) / 1024.0
work, done = queue.Queue(), []
lock = threading.Lock()
def worker():
    conn = None
    while True:
        item = work.get()
        if item is None:
            return
        ok = False
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", path)
            body = conn.getresponse().read()
            ok = b"\nprobe_success 1" in body
        except Exception:
            conn = None
        with lock:
            done.append((item, ok))
threads = [threading.Thread(target=worker, daemon=True) for _ in range(32)]
for t in threads: t.start()
start = time.monotonic()
warm, end = start + 2.0, start + 2.0 + duration
n, measured_from, c0 = 0, None, None
while True:
    t = start + n / rate
    now = time.monotonic()
    if t >= end:
        break
    if t > now:
        time.sleep(t - now)
    if measured_from is None and t >= warm:
        while not work.empty():
            time.sleep(0.001)
        measured_from, c0 = len(done), cpu()
    work.put(t >= warm)
    n += 1
while not work.empty():
    time.sleep(0.005)
time.sleep(0.5)
c1 = cpu()
measured = [ok for (m, ok) in done[measured_from:] if m]
probes, good = len(measured), sum(measured)
print("blackbox kind=%s probes=%d failures=%d cpu_s=%.3f cpu_per_1000=%.4f rss_mb=%.1f" % (
    module, probes, probes - good, c1 - c0, (c1 - c0) / max(probes, 1) * 1000, rss()))
PY

declare -A BBF SLF
field() { sed -n "s/.*$1=\([0-9.naNin]*\).*/\1/p" | head -1; }
target_of() {
  case $1 in
    http-v4) echo "http://127.0.0.1:$PORT/" ;;
    http-v6) echo "http://%5B::1%5D:$PORT/" ;;
    tcp) echo "127.0.0.1:$PORT" ;;
    icmp) echo "127.0.0.1" ;;
  esac
}

echo "rate ${RATE}/s, ${DURATION}s measured per run, ${ROUNDS} rounds, nginx on 127.0.0.1/::1:$PORT"
for round in $(seq "$ROUNDS"); do
  for kind in $KINDS; do
    b=$(python3 "$DIR/drive.py" "$BB" "$BPORT" "$kind" "$(target_of "$kind")" "$RATE" "$DURATION")
    s=$("$SLOOP" probes --port "$PORT" --rate "$RATE" --duration "$DURATION" --kind "$kind" 2>/dev/null | grep '^probes')
    echo "round $round: $b"
    echo "round $round: $s"
    BBF[$kind]+="$(echo "$b" | field cpu_per_1000) "
    SLF[$kind]+="$(echo "$s" | field cpu_per_1000) "
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "nan"}'; }
echo
printf '%-8s %22s %22s %8s\n' kind "blackbox CPU-s/1000" "sloop CPU-s/1000" ratio
for kind in $KINDS; do
  b=$(echo "${BBF[$kind]}" | median)
  s=$(echo "${SLF[$kind]}" | median)
  r=$(awk -v s="$s" -v b="$b" 'BEGIN { if (b > 0 && s == s + 0) printf "%.3f", s / b; else print "n/a" }')
  printf '%-8s %22s %22s %8s\n' "$kind" "$b" "$s" "$r"
done
echo
echo "blackbox_exporter RSS after the runs: $(awk '/VmRSS/ {printf "%.1f MB", $2/1024}' /proc/$BB/status)"
"$SLOOP" probes --port "$PORT" --duration "$DURATION" --kind targets --targets "$TARGETS" 2>/dev/null | grep '^probes'
